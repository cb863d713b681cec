// The host decompositions of host_linalg.h, on Eigen. Each reads a row-major
// f64 copy of the matrix and names its algorithm (Householder QR, Jacobi or
// divide-and-conquer SVD, the self-adjoint eigensolver), so a result does not
// depend on the device the matrix lives on.
#include "tether/backend/host_linalg.h"

#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <Eigen/SVD>
#include <algorithm>
#include <limits>

#include "tether/backend/backend.h"
#include "tether/error.h"

namespace tether::backend::host {
namespace {

using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// A copy of `t` in `dtype` on `device`. A copy to the host is the source
/// device's to make, any other the destination's (as in Tensor::to).
Tensor copied(const Tensor& t, DType dtype, Device device) {
  Tensor out = Tensor::empty(t.shape(), dtype, device);
  backend_for(device.is_cpu() ? t.device() : device).copy(t, out);
  return out;
}

/// `matrix`'s values in f64. Throws ShapeError naming `op` unless it is 2-d.
RowMajorMatrix to_host(const char* op, const Tensor& matrix) {
  if (matrix.dim() != 2) fail<ShapeError>(op, ": expected a matrix, got ", matrix.shape());
  const Tensor values = copied(matrix, DType::f64, Device::cpu());
  return Eigen::Map<const RowMajorMatrix>(values.data_ptr<double>(), matrix.size(0),
                                          matrix.size(1));
}

/// `matrix`'s values as a tensor of `shape` in like's dtype on like's device:
/// converted on the host, as the factories do, then moved.
Tensor from_host(const RowMajorMatrix& matrix, const Shape& shape, const Tensor& like) {
  Tensor result = Tensor::empty(shape, DType::f64, Device::cpu());
  std::copy(matrix.data(), matrix.data() + matrix.size(), result.data_ptr<double>());
  if (like.dtype() != DType::f64) result = copied(result, like.dtype(), Device::cpu());
  if (!like.device().is_cpu()) result = copied(result, like.dtype(), like.device());
  return result;
}

/// Whether Eigen's SVDs can factor `a`: they leave their factors unset for a
/// matrix holding NaN or infinity, and read past the end of an empty one.
bool svd_defined(const RowMajorMatrix& a) {
  return a.size() > 0 && a.allFinite();
}

/// A NaN tensor of `shape` in like's dtype on like's device.
Tensor nan_like(const Shape& shape, const Tensor& like) {
  return from_host(RowMajorMatrix::Constant(shape.numel(), 1, kNaN), shape, like);
}

}  // namespace

Tensor completed_orthogonal(const Tensor& matrix) {
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(to_host("completed_orthogonal", matrix));
  RowMajorMatrix q = qr.householderQ();
  const auto r_diagonal = qr.matrixQR().diagonal();
  for (Eigen::Index i = 0; i < r_diagonal.size(); ++i)
    if (r_diagonal(i) < 0) q.col(i) *= -1.0;
  return from_host(q, {q.rows(), q.cols()}, matrix);
}

Tensor polar_factor(const Tensor& matrix) {
  const RowMajorMatrix a = to_host("polar_factor", matrix);
  if (!svd_defined(a)) return nan_like(matrix.shape(), matrix);
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const RowMajorMatrix polar = svd.matrixU() * svd.matrixV().transpose();
  return from_host(polar, matrix.shape(), matrix);
}

std::pair<Tensor, Tensor> top_singular_vectors(const Tensor& matrix) {
  const RowMajorMatrix a = to_host("top_singular_vectors", matrix);
  const Shape u_shape = {matrix.size(0)}, v_shape = {matrix.size(1)};
  if (!svd_defined(a)) return {nan_like(u_shape, matrix), nan_like(v_shape, matrix)};
  const Eigen::BDCSVD<Eigen::MatrixXd> svd(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
  return {from_host(svd.matrixU().col(0), u_shape, matrix),
          from_host(svd.matrixV().col(0), v_shape, matrix)};
}

std::vector<double> singular_values(const Tensor& matrix) {
  const RowMajorMatrix a = to_host("singular_values", matrix);
  if (!svd_defined(a)) return std::vector<double>(std::min(a.rows(), a.cols()), kNaN);
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(a);
  const Eigen::VectorXd& values = svd.singularValues();
  return {values.data(), values.data() + values.size()};
}

Tensor map_symmetric_eigenvalues(const Tensor& matrix,
                                 const std::function<std::vector<double>(std::vector<double>)>& f) {
  const RowMajorMatrix a = to_host("map_symmetric_eigenvalues", matrix);
  if (a.rows() != a.cols())
    fail<ShapeError>("map_symmetric_eigenvalues: expected a square matrix, got ", matrix.shape());
  // Eigen's solver reads past the end of an empty matrix, which has no eigenvalues.
  if (a.size() == 0) return from_host(a, matrix.shape(), matrix);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen((a + a.transpose()) / 2);
  const Eigen::VectorXd& w = eigen.eigenvalues();
  const std::vector<double> mapped = f({w.data(), w.data() + w.size()});
  if (static_cast<Eigen::Index>(mapped.size()) != w.size())
    fail<ValueError>("map_symmetric_eigenvalues: expected ", w.size(), " eigenvalues back, got ",
                     mapped.size());
  const Eigen::VectorXd diagonal = Eigen::Map<const Eigen::VectorXd>(mapped.data(), w.size());
  const Eigen::MatrixXd& vectors = eigen.eigenvectors();
  const RowMajorMatrix result = vectors * diagonal.asDiagonal() * vectors.transpose();
  return from_host(result, matrix.shape(), matrix);
}

}  // namespace tether::backend::host
