// The element-wise and matrix-structure strategies. Each is a forward and,
// where one exists, a right_inverse, written with differentiable ops.
#include <Eigen/QR>
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

void check_matrix(const char* op, const Tensor& x) {
  if (x.dim() < 2)
    fail<ShapeError>(op, ": expected a matrix (or a batch of them), got ", x.shape());
}

Tensor diagonal_mask(const Tensor& x) {
  return eye(x.size(-2), x.size(-1), x.options());
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
  std::vector<Tensor> right_inverse(const Tensor& value) override {
    return {norm_except(value, wrap_dim("weight_norm", dim_, value.dim())), value};
  }

 private:
  std::int64_t dim_;
};

Tensor cholesky_factor_forward(const Tensor& raw) {
  check_matrix("cholesky_factor", raw);
  return tril(raw, -1) + softplus(raw) * diagonal_mask(raw);
}

Tensor cholesky_factor_inverse(const Tensor& factor) {
  return tril(factor, -1) +
         inverse_softplus(clamp(factor, 1e-12, std::nullopt)) * diagonal_mask(factor);
}

using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A copy of a matrix's values in f64, for decompositions outside the graph.
RowMajorMatrix to_eigen(const Tensor& matrix) {
  const std::vector<double> values = matrix.detach().to_vector<double>();
  return Eigen::Map<const RowMajorMatrix>(values.data(), matrix.size(0), matrix.size(1));
}

/// `matrix` as a tensor with the dtype and device of `like`.
Tensor from_eigen(const RowMajorMatrix& matrix, const Tensor& like) {
  return tensor(std::vector<double>(matrix.data(), matrix.data() + matrix.size()),
                {matrix.rows(), matrix.cols()}, like.options());
}

/// The Cholesky factor of a symmetric positive definite matrix, outside the graph.
Tensor cholesky_of(const Tensor& matrix) {
  if (matrix.dim() != 2 || matrix.size(0) != matrix.size(1))
    fail<ShapeError>("positive_definite: right_inverse expects a square matrix, got ",
                     matrix.shape());
  try {
    return cholesky(matrix.detach());
  } catch (const LinAlgError& error) {
    fail<LinAlgError>("positive_definite: right_inverse needs a positive definite matrix (",
                      error.what(), ")");
  }
}

void check_orthogonal_shape(const Tensor& x) {
  if (x.dim() != 2) fail<ShapeError>("orthogonal: expected a matrix [n, k], got ", x.shape());
}

/// A wide matrix [n, k], n < k, is constrained through its transpose, so the
/// work below only sees tall or square matrices.
bool is_wide(const Tensor& x) {
  return x.size(0) < x.size(1);
}
Tensor as_tall(const Tensor& x) {
  return is_wide(x) ? x.mT() : x;
}

/// An orthogonal [n, n] matrix whose first k columns are those of `tall`
/// [n, k] when these are orthonormal (else the orthogonal factor of its QR
/// decomposition). Householder QR gives tall = Q R with Q [n, n]; negating
/// each column i < k of Q where R_ii < 0 makes R's diagonal positive, and
/// then Q's first k columns are tall's own, the other n - k complete them.
Tensor completed_orthogonal(const Tensor& tall) {
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(to_eigen(tall));
  RowMajorMatrix q = qr.householderQ();
  for (Eigen::Index i = 0; i < tall.size(1); ++i)
    if (qr.matrixQR()(i, i) < 0) q.col(i) *= -1.0;
  return from_eigen(q, tall);
}

/// value = (base @ exp(A))[:, :k] for a value [n, k] with n >= k, where A is
/// skew-symmetric: L - L^T, L the strictly lower triangle of raw [n, k] padded
/// with zero columns to [n, n]. The exponential of a skew-symmetric matrix is
/// orthogonal, so every raw gives orthonormal columns; the orthogonal buffer
/// `base` sets where raw = 0 lands. This is the trivialization of PyTorch's
/// parametrizations.orthogonal (Lezcano-Casado and Martinez-Rubio, 2019).
class Orthogonal final : public Constraint {
 public:
  std::string name() const override { return "orthogonal"; }

  Tensor forward(const std::vector<Tensor>& raw) override {
    check_orthogonal_shape(raw[0]);
    const Tensor tall = as_tall(raw[0]);
    const std::int64_t n = tall.size(0), k = tall.size(1);
    if (!base_.defined()) base_ = eye(n, std::nullopt, tall.options());
    if (!(base_.shape() == Shape{n, n}))
      fail<ShapeError>("orthogonal: a raw input of shape ", raw[0].shape(), " needs a base of [", n,
                       ", ", n, "], the buffer has ", base_.shape());
    Tensor lower = tril(tall, -1);
    if (k < n) lower = cat({lower, zeros({n, n - k}, tall.options())}, 1);
    const Tensor q = matmul(base_, narrow(matrix_exp(lower - lower.mT()), 1, 0, k));
    return is_wide(raw[0]) ? q.mT() : q;
  }

  bool has_right_inverse() const override { return true; }
  /// Stores the completion of `value` to an orthogonal matrix in base and
  /// returns raw = 0, for which forward gives base's first columns: `value`.
  std::vector<Tensor> right_inverse(const Tensor& value) override {
    check_orthogonal_shape(value);
    const Tensor base = completed_orthogonal(as_tall(value));
    // Written in place when the shape allows: a new tensor would restart the
    // version counter that tells computed parameters their cache is stale.
    if (base_.defined() && base_.shape() == base.shape())
      base_.copy_(base);
    else
      base_ = base;
    return {zeros_like(value)};
  }

  NamedTensors buffers() override {
    if (!base_.defined()) return {};
    return {{"base", base_}};
  }

 private:
  // Created by the first forward or right_inverse, which know n.
  Tensor base_;
};

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
        return (raw + raw.mT()) * 0.5;
      },
      [](const Tensor& value) { return value; });
}

std::shared_ptr<Constraint> skew_symmetric() {
  return make_constraint(
      "skew_symmetric",
      [](const Tensor& raw) {
        check_matrix("skew_symmetric", raw);
        return (raw - raw.mT()) * 0.5;
      },
      [](const Tensor& value) { return value; });
}

std::shared_ptr<Constraint> lower_triangular() {
  return make_constraint(
      "lower_triangular",
      [](const Tensor& raw) {
        check_matrix("lower_triangular", raw);
        return tril(raw);
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
        return matmul(factor, factor.mT()) + diagonal_mask(raw) * eps;
      },
      [eps](const Tensor& value) {
        return cholesky_factor_inverse(cholesky_of(value - diagonal_mask(value) * eps));
      });
}

std::shared_ptr<Constraint> orthogonal() {
  return std::make_shared<Orthogonal>();
}

}  // namespace tether::constraints
