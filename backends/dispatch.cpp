#include <algorithm>
#include <utility>

#include "common/kernel_support.h"  // cpu_backend()
#include "tether/allocator.h"
#include "tether/backend/backend.h"
#include "tether/error.h"

namespace tether::backend {

#if TETHER_HAS_CUDA
Backend& cuda_backend(Device device);  // backends/cuda/device.cpp
namespace cuda {
DeviceRegistration registration();
std::unique_ptr<DeviceGraph> record_graph(Device device, const std::function<void()>& enqueue);
}  // namespace cuda

namespace {
// CUDA memory is registered with core when the program starts. Every program
// that runs an op links this file, so the registration cannot be dropped by the
// linker the way an unreferenced object file of a static library would be.
[[maybe_unused]] const bool cuda_registered =
    (register_device_type(DeviceType::cuda, cuda::registration()), true);
}  // namespace
#endif

namespace {
thread_local Interceptor* thread_interceptor = nullptr;
}  // namespace

void set_thread_interceptor(Interceptor* interceptor) {
  thread_interceptor = interceptor;
}

Backend& backend_for(Device device) {
  if (thread_interceptor != nullptr) [[unlikely]]
    return thread_interceptor->backend_for(device);
  return device_backend(device);
}

Backend& device_backend(Device device) {
  if (device.is_cpu()) return cpu_backend();
#if TETHER_HAS_CUDA
  if (device.is_cuda()) return cuda_backend(device);
#endif
  fail<DeviceError>("backend: device ", device, " is not available in this build of tether");
}

// Only CUDA devices have graphs; the CPU has no stream to record.
std::unique_ptr<DeviceGraph> record_device_graph(
    [[maybe_unused]] Device device, [[maybe_unused]] const std::function<void()>& enqueue) {
#if TETHER_HAS_CUDA
  if (device.is_cuda()) return cuda::record_graph(device, enqueue);
#endif
  return nullptr;
}

std::optional<MatrixLayout> matrix_layout(const Tensor& t) {
  for (const bool column_major : {false, true}) {
    std::int64_t rows = t.shape()[1], cols = t.shape()[2];
    std::int64_t row_stride = t.strides()[1], col_stride = t.strides()[2];
    if (column_major) {  // the transpose, read row-major
      std::swap(rows, cols);
      std::swap(row_stride, col_stride);
    }
    const std::int64_t min_leading = std::max<std::int64_t>(cols, 1);
    if ((col_stride == 1 || cols == 1) && (row_stride >= min_leading || rows == 1))
      return MatrixLayout{column_major, rows == 1 ? min_leading : row_stride};
  }
  return std::nullopt;
}

Strides broadcast_strides(const char* op, const Tensor& tensor, const Shape& shape) {
  if (tensor.shape() == shape) return tensor.strides();
  Strides strides = Shape::filled(shape.size(), 0);
  for (int i = tensor.dim() - 1, d = shape.size() - 1; i >= 0; --i, --d) {
    const std::int64_t extent = tensor.shape()[i];
    if (d >= 0 && extent == shape[d])
      strides[d] = tensor.strides()[i];
    else if (extent != 1)
      fail<ShapeError>(op, ": shape ", tensor.shape(), " cannot be broadcast to ", shape);
  }
  return strides;
}

}  // namespace tether::backend
