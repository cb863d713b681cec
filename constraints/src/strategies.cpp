// The element-wise and matrix-structure strategies. Each is a forward and,
// where one exists, a right_inverse, written with differentiable ops, and a
// projection onto its feasible set (outside the graph).
//
// A right_inverse never repairs a value: for one outside the feasible set it
// returns raw inputs that are NaN or infinite, or whose forward misses the
// value, and ComputedParameter reports the worst element.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "arguments.h"
#include "feasibility.h"
#include "slice_norms.h"
#include "tether/backend/host_linalg.h"
#include "tether/constraint_library.h"
#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"

namespace tether::constraints {

namespace {

/// The inverse of softplus, log(exp(y) - 1): NaN for y < 0 and -inf at 0,
/// accurate down to the smallest y (f32's exp(-y) rounds to 1 below 6e-8,
/// where the textbook y + log1p(-exp(-y)) gives -inf), and written as that
/// above 1, where exp(y) would overflow.
Tensor inverse_softplus(const Tensor& y) {
  return where(y > 1.0, y + log1p(-exp(-y)), log(expm1(y)));
}

/// How far (relative) ValuePolicy::nearest stays inside an open boundary.
double margin(const Tensor& value) {
  return detail::feasibility_tolerance(value.dtype());
}

void check_matrix(const char* op, const Tensor& x) {
  if (x.dim() < 2)
    fail<ShapeError>(op, ": expected a matrix (or a batch of them), got ", x.shape());
}

void check_square(const char* op, const Tensor& x) {
  check_matrix(op, x);
  if (x.size(-1) != x.size(-2))
    fail<ShapeError>(op, ": expected a square matrix (or a batch of them), got ", x.shape());
}

/// A constraint onto a linear subspace of matrices, the image of the
/// idempotent `part`: forward and project apply it (after `check`, which
/// names the constraint), and a feasible value is its own raw input.
std::shared_ptr<Constraint> linear_subspace(const char* name, const char* condition,
                                            void (*check)(const char*, const Tensor&),
                                            Tensor (*part)(const Tensor&)) {
  const auto checked_part = [name, check, part](const Tensor& x) {
    check(name, x);
    return part(x);
  };
  return make_constraint(name, {.forward = checked_part,
                                .right_inverse = [](const Tensor& value) { return value; },
                                .condition = condition,
                                .project = checked_part});
}

Tensor diagonal_mask(const Tensor& x) {
  return eye(x.size(-2), x.size(-1), x.options());
}

class WeightNorm final : public Constraint {
 public:
  /// normalize's eps.
  static constexpr double kEps = 1e-12;

  explicit WeightNorm(std::int64_t dim) : dim_(dim) {}
  std::string name() const override { return "weight_norm"; }
  std::string condition() const override { return "finite values"; }
  std::vector<std::string> input_names() const override { return {"g", "v"}; }
  /// g * v / max(||v||, eps) per slice: as in normalize, a zero v (an
  /// optimizer step, ValuePolicy::as_raw of a zero weight) gives zero, not 0 / 0.
  Tensor forward(const std::vector<Tensor>& raw) override {
    const auto& inputs = detail::checked_raw_inputs(name(), raw, 2);
    const Tensor& g = inputs[0];
    const Tensor& v = inputs[1];
    const Tensor norm = detail::slice_norms("weight_norm", v, dim_);
    return g * v / clamp(norm, kEps, std::nullopt);
  }
  bool has_right_inverse() const override { return true; }
  /// g = the slice norms, v = value; a zero slice gets v = 1 (g = 0 keeps it
  /// zero), where v = 0 would give 0 / 0.
  std::vector<Tensor> right_inverse(const Tensor& value) override {
    const Tensor g = detail::slice_norms("weight_norm", value, dim_);
    return {g, value + (g <= 0.0)};
  }
  /// Every finite value is feasible.
  Tensor project(const Tensor& value) override { return value; }

