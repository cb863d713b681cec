// Copies between 2-d tensors and Eigen matrices, for the decompositions the
// constraints run on the host, outside the graph (QR, SVD, eigenvalues).
#pragma once

#include <Eigen/Core>
#include <vector>

#include "tether/ops.h"

namespace tether::detail {

using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A copy of a matrix's values in f64.
inline RowMajorMatrix to_eigen(const Tensor& matrix) {
  const std::vector<double> values = matrix.detach().to_vector<double>();
  return Eigen::Map<const RowMajorMatrix>(values.data(), matrix.size(0), matrix.size(1));
}

/// `matrix` as a tensor of `shape` with the dtype and device of `like`.
inline Tensor from_eigen(const RowMajorMatrix& matrix, const Shape& shape, const Tensor& like) {
  return tensor(std::vector<double>(matrix.data(), matrix.data() + matrix.size()), shape,
                like.options());
}

/// `matrix` as a tensor with the dtype and device of `like`.
inline Tensor from_eigen(const RowMajorMatrix& matrix, const Tensor& like) {
  return from_eigen(matrix, {matrix.rows(), matrix.cols()}, like);
}

}  // namespace tether::detail
