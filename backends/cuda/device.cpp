// Devices, streams and the caching device allocator.
#include <array>
#include <map>
#include <mutex>
#include <vector>

#include "cuda_backend.h"
#include "tether/error.h"

namespace tether::backend {
namespace cuda {
namespace {

constexpr int kMaxDevices = 16;

/// cudaGetDeviceCount's answer, asked once; 0 (with CUDA's reason kept for
/// error messages) when there is no driver or no device.
struct DeviceCount {
  int count = 0;
  const char* reason = "";
};

const DeviceCount& device_count() {
  static const DeviceCount answer = [] {
    DeviceCount result;
    const cudaError_t status = cudaGetDeviceCount(&result.count);
    if (status != cudaSuccess) {
      result.count = 0;
      result.reason = cudaGetErrorString(status);
      cudaGetLastError();  // clear the sticky error state for later calls
    }
    if (result.count > kMaxDevices) result.count = kMaxDevices;
    return result;
  }();
  return answer;
}

/// Throws DeviceError unless CUDA device `index` is usable.
void require_device(int index) {
  const DeviceCount& devices = device_count();
  if (devices.count == 0)
    fail<DeviceError>("cuda: device ", Device::cuda(index),
                      " is not available: no usable CUDA device (cudaGetDeviceCount: ",
                      *devices.reason ? devices.reason : "0 devices", ")");
  if (index < 0 || index >= devices.count)
    fail<DeviceError>("cuda: device ", Device::cuda(index), " is not available: ", devices.count,
                      " CUDA device", devices.count == 1 ? "" : "s", " present");
}

/// Sizes the cache files blocks under: 512-byte granules up to 1 MiB, 2 MiB
/// granules above, so a training loop's tensors (the same sizes every step)
/// find their blocks again while rounding wastes little.
std::size_t rounded_size(std::size_t nbytes) {
  constexpr std::size_t kSmall = 512, kLarge = std::size_t{2} << 20;
  const std::size_t granule = nbytes <= (std::size_t{1} << 20) ? kSmall : kLarge;
  return (std::max<std::size_t>(nbytes, 1) + granule - 1) / granule * granule;
}

/// One device's allocator. Freed blocks wait in the cache under their rounded
/// size; cudaFree happens only in empty_cache (or to retry a failed cudaMalloc).
class CudaCachingAllocator final : public Allocator {
 public:
  explicit CudaCachingAllocator(int index) : device_(Device::cuda(index)) {}

  void* allocate(std::size_t nbytes) override {
    const std::size_t bytes = rounded_size(nbytes);
    {
      std::lock_guard lock(mutex_);
      ++stats_.requests;
      stats_.bytes_in_use += bytes;
      auto& list = free_[bytes];
      if (!list.empty()) {
        void* ptr = list.back();
        list.pop_back();
        ++stats_.cache_hits;
        stats_.bytes_cached -= bytes;
        return ptr;
      }
      ++stats_.system_allocs;
    }
    activate(device_);
    void* ptr = nullptr;
    if (cudaMalloc(&ptr, bytes) != cudaSuccess) {
      cudaGetLastError();
      empty_cache();  // cached blocks of other sizes may make room
      if (cudaMalloc(&ptr, bytes) != cudaSuccess) {
        cudaGetLastError();
        std::lock_guard lock(mutex_);
        stats_.bytes_in_use -= bytes;
        fail<OutOfMemoryError>("allocate: out of memory on ", device_, " requesting ", nbytes,
                               " bytes");
      }
    }
    return ptr;
  }

  void deallocate(void* ptr, std::size_t nbytes) override {
    if (!ptr) return;
    const std::size_t bytes = rounded_size(nbytes);
    std::lock_guard lock(mutex_);
    stats_.bytes_in_use -= bytes;
    stats_.bytes_cached += bytes;
    free_[bytes].push_back(ptr);
  }

  AllocatorStats stats() const override {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  void reset_stats() override {
    std::lock_guard lock(mutex_);
    stats_ =
        AllocatorStats{.bytes_in_use = stats_.bytes_in_use, .bytes_cached = stats_.bytes_cached};
  }

  void empty_cache() override {
    std::lock_guard lock(mutex_);
    if (stats_.bytes_cached == 0) return;
    activate(device_);
    for (auto& [bytes, list] : free_) {
      for (void* ptr : list) cudaFree(ptr);  // synchronises with pending kernels
      stats_.system_frees += list.size();
      list.clear();
    }
    stats_.bytes_cached = 0;
  }

 private:
  Device device_;
  mutable std::mutex mutex_;
  std::map<std::size_t, std::vector<void*>> free_;
  AllocatorStats stats_;
};

// Allocators live as long as the program: storages freed by static destructors
// still return their blocks here.
Allocator& device_allocator(int index) {
  require_device(index);
  static std::array<CudaCachingAllocator*, kMaxDevices> allocators{};
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  if (!allocators[index]) allocators[index] = new CudaCachingAllocator(index);
  return *allocators[index];
}

int usable_devices() {
  return device_count().count;
}

}  // namespace

DeviceRegistration registration() {
  return {device_allocator, usable_devices};
}

void check(cudaError_t status, const char* op) {
  if (status == cudaSuccess) return;
  cudaGetLastError();
  fail<Error>(op, ": CUDA error: ", cudaGetErrorString(status));
}

cudaStream_t activate(Device device) {
  static std::array<cudaStream_t, kMaxDevices> streams{};
  static std::once_flag created[kMaxDevices];
  thread_local int current = -1;
  if (current != device.index) {
    check(cudaSetDevice(device.index), "cuda: cudaSetDevice");
    current = device.index;
  }
  std::call_once(created[device.index], [&] {
    check(cudaStreamCreateWithFlags(&streams[device.index], cudaStreamNonBlocking),
          "cuda: cudaStreamCreate");
  });
  return streams[device.index];
}

void synchronize(Device device) {
  check(cudaStreamSynchronize(activate(device)), "cuda: synchronize");
}

namespace {

class CudaGraph final : public DeviceGraph {
 public:
  CudaGraph(Device device, cudaGraphExec_t exec) : device_(device), exec_(exec) {}
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;
  ~CudaGraph() override { cudaGraphExecDestroy(exec_); }
  void launch() override {
    check(cudaGraphLaunch(exec_, activate(device_)), "capture: cudaGraphLaunch");
  }

 private:
  Device device_;
  cudaGraphExec_t exec_;
};

}  // namespace

std::unique_ptr<DeviceGraph> record_graph(Device device, const std::function<void()>& enqueue) {
  const cudaStream_t stream = activate(device);
  Allocator& memory = device_allocator(device.index);
  const std::uint64_t requests = memory.stats().requests;
  if (cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  // A kernel the stream cannot record fails with an error (its work never
  // ran); the caller then runs them all itself.
  bool queued = true;
  try {
    enqueue();
  } catch (...) {
    queued = false;
  }
  cudaGraph_t graph = nullptr;
  const bool recorded = cudaStreamEndCapture(stream, &graph) == cudaSuccess && graph != nullptr;
  cudaGraphExec_t exec = nullptr;
  const bool usable = queued && recorded && memory.stats().requests == requests &&
                      cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
  if (graph != nullptr) cudaGraphDestroy(graph);
  cudaGetLastError();  // a failed recording leaves its error behind
  if (!usable) return nullptr;
  return std::make_unique<CudaGraph>(device, exec);
}

}  // namespace cuda

Backend& cuda_backend(Device device) {
  cuda::require_device(device.index);
  static cuda::CudaBackend backend;
  return backend;
}

}  // namespace tether::backend
