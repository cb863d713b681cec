// The constraint library: ready-made constraints, each a maker in
// tether::constraints that returns a Constraint (constraint.h says what a
// Constraint is and how to write your own). Use one with constrain() or chain():
//
//   layer->weight = tether::constrain(layer->weight, tether::constraints::positive());
//   layer->weight = tether::spectrally_normalize(layer->weight);  // the common case, in one call
//
// Naming: a maker in tether::constraints is named after the values it gives
// (positive, simplex, orthogonal, spectral_norm) and returns a Constraint; a
// function in tether:: that takes a Parameter and returns a new one is a verb
// (constrain, freeze, project_clamp, spectrally_normalize).
//
// Each names its feasible set (Constraint::condition, quoted below) and, but
// for spectral_norm, the nearest feasible value (Constraint::project, used by
// ValuePolicy::nearest; an open set's boundary is approached to within a
// relative sqrt(epsilon) of the dtype). Its right_inverse never repairs a
// value: an infeasible one is reported by ComputedParameter::assign.
//
// positive and bounded are bijections with a log-det-Jacobian
// (Constraint::log_abs_det_jacobian, element-wise: event_dim 0); the others
// are not, and their log_abs_det_jacobian says so.
#pragma once

#include <cstdint>
#include <memory>

#include "tether/constraint.h"

