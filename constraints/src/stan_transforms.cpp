// Stan's constraint transforms, following the Stan Reference Manual's
// "Constraint Transforms" chapter (section names quoted below). Each forward
// and log-det-Jacobian is written with differentiable ops, so gradients and
// second derivatives reach the raw inputs; right_inverse and project run
// outside the graph.
//
// Prefix sums (which stick-breaking, ordered vectors and the Cholesky
// correlation factor need) are cumsum's. Stick-breaking works in log space,
// so that f32 raw inputs of +-30 give values that underflow to 0 rather than
// NaN.
//
// A right_inverse never repairs a value: for one outside the feasible set it
// returns raw inputs that are NaN or whose forward misses the value, and
// ComputedParameter reports the worst element.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "arguments.h"
#include "feasibility.h"
#include "tether/constraint_library.h"
#include "tether/error.h"
#include "tether/ops.h"

namespace tether::constraints {

namespace {

/// What one transform is made of; forward, inverse and log_det take and give
/// the single raw input.
struct Transform {
  std::string name;
  std::string condition;
  std::int64_t event_dim = 0;
  std::function<Tensor(const Tensor&)> forward;
  std::function<Tensor(const Tensor&)> inverse;
  std::function<Tensor(const Tensor& raw, const Tensor& value)> log_det;
  /// Empty where no nearest value is cheap.
  std::function<Tensor(const Tensor&)> project = {};
  bool bijection = true;
};

class StanTransform final : public Constraint {
 public:
  explicit StanTransform(Transform transform) : t_(std::move(transform)) {}
  std::string name() const override { return t_.name; }
  std::string condition() const override { return t_.condition; }
  Tensor forward(const std::vector<Tensor>& raw) override {
    return t_.forward(detail::single_raw_input(t_.name, raw));
  }
  bool has_right_inverse() const override { return true; }
  std::vector<Tensor> right_inverse(const Tensor& value) override { return {t_.inverse(value)}; }
  Tensor project(const Tensor& value) override {
    return t_.project ? t_.project(value) : Constraint::project(value);
  }
  bool is_bijection() const override { return t_.bijection; }
  std::int64_t event_dim() const override { return t_.event_dim; }
  Tensor log_abs_det_jacobian(const std::vector<Tensor>& raw, const Tensor& value) override {
    return t_.log_det(detail::single_raw_input(t_.name, raw), value);
  }