 private:
  std::int64_t dim_;
};

Tensor cholesky_factor_forward(const Tensor& raw) {
  check_matrix("cholesky_factor", raw);
  return tril(raw, -1) + softplus(raw) * diagonal_mask(raw);
}

/// inverse_softplus of the diagonal only: the zeros above it would give -inf,
/// and -inf * 0 is NaN. A diagonal that is not positive gives NaN or -inf.
Tensor cholesky_factor_inverse(const Tensor& factor) {
  const Tensor mask = diagonal_mask(factor);
  return tril(factor, -1) + inverse_softplus(factor * mask + (1.0 - mask)) * mask;
}

/// The lower triangle with its diagonal raised to at least the margin.
Tensor cholesky_factor_project(const Tensor& value) {
  check_matrix("cholesky_factor", value);
  const Tensor mask = diagonal_mask(value);
  return tril(value, -1) + clamp(value, margin(value), std::nullopt) * mask;
}

/// The nearest symmetric matrix with eigenvalues >= eps (Frobenius norm):
/// the symmetric part with its eigenvalues raised to eps, plus the margin.
Tensor nearest_positive_definite(const Tensor& value, double eps) {
  if (value.dim() != 2 || value.size(0) != value.size(1))
    fail<ShapeError>("positive_definite: project expects a square matrix, got ", value.shape());
  return backend::host::map_symmetric_eigenvalues(value, [&](std::vector<double> eigenvalues) {
    double largest = 1.0;
    for (const double w : eigenvalues) largest = std::max(largest, std::abs(w));
    const double floor = eps + margin(value) * largest;
    for (double& w : eigenvalues) w = std::max(w, floor);
    return eigenvalues;
  });
}

/// The Cholesky factor of a symmetric positive definite matrix, outside the graph.
Tensor cholesky_of(const Tensor& matrix) {
  if (matrix.dim() != 2 || matrix.size(0) != matrix.size(1))
    fail<ShapeError>("positive_definite: right_inverse expects a square matrix, got ",
                     matrix.shape());
  return cholesky(matrix.detach());
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

/// The nearest point (Euclidean) to each slice of `value` along `dim` among
/// vectors summing to 1 whose elements are at least margin / n: the sort-based
/// projection onto the simplex (Held, Wolfe and Crowder, 1974), shifted by
/// that floor. A slice holding NaN or infinity becomes NaN.
Tensor nearest_on_simplex(const Tensor& value, std::int64_t dim) {
  const int d = wrap_dim("simplex", dim, value.dim());
  const Tensor moved = transpose(value.detach(), d, -1).contiguous();
  const std::int64_t n = moved.size(-1);
  std::vector<double> x = moved.to_vector<double>();
  const double floor = margin(value) / static_cast<double>(n), total = 1 - floor * n;
  for (auto slice = x.begin(); slice != x.end(); slice += n) {
    std::vector<double> sorted(slice, slice + n);
    if (!std::all_of(sorted.begin(), sorted.end(), [](double v) { return std::isfinite(v); })) {
      std::fill(slice, slice + n, std::nan(""));
      continue;
    }
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    // theta: the shift after which the parts above the floor sum to total.
    double cumulative = 0, theta = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      cumulative += sorted[j] - floor;
      const double candidate = (cumulative - total) / static_cast<double>(j + 1);
      if (sorted[j] - floor > candidate) theta = candidate;
    }
    for (auto element = slice; element != slice + n; ++element)
      *element = std::max(*element - floor - theta, 0.0) + floor;
  }
  return transpose(tensor(x, moved.shape(), value.options()), d, -1);
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
  std::string condition() const override {
    return "matrices with orthonormal columns (rows when wide)";
  }

  Tensor forward(const std::vector<Tensor>& raw) override {
    const Tensor& x = detail::single_raw_input(name(), raw);
    check_orthogonal_shape(x);
    const Tensor tall = as_tall(x);
    const std::int64_t n = tall.size(0), k = tall.size(1);
    prepare(raw);
    if (!(base_.shape() == Shape{n, n}))
      fail<ShapeError>("orthogonal: a raw input of shape ", x.shape(), " needs a base of [", n,
                       ", ", n, "], the buffer has ", base_.shape());
    Tensor lower = tril(tall, -1);
    if (k < n) lower = cat({lower, zeros({n, n - k}, tall.options())}, 1);
    const Tensor q = matmul(base_, narrow(matrix_exp(lower - lower.mT()), 1, 0, k));
    return is_wide(x) ? q.mT() : q;
  }

  bool has_right_inverse() const override { return true; }
  /// Stores the completion of `value` to an orthogonal matrix in base and
  /// returns raw = 0, for which forward gives base's first columns: `value`.
  /// Throws detail::Infeasible, base untouched, unless those columns are
  /// `value`'s (within rounding): only then is `value` orthonormal.
  std::vector<Tensor> right_inverse(const Tensor& value) override {
    check_orthogonal_shape(value);
    const Tensor tall = as_tall(value);
    const Tensor base = backend::host::completed_orthogonal(tall);
    const Tensor columns = narrow(base, 1, 0, tall.size(1));
    const std::string miss =
        detail::miss_report(*this, value, is_wide(value) ? columns.mT() : columns, {});
    if (!miss.empty()) throw detail::Infeasible(miss);
    // Written in place when the shape allows: a new tensor would restart the
    // version counter that tells computed parameters their cache is stale.
    if (base_.defined() && base_.shape() == base.shape())
      base_.copy_(base);
    else
      base_ = base;
    return {zeros_like(value)};
  }

  /// base starts as the identity, m x m for m = max(n, k).
  void prepare(const std::vector<Tensor>& raw) override {
    const Tensor& x = detail::single_raw_input(name(), raw);
    check_orthogonal_shape(x);
    const Tensor tall = as_tall(x);
    if (!base_.defined()) base_ = eye(tall.size(0), std::nullopt, tall.options());
  }

  Tensor project(const Tensor& value) override {
    check_orthogonal_shape(value);
    const Tensor q = backend::host::polar_factor(as_tall(value));
    return is_wide(value) ? q.mT().contiguous() : q;
  }

  NamedTensors buffers() override {
    if (!base_.defined()) return {};
    return {{"base", base_}};
  }

 private:
  // Created by prepare, the first forward or right_inverse, which know n.
  Tensor base_;
};

}  // namespace

std::shared_ptr<Constraint> positive(PositiveMap map, double lower_bound) {
  detail::check_finite("positive", "lower_bound", lower_bound);
  const auto project = [lower_bound](const Tensor& value) {
    return clamp(value, lower_bound + margin(value) * std::max(1.0, std::abs(lower_bound)),
                 std::nullopt);
  };
  const std::string condition = detail::concat("values > ", lower_bound);
  if (map == PositiveMap::exp)
    return make_constraint(
        "positive",
        {.forward = [lower_bound](const Tensor& raw) { return exp(raw) + lower_bound; },
         .right_inverse = [lower_bound](const Tensor& value) { return log(value - lower_bound); },
         .condition = condition,
         .project = project,
         // d exp(raw) / d raw = exp(raw), so log|J| = raw (torch's ExpTransform).
         .log_abs_det_jacobian = [](const Tensor& raw, const Tensor&) { return raw; }});
  return make_constraint(
      "positive",
      {.forward = [lower_bound](const Tensor& raw) { return softplus(raw) + lower_bound; },
       .right_inverse =
           [lower_bound](const Tensor& value) { return inverse_softplus(value - lower_bound); },
       .condition = condition,
       .project = project,
       // softplus' = sigmoid, and log sigmoid(raw) = -softplus(-raw) stays
       // finite far below zero, where sigmoid underflows (SoftplusTransform).
       .log_abs_det_jacobian = [](const Tensor& raw, const Tensor&) { return -softplus(-raw); }});
}

std::shared_ptr<Constraint> bounded(double lo, double hi) {
  detail::check_finite("bounded", "lo", lo);
  detail::check_finite("bounded", "hi", hi);
  // hi - lo must be finite too: the forward scales by it.
  detail::check_positive("bounded", "hi - lo", hi - lo);
  return make_constraint(
      "bounded", {.forward = [lo, hi](const Tensor& raw) { return sigmoid(raw) * (hi - lo) + lo; },
                  .right_inverse =
                      [lo, hi](const Tensor& value) {
                        const Tensor p = (value - lo) / (hi - lo);
                        return log(p) - log1p(-p);
                      },
                  .condition = detail::concat("values in (", lo, ", ", hi, ")"),
                  .project =
                      [lo, hi](const Tensor& value) {
                        const double inside = margin(value) * (hi - lo);
                        return clamp(value, lo + inside, hi - inside);
                      },
                  // sigmoid' = sigmoid(raw) sigmoid(-raw), in logs from raw
                  // (torch's SigmoidTransform then AffineTransform): finite
                  // where the value rounds onto lo or hi.
                  .log_abs_det_jacobian =
                      [lo, hi](const Tensor& raw, const Tensor&) {
                        return -softplus(-raw) - softplus(raw) + std::log(hi - lo);
                      }});
}

std::shared_ptr<Constraint> simplex(std::int64_t dim) {
  return make_constraint(
      "simplex",
      {.forward = [dim](const Tensor& raw) { return softmax(raw, dim); },
       .right_inverse = [](const Tensor& value) { return log(value); },
       .condition = detail::concat("slices along dim ", dim, " of positive values summing to 1"),
       .project = [dim](const Tensor& value) { return nearest_on_simplex(value, dim); }});
}

std::shared_ptr<Constraint> unit_norm(std::int64_t dim) {
  // Dividing by the norm is the identity on the feasible set, gives NaN for a
  // zero slice (which normalize() would keep at zero) and is the projection.
  const auto divide_by_norm = [dim](const Tensor& value) {
    return value / norm(value, {wrap_dim("unit_norm", dim, value.dim())}, true);
  };
  return make_constraint("unit_norm",
                         {.forward = [dim](const Tensor& raw) { return normalize(raw, dim); },
                          .right_inverse = divide_by_norm,
                          .condition = detail::concat("slices of unit L2 norm along dim ", dim),
                          .project = divide_by_norm});
}

std::shared_ptr<Constraint> weight_norm(std::int64_t dim) {
  return std::make_shared<WeightNorm>(dim);
}

std::shared_ptr<Constraint> symmetric() {
  return linear_subspace("symmetric", "symmetric matrices", check_square,
                         [](const Tensor& x) { return (x + x.mT()) * 0.5; });
}

std::shared_ptr<Constraint> skew_symmetric() {
  return linear_subspace("skew_symmetric", "skew-symmetric matrices", check_square,
                         [](const Tensor& x) { return (x - x.mT()) * 0.5; });
}

std::shared_ptr<Constraint> lower_triangular() {
  return linear_subspace("lower_triangular", "lower-triangular matrices", check_matrix,
                         [](const Tensor& x) { return tril(x); });
}

std::shared_ptr<Constraint> cholesky_factor() {
  return make_constraint("cholesky_factor",
                         {.forward = cholesky_factor_forward,
                          .right_inverse = cholesky_factor_inverse,
                          .condition = "lower-triangular matrices with a positive diagonal",
                          .project = cholesky_factor_project});
}

std::shared_ptr<Constraint> positive_definite(double eps) {
  detail::check_finite("positive_definite", "eps", eps);
  if (eps < 0) fail<ValueError>("positive_definite: expected eps >= 0, got ", eps);
  return make_constraint(
      "positive_definite",
      {.forward =
           [eps](const Tensor& raw) {
             check_square("positive_definite", raw);
             const Tensor factor = cholesky_factor_forward(raw);
             return matmul(factor, factor.mT()) + diagonal_mask(raw) * eps;
           },
       .right_inverse =
           [eps](const Tensor& value) {
             return cholesky_factor_inverse(cholesky_of(value - diagonal_mask(value) * eps));
           },
       .condition = detail::concat("symmetric matrices with eigenvalues > ", eps),
       .project = [eps](const Tensor& value) { return nearest_positive_definite(value, eps); }});
}

std::shared_ptr<Constraint> orthogonal() {
  return std::make_shared<Orthogonal>();
}

}  // namespace tether::constraints