namespace tether {

namespace constraints {

enum class PositiveMap { softplus, exp };

/// lower_bound + softplus(raw) (or exp(raw)): "values > lower_bound". The
/// nearest value clamps from below. log|J| = log sigmoid(raw) (raw for exp).
/// Throws ValueError for a non-finite lower_bound.
std::shared_ptr<Constraint> positive(PositiveMap map = PositiveMap::softplus,
                                     double lower_bound = 0.0);
/// lo + (hi - lo) * sigmoid(raw): "values in (lo, hi)"; nearest clamps.
/// log|J| = log((hi - lo) sigmoid(raw) sigmoid(-raw)).
/// Throws ValueError unless lo < hi and lo, hi and hi - lo are finite.
std::shared_ptr<Constraint> bounded(double lo, double hi);
/// softmax(raw, dim): "slices along dim of positive values summing to 1";
/// nearest is the Euclidean projection onto the simplex.
std::shared_ptr<Constraint> simplex(std::int64_t dim = -1);
/// raw / ||raw|| along dim: "slices of unit L2 norm"; nearest divides by the
/// norm (a zero slice has none).
std::shared_ptr<Constraint> unit_norm(std::int64_t dim = -1);
/// Weight normalisation (Salimans and Kingma, 2016): inputs "g" and "v", value
/// g * v / max(||v||, 1e-12) with norms over all dims but `dim` (a zero v
/// gives zero, as normalize does). Every finite value is feasible;
/// right_inverse gives g = the slice norms, v = value (1 for a zero slice,
/// which g = 0 keeps zero).
std::shared_ptr<Constraint> weight_norm(std::int64_t dim = 0);
/// (raw + raw^T) / 2 over the last two dims (square): "symmetric matrices";
/// nearest is that same symmetric part.
std::shared_ptr<Constraint> symmetric();
/// (raw - raw^T) / 2 over the last two dims (square); nearest likewise.
std::shared_ptr<Constraint> skew_symmetric();
/// The lower triangle of raw (zeros above the diagonal); nearest likewise.
std::shared_ptr<Constraint> lower_triangular();
/// A lower-triangular matrix with a positive (softplus) diagonal: a Cholesky
/// factor. Nearest: the lower triangle, its diagonal clamped from below.
std::shared_ptr<Constraint> cholesky_factor();
/// L L^T + eps I with L = cholesky_factor(raw), square: "symmetric matrices
/// with eigenvalues > eps". Nearest: the symmetric part with its eigenvalues
/// raised to eps (2-d values only). Throws ValueError unless eps is finite and >= 0.
std::shared_ptr<Constraint> positive_definite(double eps = 1e-6);
/// A matrix [n, k] with orthonormal columns (orthonormal rows when n < k):
/// base @ matrix_exp(A), first k columns, A the skew-symmetric matrix made
/// from the strictly lower triangle of raw (same shape as the value; a wide
/// raw is used transposed). The buffer "base", m x m for m = max(n, k), starts
/// as the identity; right_inverse(Q) stores in it Q completed to an orthogonal
/// matrix (by Householder QR) and returns raw = 0. A value without
/// orthonormal columns is infeasible (right_inverse throws ValueError and
/// leaves base alone); its nearest feasible value is its polar factor U V^T.
/// Throws ShapeError unless raw and values are 2-d.
std::shared_ptr<Constraint> orthogonal();

/// Spectral normalisation (Miyato et al., 2018) of a weight shaped like `weight`:
/// the weight viewed as a matrix with `dim` first, divided by its largest
/// singular value sigma estimated by power iteration, or by eps where sigma is
/// smaller (a zero weight stays zero, as normalize does). Buffers u and v start from
/// normalised random vectors refined by 15 iterations; each recompute in
/// training mode runs `power_iteration_steps` more (under no-grad); eval mode
/// reuses u and v. Feasible: "weights whose largest singular value is 1";
/// right_inverse takes the value as the raw weight and sets u and v to its
/// exact top singular vectors (an SVD). No projection. Throws ValueError
/// unless eps is finite and positive.
std::shared_ptr<Constraint> spectral_norm(const Tensor& weight, std::int64_t dim = 0,
                                          int power_iteration_steps = 1, double eps = 1e-12);

/// sigmaReparam (Zhai et al., 2023, "Stabilizing Transformer Training by
/// Preventing Attention Entropy Collapse"): value = gamma / sigma(W) * W with
/// two raw inputs, "raw" (W, shaped like `weight`, as a matrix with dim 0
/// first) and "gamma" (0-d, a learned scale), sigma estimated as
/// spectral_norm's (same u, v buffers and power iteration, which runs once
/// per recompute in training mode). Every finite weight is feasible:
/// right_inverse gives raw = the value and gamma = its largest singular
/// value (an SVD). sigma_reparameterize() applies it to a slot with gamma = 1.
std::shared_ptr<Constraint> sigma_reparam(const Tensor& weight, int power_iteration_steps = 1,
                                          double eps = 1e-12);

// Stan's constraint transforms (Stan Reference Manual, "Constraint
// Transforms" chapter). Each is a bijection from unconstrained raw inputs
// onto its feasible set (unit_vector aside) with log_abs_det_jacobian, under
// torch.distributions' conventions (constraint.h): one entry per event, and
// where the value has more entries than the raw input (a simplex of K from
// K - 1) the Jacobian is taken onto the value's free coordinates, named below
// for each. Raw vectors and matrices may carry leading batch dims.

/// lo + exp(raw): "values > lo"; event_dim 0, log|J| = raw. Nearest clamps
/// from below. Beside positive(PositiveMap::exp, lo), which is the same map,
/// under Stan's name. Throws ValueError for a non-finite lo.
std::shared_ptr<Constraint> lower_bounded(double lo);
/// hi - exp(raw): "values < hi"; event_dim 0, log|J| = raw. Nearest clamps
/// from above. Throws ValueError for a non-finite hi.
std::shared_ptr<Constraint> upper_bounded(double hi);
/// Stan's stick-breaking simplex: raw [..., K - 1] to [..., K] positive
/// values summing to 1 along the last dim, z_k = sigmoid(raw_k - log(K - k)),
/// value_k = z_k (1 - value_1 - ... - value_{k-1}), value_K what is left; raw
/// = 0 gives the uniform simplex. The same map as torch.distributions'
/// StickBreakingTransform. event_dim 1; free coordinates: the first K - 1.
/// Nearest: as simplex()'s. Beside simplex() (softmax), which is not a bijection.
std::shared_ptr<Constraint> stick_breaking_simplex();
/// value_1 = raw_1, value_k = value_{k-1} + exp(raw_k): "strictly increasing
/// vectors" along the last dim; event_dim 1, log|J| = raw_2 + ... + raw_K.
/// Nearest: isotonic regression (pool adjacent violators), steps kept a
/// relative sqrt(epsilon) apart.
std::shared_ptr<Constraint> ordered();
/// As ordered() with value_1 = exp(raw_1): "strictly increasing vectors of
/// positive values"; log|J| = raw_1 + ... + raw_K. Nearest: as ordered()'s,
/// its first element raised to the margin.
std::shared_ptr<Constraint> positive_ordered();
/// The Cholesky factor L [..., K, K] of a correlation matrix from raw
/// [..., K(K-1)/2]: the partial correlations tanh(raw) fill the strict lower
/// triangle row by row and each row is stick-broken to unit norm, its
/// diagonal positive (Stan's cholesky_factor_corr, torch.distributions'
/// CorrCholeskyTransform: the same map, tanh clamped to +-(1 - epsilon) as
/// there). "lower-triangular matrices with unit-norm rows and a positive
/// diagonal"; event_dim 2; free coordinates: the strict lower triangle. No
/// projection. Throws ShapeError unless raw's last dim is a triangular number.
std::shared_ptr<Constraint> cholesky_corr();
/// L L^T for L = cholesky_corr(raw): "correlation matrices (symmetric positive
/// definite with a unit diagonal)"; event_dim 2; free coordinates: the strict
/// lower triangle. No projection.
std::shared_ptr<Constraint> correlation_matrix();
/// Stan's cov_matrix: raw [..., K(K+1)/2] fills the lower triangle of L row
/// by row, its diagonal through exp; value L L^T, "symmetric positive definite
/// matrices"; log|J| = K log 2 + sum_k (K - k + 2) raw_kk (k from 1). A
/// bijection, unlike positive_definite(), whose raw is a square matrix whose
/// upper triangle is ignored. event_dim 2; free coordinates: the lower
/// triangle with the diagonal. Nearest: positive_definite(0)'s (2-d values).
std::shared_ptr<Constraint> covariance();
/// Stan 2.36's isometric sum-to-zero transform: raw [..., K - 1] to [..., K]
/// summing to 0, value = V raw for V [K, K - 1] with orthonormal columns
/// orthogonal to (1, ..., 1) (a Helmert basis). "vectors summing to 0";
/// event_dim 1; free coordinates: the first K - 1, onto which log|J| is the
/// constant -log(K) / 2 (Stan counts the isometry as 0; the two densities
/// differ by that constant). Nearest: value - its mean.
std::shared_ptr<Constraint> sum_to_zero();
/// Stick-breaking along each row: raw [..., N, K - 1] to [..., N, K] whose
/// rows are simplices; event_dim 2 (log|J| sums the rows'); free coordinates:
/// the first K - 1 columns. Nearest: each row as simplex()'s.
std::shared_ptr<Constraint> row_stochastic();
/// Stick-breaking along each column: raw [..., K - 1, N] to [..., K, N];
/// free coordinates: the first K - 1 rows. As row_stochastic() transposed.
std::shared_ptr<Constraint> column_stochastic();
/// Stan's unit_vector: value raw / ||raw|| along the last dim, "vectors of
/// unit L2 norm"; event_dim 1. Not a bijection: every positive multiple of
/// raw gives the same value, so raw has an unidentified radius. Stan makes
/// the density over raw proper by adding -||raw||^2 / 2 to the log density:
/// with it the radius is chi-distributed and independent of the direction,
/// which keeps the density given to the value. log_abs_det_jacobian returns
/// that term, -||raw||^2 / 2 per vector (not a log-det-Jacobian, though used
/// in its place), while is_bijection() stays false. right_inverse: the value
/// itself (radius 1); nearest divides by the norm (a zero vector has none).
std::shared_ptr<Constraint> unit_vector();

}  // namespace constraints

/// `parameter` spectrally normalised: constrain(parameter,
/// constraints::spectral_norm(its value, ...), ValuePolicy::as_raw), its
/// current tensor taken as the raw weight; stacked on a computed parameter's
/// constraint.
std::shared_ptr<ComputedParameter> spectrally_normalize(const std::shared_ptr<Parameter>& parameter,
                                                        std::int64_t dim = 0,
                                                        int power_iteration_steps = 1,
                                                        double eps = 1e-12);

/// `parameter` under sigma_reparam: its tensor becomes the raw weight W (the
/// same leaf, so an optimizer built earlier keeps training it) and gamma
/// starts at 1, as in Zhai et al., so the value starts as W / sigma(W):
///
///   linear->weight = tether::sigma_reparameterize(linear->weight);
///
/// Throws ValueError for a computed or projected parameter.
std::shared_ptr<ComputedParameter> sigma_reparameterize(const std::shared_ptr<Parameter>& parameter,
                                                        int power_iteration_steps = 1,
                                                        double eps = 1e-12);

/// The largest singular value of a matrix, from an SVD (outside the graph).
double largest_singular_value(const Tensor& matrix);

/// Power-iteration estimate of a spectrally normalised parameter's largest
/// singular value (u^T W v) beside the exact value from an SVD of its raw weight.
/// One iteration per step tracks the exact value closely (within 1e-3 after a
/// few steps at lr 0.01) while the weight changes slowly; a step that moves the
/// weight far (a large learning rate) leaves the estimate behind for a while,
/// as in PyTorch: more power_iteration_steps close the gap.
struct SpectralNormCheck {
  double estimate;
  double exact;
};
/// Throws ValueError unless `parameter` is computed by spectral_norm or
/// sigma_reparam (whose estimate is its sigma(W)).
SpectralNormCheck check_spectral_norm(ComputedParameter& parameter);

}  // namespace tether
