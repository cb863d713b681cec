// The element-wise and matrix-structure strategies. Each is a forward and,
// where one exists, a right_inverse, written with differentiable ops.
#include <Eigen/Cholesky>
#include <cmath>

#include "tether/constraints.h"
#include "tether/error.h"
#include "tether/ops.h"

namespace tether::constraints {

namespace {

/// The inverse of softplus, y + log(1 - exp(-y)), stable for large y.
Tensor inverse_softplus(const Tensor& y) {
  return y + log1p(-exp(-y));
}

Tensor matrix_transpose(const Tensor& x) {
  return transpose(x, -1, -2);
}

void check_matrix(const char* op, const Tensor& x) {
  if (x.dim() < 2)
    fail<ShapeError>(op, ": expected a matrix (or a batch of them), got ", x.shape());
}

/// 1 where row - col >= offset, else 0 (offset 0: lower triangle with diagonal,
/// 1: strictly lower), broadcastable over x's last two dims.
Tensor triangle_mask(const Tensor& x, std::int64_t offset) {
  const TensorOptions options = TensorOptions(DType::i64).with_device(x.device());
  const Tensor rows = arange(static_cast<double>(x.size(-2)), options).reshape({-1, 1});
  const Tensor cols = arange(static_cast<double>(x.size(-1)), options) + offset;
  return ge(rows, cols).to(x.dtype());
}

Tensor diagonal_mask(const Tensor& x) {
  return eye(x.size(-2), x.size(-1), TensorOptions(x.dtype()).with_device(x.device()));
}

/// The slice-wise L2 norm of v over all dims but `dim`, keeping dims.
Tensor norm_except(const Tensor& v, int dim) {
  Dims others;
  for (int i = 0; i < v.dim(); ++i)
    if (i != dim) others.push_back(i);
  return others.empty() ? abs(v) : norm(v, others, true);
}

class WeightNorm final : public Constraint {
 public:
  explicit WeightNorm(std::int64_t dim) : dim_(dim) {}
  std::string name() const override { return "weight_norm"; }
  std::vector<std::string> input_names() const override { return {"g", "v"}; }
  Tensor forward(const std::vector<Tensor>& raw) override {
    const Tensor& v = raw[1];
    return raw[0] * v / norm_except(v, wrap_dim("weight_norm", dim_, v.dim()));
  }
  bool has_right_inverse() const override { return true; }
  std::vector<Tensor> right_inverse(const Tensor& value) const override {
    return {norm_except(value, wrap_dim("weight_norm", dim_, value.dim())), value};
  }

 private:
  std::int64_t dim_;
};

Tensor cholesky_factor_forward(const Tensor& raw) {
  check_matrix("cholesky_factor", raw);
  return raw * triangle_mask(raw, 1) + softplus(raw) * diagonal_mask(raw);
}

Tensor cholesky_factor_inverse(const Tensor& factor) {
  return factor * triangle_mask(factor, 1) +
         inverse_softplus(clamp(factor, 1e-12, std::nullopt)) * diagonal_mask(factor);
}

/// The Cholesky factor of a symmetric positive definite matrix, outside the graph.
Tensor cholesky_of(const Tensor& matrix) {
  if (matrix.dim() != 2 || matrix.size(0) != matrix.size(1))
    fail<ShapeError>("positive_definite: right_inverse expects a square matrix, got ",
                     matrix.shape());
  const std::int64_t n = matrix.size(0);
  const std::vector<double> values = matrix.detach().to_vector<double>();
  const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>
      map(values.data(), n, n);
  const Eigen::LLT<Eigen::MatrixXd> llt(map);
  if (llt.info() != Eigen::Success)
    fail<ValueError>("positive_definite: right_inverse needs a positive definite matrix");
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> lower =
      llt.matrixL();
  return tensor(std::vector<double>(lower.data(), lower.data() + n * n), {n, n},
                TensorOptions(matrix.dtype()).with_device(matrix.device()));
}

}  // namespace

std::shared_ptr<Constraint> positive(PositiveMap map, double lower_bound) {
  if (map == PositiveMap::exp)
    return make_constraint(
        "positive", [lower_bound](const Tensor& raw) { return exp(raw) + lower_bound; },
        [lower_bound](const Tensor& value) { return log(value - lower_bound); });
  return make_constraint(
      "positive", [lower_bound](const Tensor& raw) { return softplus(raw) + lower_bound; },
      [lower_bound](const Tensor& value) { return inverse_softplus(value - lower_bound); });
}

std::shared_ptr<Constraint> bounded(double lo, double hi) {
  if (!(lo < hi)) fail<ValueError>("bounded: expected lo < hi, got ", lo, " and ", hi);
  return make_constraint(
      "bounded", [lo, hi](const Tensor& raw) { return sigmoid(raw) * (hi - lo) + lo; },
      [lo, hi](const Tensor& value) {
        const Tensor p = (value - lo) / (hi - lo);
        return log(p) - log1p(-p);
      });
}

std::shared_ptr<Constraint> simplex(std::int64_t dim) {
  return make_constraint(
      "simplex", [dim](const Tensor& raw) { return softmax(raw, dim); },
      [](const Tensor& value) { return log(value); });
}

std::shared_ptr<Constraint> unit_norm(std::int64_t dim) {
  return make_constraint(
      "unit_norm", [dim](const Tensor& raw) { return normalize(raw, dim); },
      [](const Tensor& value) { return value; });
}

std::shared_ptr<Constraint> weight_norm(std::int64_t dim) {
  return std::make_shared<WeightNorm>(dim);
}

std::shared_ptr<Constraint> symmetric() {
  return make_constraint(
      "symmetric",
      [](const Tensor& raw) {
        check_matrix("symmetric", raw);
        return (raw + matrix_transpose(raw)) * 0.5;
      },
      [](const Tensor& value) { return value; });
}

std::shared_ptr<Constraint> skew_symmetric() {
  return make_constraint(
      "skew_symmetric",
      [](const Tensor& raw) {
        check_matrix("skew_symmetric", raw);
        return (raw - matrix_transpose(raw)) * 0.5;
      },
      [](const Tensor& value) { return value; });
}

std::shared_ptr<Constraint> lower_triangular() {
  return make_constraint(
      "lower_triangular",
      [](const Tensor& raw) {
        check_matrix("lower_triangular", raw);
        return raw * triangle_mask(raw, 0);
      },
      [](const Tensor& value) { return value; });
}

std::shared_ptr<Constraint> cholesky_factor() {
  return make_constraint("cholesky_factor", cholesky_factor_forward, cholesky_factor_inverse);
}

std::shared_ptr<Constraint> positive_definite(double eps) {
  return make_constraint(
      "positive_definite",
      [eps](const Tensor& raw) {
        const Tensor factor = cholesky_factor_forward(raw);
        return matmul(factor, matrix_transpose(factor)) + diagonal_mask(raw) * eps;
      },
      [eps](const Tensor& value) {
        return cholesky_factor_inverse(cholesky_of(value - diagonal_mask(value) * eps));
      });
}

}  // namespace tether::constraints