 private:
  Transform t_;
};

std::shared_ptr<Constraint> make(Transform transform) {
  return std::make_shared<StanTransform>(std::move(transform));
}

/// How far (relative) ValuePolicy::nearest stays inside an open boundary.
double margin(const Tensor& value) {
  return detail::feasibility_tolerance(value.dtype());
}

/// A [rows, cols] matrix of entry(j, k), in `like`'s dtype and device.
Tensor table(std::int64_t rows, std::int64_t cols,
             const std::function<double(std::int64_t, std::int64_t)>& entry, const Tensor& like) {
  std::vector<double> values;
  values.reserve(static_cast<std::size_t>(rows * cols));
  for (std::int64_t j = 0; j < rows; ++j)
    for (std::int64_t k = 0; k < cols; ++k) values.push_back(entry(j, k));
  return tensor(values, {rows, cols}, like.options());
}

/// out_k = x_0 + ... + x_{k-1} along the last dim, for k < length (at most
/// one more than x's): 0, then cumsum's first length - 1.
Tensor exclusive_prefix_sums(const Tensor& x, std::int64_t length) {
  Shape first = x.shape();
  first.back() = 1;
  const Tensor sums = cat({zeros(first, x.options()), cumsum(x, -1)}, -1);
  return narrow(sums, -1, 0, length);
}

void check_vector(const std::string& name, const Tensor& x, std::int64_t at_least) {
  if (x.dim() < 1 || x.size(-1) < at_least)
    fail<ShapeError>(name, ": expected a vector (or a batch of them) of at least ", at_least,
                     " elements, got ", x.shape());
}

void check_matrix(const std::string& name, const Tensor& x) {
  if (x.dim() < 2)
    fail<ShapeError>(name, ": expected a matrix (or a batch of them), got ", x.shape());
}

// --- "Lower and upper bounded scalar" -----------------------------------------

/// bound + sign exp(raw); sign -1 bounds from above. log|J| = raw.
std::shared_ptr<Constraint> one_sided(const char* name, double bound, double sign) {
  detail::check_finite(name, sign > 0 ? "lo" : "hi", bound);
  return make({.name = name,
               .condition = detail::concat(sign > 0 ? "values > " : "values < ", bound),
               .forward = [=](const Tensor& raw) { return exp(raw) * sign + bound; },
               .inverse = [=](const Tensor& value) { return log((value - bound) * sign); },
               .log_det = [](const Tensor& raw, const Tensor&) { return raw; },
               .project =
                   [=](const Tensor& value) {
                     const double inside =
                         bound + sign * margin(value) * std::max(1.0, std::abs(bound));
                     return sign > 0 ? clamp(value, inside, std::nullopt)
                                     : clamp(value, std::nullopt, inside);
                   }});
}

// --- "Unit simplex" -----------------------------------------------------------

/// log(n - k) for k = 0 .. n-1: Stan's offset log(K - k) (k from 1, K = n + 1),
/// which makes raw = 0 the uniform simplex.
Tensor stick_offsets(const Tensor& like) {
  const std::int64_t n = like.size(-1);
  std::vector<double> offsets;
  for (std::int64_t k = 0; k < n; ++k) offsets.push_back(std::log(static_cast<double>(n - k)));
  return tensor(offsets, {n}, like.options());
}

/// log z and log(1 - z) for the break fractions z = sigmoid(raw - offset),
/// as -softplus(-x) and -softplus(x): finite for any finite raw.
struct Breaks {
  Tensor log_z, log_rest;
  explicit Breaks(const Tensor& raw) {
    const Tensor x = raw - stick_offsets(raw);
    log_z = -softplus(-x);
    log_rest = -softplus(x);
  }
};

/// Stick-breaking along the last dim, [..., n] to [..., n + 1]: log value_k =
/// log z_k + sum_{j<k} log(1 - z_j), and the last is what all breaks leave.
Tensor stick_breaking(const Tensor& raw) {
  const Breaks b(raw);
  const std::int64_t n = raw.size(-1);
  const Tensor last = zeros_like(narrow(b.log_z, -1, 0, 1));
  return exp(cat({b.log_z, last}, -1) + exclusive_prefix_sums(b.log_rest, n + 1));
}

/// Per vector: sum_k log z_k + log(1 - z_k) + log(stick left before k), the
/// log-determinant of the triangular Jacobian onto the first n coordinates
/// (Stan's; torch's StickBreakingTransform.log_abs_det_jacobian in log space).
Tensor stick_breaking_log_det(const Tensor& raw) {
  const Breaks b(raw);
  return sum(b.log_z + b.log_rest + exclusive_prefix_sums(b.log_rest, raw.size(-1)), {-1});
}

/// raw_k = logit(z_k) + offset_k, z_k = value_k / (stick left before k), so
/// logit(z_k) = log value_k - log(value_{k+1} + ... + value_K): the suffix sum,
/// more accurate than 1 - the prefix sum.
Tensor stick_breaking_inverse(const Tensor& value) {
  const std::int64_t n = value.size(-1) - 1;
  const Tensor after = narrow(flip(cumsum(flip(value, {-1}), -1), {-1}), -1, 1, n);
  return log(narrow(value, -1, 0, n)) - log(after) + stick_offsets(after);
}

/// Along the last dim of a matrix; nearest as simplex()'s, rows or columns.
std::shared_ptr<Constraint> stochastic(const char* name, const char* condition, bool rows) {
  const auto along = [rows](const Tensor& x) { return rows ? x : transpose(x, -2, -1); };
  const std::string op = name;
  return make(
      {.name = name,
       .condition = condition,
       .event_dim = 2,
       .forward =
           [=](const Tensor& raw) {
             check_matrix(op, raw);
             return along(stick_breaking(along(raw)));
           },
       .inverse =
           [=](const Tensor& value) {
             check_matrix(op, value);
             return along(stick_breaking_inverse(along(value)));
           },
       .log_det = [=](const Tensor& raw,
                      const Tensor&) { return sum(stick_breaking_log_det(along(raw)), {-1}); },
       .project = [rows](const Tensor& value) { return simplex(rows ? -1 : -2)->project(value); }});
}

// --- "Ordered vector" and "positive ordered vector" ---------------------------

/// The nearest (Euclidean) slice along the last dim whose steps are at least
/// a margin (and, when `positive`, whose first element is): with z_k = x_k -
/// k margin that is the nearest non-decreasing z, isotonic regression by the
/// pool-adjacent-violators algorithm (Barlow et al., 1972), raised to the
/// margin when positive (clamping the isotonic fit solves the bounded
/// problem), shifted back. A slice holding NaN or infinity becomes NaN.
Tensor nearest_increasing(const Tensor& value, bool positive) {
  const Tensor x = value.detach().contiguous();
  const std::int64_t n = x.size(-1);
  std::vector<double> values = x.to_vector<double>();
  double largest = 1;
  for (const double v : values) largest = std::max(largest, std::abs(v));
  const double step = margin(value) * largest;
  for (auto slice = values.begin(); slice != values.end(); slice += n) {
    if (!std::all_of(slice, slice + n, [](double v) { return std::isfinite(v); })) {
      std::fill(slice, slice + n, std::nan(""));
      continue;
    }
    // Pooled runs of elements, their means non-decreasing.
    struct Block {
      double mean, size;
    };
    std::vector<Block> blocks;
    for (std::int64_t k = 0; k < n; ++k) {
      blocks.push_back({slice[k] - static_cast<double>(k) * step, 1});
      while (blocks.size() > 1 && blocks[blocks.size() - 2].mean > blocks.back().mean) {
        const Block last = blocks.back();
        blocks.pop_back();
        Block& merged = blocks.back();
        merged.mean =
            (merged.mean * merged.size + last.mean * last.size) / (merged.size + last.size);
        merged.size += last.size;
      }
    }
    auto element = slice;
    for (const Block& block : blocks)
      for (double i = 0; i < block.size; ++i, ++element) {
        const double z = positive ? std::max(block.mean, step) : block.mean;
        *element = z + static_cast<double>(element - slice) * step;
      }
  }
  return tensor(values, x.shape(), value.options());
}

/// value = prefix sums of (raw_1 or exp(raw_1), exp(raw_2), ...).
std::shared_ptr<Constraint> increasing(const char* name, const char* condition, bool positive) {
  const std::string op = name;
  // How many leading raw entries are taken as they are (not through exp).
  const std::int64_t kept = positive ? 0 : 1;
  return make(
      {.name = name,
       .condition = condition,
       .event_dim = 1,
       .forward =
           [=](const Tensor& raw) {
             check_vector(op, raw, 1);
             const std::int64_t n = raw.size(-1);
             if (kept == 0) return cumsum(exp(raw), -1);
             return cumsum(cat({narrow(raw, -1, 0, 1), exp(narrow(raw, -1, 1, n - 1))}, -1), -1);
           },
       .inverse =
           [=](const Tensor& value) {
             check_vector(op, value, 1);
             const std::int64_t n = value.size(-1);
             const Tensor steps = cat({narrow(value, -1, 0, 1),
                                       narrow(value, -1, 1, n - 1) - narrow(value, -1, 0, n - 1)},
                                      -1);
             if (kept == 0) return log(steps);
             return cat({narrow(steps, -1, 0, 1), log(narrow(steps, -1, 1, n - 1))}, -1);
           },
       .log_det =
           [=](const Tensor& raw, const Tensor&) {
             return sum(narrow(raw, -1, kept, raw.size(-1) - kept), {-1});
           },
       .project =
           [=](const Tensor& value) {
             check_vector(op, value, 1);
             return nearest_increasing(value, positive);
           }});
}

// --- "Cholesky factors of correlation matrices", "Correlation matrices",
//     "Covariance matrices" ------------------------------------------------------

/// K with m = K(K-1)/2 (strict lower triangle) or K(K+1)/2 (with the diagonal);
/// ShapeError naming `op` for any other length.
std::int64_t side_of(const std::string& op, const Tensor& raw, bool with_diagonal) {
  // Without the diagonal, 0 elements make a 1 x 1 factor (torch's CorrCholeskyTransform gives
  // [[1]]).
  check_vector(op, raw, with_diagonal ? 1 : 0);
  const std::int64_t m = raw.size(-1);
  const std::int64_t k = static_cast<std::int64_t>(std::llround((std::sqrt(8.0 * m + 1) - 1) / 2));
  if (k * (k + 1) / 2 != m)
    fail<ShapeError>(op, ": expected a raw vector of K(K", with_diagonal ? "+" : "-",
                     "1)/2 elements (a triangular number), got ", raw.shape());
  return with_diagonal ? k : k + 1;
}

bool in_triangle(std::int64_t i, std::int64_t j, bool with_diagonal) {
  return with_diagonal ? j <= i : j < i;
}

/// The flat positions (i K + j) of a K x K lower triangle, row by row, as
/// Stan and torch's vec_to_tril_matrix order it.
std::vector<double> triangle_positions(std::int64_t side, bool with_diagonal) {
  std::vector<double> positions;
  for (std::int64_t i = 0; i < side; ++i)
    for (std::int64_t j = 0; j < side; ++j)
      if (in_triangle(i, j, with_diagonal)) positions.push_back(static_cast<double>(i * side + j));
  return positions;
}

/// [..., K, K] from [..., K * K].
Tensor as_matrices(const Tensor& flat, std::int64_t side) {
  Shape shape = flat.shape();
  shape.back() = side;
  shape.push_back(side);
  return reshape(flat, shape);
}

/// raw [..., m] placed row by row into the lower triangle of [..., K, K],
/// zeros elsewhere: a gather from raw with a zero put in front.
Tensor fill_lower(const Tensor& raw, std::int64_t side, bool with_diagonal) {
  std::vector<double> source(static_cast<std::size_t>(side * side), 0.0);
  const std::vector<double> positions = triangle_positions(side, with_diagonal);
  for (std::size_t r = 0; r < positions.size(); ++r)
    source[static_cast<std::size_t>(positions[r])] = static_cast<double>(r + 1);
  Shape zero_shape = raw.shape();
  zero_shape.back() = 1;
  const Tensor padded = cat({zeros(zero_shape, raw.options()), raw}, -1);
  return as_matrices(
      index_select(padded, raw.dim() - 1, tensor(source, raw.options().with_dtype(DType::i64))),
      side);
}

/// The inverse of fill_lower: the triangle's entries, row by row.
Tensor lower_entries(const Tensor& matrix, bool with_diagonal) {
  const std::int64_t side = matrix.size(-1);
  Shape shape = matrix.shape();
  shape.pop_back();
  shape.back() = side * side;
  return index_select(
      reshape(matrix, shape), matrix.dim() - 2,
      tensor(triangle_positions(side, with_diagonal), matrix.options().with_dtype(DType::i64)));
}

/// The partial correlations tanh(raw) in the strict lower triangle, and the
/// log of the squared norm each row has left before each column:
/// log_left_ij = sum_{k<j} log(1 - z_ik^2). L_ij = z_ij sqrt(left_ij) below
/// the diagonal and sqrt(left_ii) on it.
struct PartialCorrelations {
  Tensor z, log_left;
  PartialCorrelations(const std::string& op, const Tensor& raw) {
    const std::int64_t side = side_of(op, raw, false);
    // As CorrCholeskyTransform: |z| < 1 in rounding too, so that tanh(30) in
    // f32 leaves a row some norm (and its gradient finite).
    const double bound = 1 - (raw.dtype() == DType::f32 ? std::numeric_limits<float>::epsilon()
                                                        : std::numeric_limits<double>::epsilon());
    z = fill_lower(clamp(tanh(raw), -bound, bound), side, false);
    log_left = exclusive_prefix_sums(log1p(-z * z), side);
  }
  Tensor factor() const {
    return (z + eye(z.size(-1), std::nullopt, z.options())) * exp(log_left * 0.5);
  }
  /// sum over the strict lower triangle of log sqrt(left_ij) (dL_ij/dz_ij)
  /// plus sum_j weight_j log L_jj, and log(1 - tanh(raw)^2) =
  /// 2 (log 2 - raw - softplus(-2 raw)) per raw entry.
  Tensor log_det(const Tensor& raw,
                 const std::function<double(std::int64_t)>& diagonal_weight) const {
    const std::int64_t side = z.size(-1);
    const auto weight = [&](std::int64_t i, std::int64_t j) {
      if (j < i) return 0.5;
      return i == j ? 0.5 * diagonal_weight(i) : 0.0;
    };
    const Tensor weights = table(side, side, weight, z);
    const Tensor tanh_part = sum((std::log(2.0) - raw - softplus(raw * -2.0)) * 2.0, {-1});
    return sum(log_left * weights, {-2, -1}) + tanh_part;
  }
};

/// atanh of the partial correlations of a factor: L_ij / sqrt(1 - sum_{k<j} L_ik^2).
Tensor cholesky_corr_inverse(const Tensor& factor) {
  check_matrix("cholesky_corr", factor);
  const Tensor below = lower_entries(tril(factor, -1), false);
  const Tensor left =
      lower_entries(1.0 - exclusive_prefix_sums(factor * factor, factor.size(-1)), false);
  const Tensor t = below / sqrt(left);
  return (log1p(t) - log1p(-t)) * 0.5;
}

/// The Helmert basis V [K, K - 1] of Stan's sum_to_zero_constrain: column i
/// (from 1) is 1/sqrt(i(i+1)) in its first i rows and -i/sqrt(i(i+1)) in row i.
Tensor helmert_basis(std::int64_t n, const Tensor& like) {
  const auto entry = [](std::int64_t row, std::int64_t column) {
    const double i = static_cast<double>(column + 1), w = 1 / std::sqrt(i * (i + 1));
    return row < column + 1 ? w : row == column + 1 ? -i * w : 0.0;
  };
  return table(n + 1, n, entry, like);
}

}  // namespace

std::shared_ptr<Constraint> lower_bounded(double lo) {
  return one_sided("lower_bounded", lo, 1.0);
}

std::shared_ptr<Constraint> upper_bounded(double hi) {
  return one_sided("upper_bounded", hi, -1.0);
}

std::shared_ptr<Constraint> stick_breaking_simplex() {
  return make(
      {.name = "stick_breaking_simplex",
       .condition = "vectors of positive values summing to 1",
       .event_dim = 1,
       .forward =
           [](const Tensor& raw) {
             check_vector("stick_breaking_simplex", raw, 1);
             return stick_breaking(raw);
           },
       .inverse =
           [](const Tensor& value) {
             check_vector("stick_breaking_simplex", value, 2);
             return stick_breaking_inverse(value);
           },
       .log_det = [](const Tensor& raw, const Tensor&) { return stick_breaking_log_det(raw); },
       .project = [](const Tensor& value) { return simplex(-1)->project(value); }});
}

std::shared_ptr<Constraint> ordered() {
  return increasing("ordered", "strictly increasing vectors", false);
}

std::shared_ptr<Constraint> positive_ordered() {
  return increasing("positive_ordered", "strictly increasing vectors of positive values", true);
}

std::shared_ptr<Constraint> cholesky_corr() {
  return make(
      {.name = "cholesky_corr",
       .condition = "lower-triangular matrices with unit-norm rows and a positive diagonal",
       .event_dim = 2,
       .forward =
           [](const Tensor& raw) { return PartialCorrelations("cholesky_corr", raw).factor(); },
       .inverse = cholesky_corr_inverse,
       .log_det =
           [](const Tensor& raw, const Tensor&) {
             return PartialCorrelations("cholesky_corr", raw).log_det(raw, [](auto) {
               return 0.0;
             });
           }});
}

std::shared_ptr<Constraint> correlation_matrix() {
  return make(
      {.name = "correlation_matrix",
       .condition = "correlation matrices (symmetric positive definite with a unit diagonal)",
       .event_dim = 2,
       .forward =
           [](const Tensor& raw) {
             const Tensor l = PartialCorrelations("correlation_matrix", raw).factor();
             return matmul(l, l.mT());
           },
       .inverse =
           [](const Tensor& value) {
             check_matrix("correlation_matrix", value);
             return cholesky_corr_inverse(cholesky(value.detach()));
           },
       // C_ij = sum_{k<=j} L_ik L_jk for i > j: ordered row by row, J is
       // triangular with dC_ij/dL_ij = L_jj, so log L_jj counts once for
       // each of the K - 1 - j rows below j.
       .log_det =
           [](const Tensor& raw, const Tensor&) {
             const PartialCorrelations p("correlation_matrix", raw);
             const std::int64_t side = p.z.size(-1);
             return p.log_det(raw, [side](auto j) { return static_cast<double>(side - 1 - j); });
           }});
}

std::shared_ptr<Constraint> covariance() {
  return make(
      {.name = "covariance",
       .condition = "symmetric positive definite matrices",
       .event_dim = 2,
       .forward =
           [](const Tensor& raw) {
             const Tensor filled = fill_lower(raw, side_of("covariance", raw, true), true);
             const Tensor diagonal = eye(filled.size(-1), std::nullopt, filled.options());
             // exp of the diagonal only: off it, exp of a large raw would be
             // inf, and inf * 0 NaN.
             const Tensor l = tril(filled, -1) + exp(filled * diagonal) * diagonal;
             return matmul(l, l.mT());
           },
       .inverse =
           [](const Tensor& value) {
             check_matrix("covariance", value);
             const Tensor l = cholesky(value.detach());
             const Tensor diagonal = eye(l.size(-1), std::nullopt, l.options());
             return lower_entries(tril(l, -1) + log(l * diagonal + (1.0 - diagonal)) * diagonal,
                                  true);
           },
       // The Jacobian of L -> L L^T is 2^K prod_k L_kk^(K-k+1), and each
       // L_kk = exp(raw_kk) adds raw_kk (k from 1).
       .log_det =
           [](const Tensor& raw, const Tensor&) {
             const std::int64_t side = side_of("covariance", raw, true);
             const auto weight = [side](std::int64_t i, std::int64_t j) {
               return i == j ? static_cast<double>(side - i + 1) : 0.0;
             };
             const Tensor weights = table(side, side, weight, raw);
             return sum(fill_lower(raw, side, true) * weights, {-2, -1}) +
                    static_cast<double>(side) * std::log(2.0);
           },
       .project = [](const Tensor& value) { return positive_definite(0.0)->project(value); }});
}

std::shared_ptr<Constraint> sum_to_zero() {
  return make({.name = "sum_to_zero",
               .condition = "vectors summing to 0",
               .event_dim = 1,
               .forward =
                   [](const Tensor& raw) {
                     check_vector("sum_to_zero", raw, 1);
                     return matmul(raw, helmert_basis(raw.size(-1), raw).mT());
                   },
               .inverse =
                   [](const Tensor& value) {
                     check_vector("sum_to_zero", value, 2);
                     return matmul(value, helmert_basis(value.size(-1) - 1, value));
                   },
               // det of V's first K - 1 rows: for the orthogonal [V, 1/sqrt(K)], a
               // minor equals its complementary one (Jacobi), here 1/sqrt(K).
               .log_det =
                   [](const Tensor& raw, const Tensor&) {
                     return zeros_like(sum(raw, {-1})) -
                            0.5 * std::log(static_cast<double>(raw.size(-1) + 1));
                   },
               .project = [](const Tensor& value) { return value - mean(value, {-1}, true); }});
}

std::shared_ptr<Constraint> row_stochastic() {
  return stochastic("row_stochastic", "matrices whose rows are positive and sum to 1", true);
}

std::shared_ptr<Constraint> column_stochastic() {
  return stochastic("column_stochastic", "matrices whose columns are positive and sum to 1", false);
}

std::shared_ptr<Constraint> unit_vector() {
  const auto divide_by_norm = [](const Tensor& x) {
    check_vector("unit_vector", x, 1);
    return x / norm(x, {-1}, true);
  };
  return make(
      {.name = "unit_vector",
       .condition = "vectors of unit L2 norm",
       .event_dim = 1,
       .forward = divide_by_norm,
       .inverse = [](const Tensor& value) { return value; },
       // Stan's auxiliary-radius term (see the header), not a log|det J|.
       .log_det = [](const Tensor& raw, const Tensor&) { return sum(raw * raw, {-1}) * -0.5; },
       .project = divide_by_norm,
       .bijection = false});
}

}  // namespace tether::constraints
