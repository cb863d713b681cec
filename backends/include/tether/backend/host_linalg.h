// Small dense decompositions on the host, outside the graph, for what
// constraints/ computes once per projection or check (an orthogonal basis, a
// polar factor, singular vectors, an eigenvalue floor) rather than per step.
//
// Each takes a matrix (a 2-d tensor; ShapeError naming the function otherwise)
// of any dtype on any device, computes in f64 on the CPU with Eigen, and
// returns tensors in the matrix's dtype on its device, rounded once from f64.
// The SVDs give NaN for a matrix holding NaN or infinity (Eigen leaves their
// factors unset then) and for an empty one, whose polar factor and singular
// values are then empty too.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "tether/tensor.h"

namespace tether::backend::host {

/// An orthogonal [m, m] matrix whose first n columns are those of `matrix`
/// [m, n] (m >= n) when these are orthonormal, else the orthogonal factor of
/// its QR decomposition. Householder QR gives matrix = Q R with Q [m, m];
/// negating each column i < n of Q where R_ii < 0 makes R's diagonal
/// non-negative, and then Q's first n columns are the matrix's own (the other
/// m - n complete them).
Tensor completed_orthogonal(const Tensor& matrix);

/// U V^T for the thin SVD U S V^T of `matrix` (Jacobi): for [m, n] with
/// m >= n, the nearest matrix with orthonormal columns (Frobenius norm).
Tensor polar_factor(const Tensor& matrix);

/// The first columns u [m] and v [n] of U and V in the thin SVD U S V^T of
/// `matrix` [m, n] (divide and conquer): its top singular vectors.
std::pair<Tensor, Tensor> top_singular_vectors(const Tensor& matrix);

/// The singular values of `matrix` (Jacobi SVD), largest first, in f64.
std::vector<double> singular_values(const Tensor& matrix);

/// V diag(f(w)) V^T, where V diag(w) V^T is the eigendecomposition of the
/// symmetric part (A + A^T) / 2 of square `matrix` A, eigenvalues w ascending.
/// `f` receives all of w at once (a floor may depend on the largest) and
/// returns as many values; ValueError if it returns another count. An empty
/// matrix is returned as it is.
Tensor map_symmetric_eigenvalues(const Tensor& matrix,
                                 const std::function<std::vector<double>(std::vector<double>)>& f);

}  // namespace tether::backend::host
