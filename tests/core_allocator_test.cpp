// The CPU caching allocator: freed blocks go to a cache and come back on the
// next request of their size class, so a training loop in steady state never
// calls the system allocator.
#include <catch2/catch.hpp>

#include <cstdint>
#include <thread>
#include <vector>

#include "tether/tether.h"

using tether::AllocatorStats;
using tether::Tensor;

namespace {

tether::Allocator& cpu_allocator() {
  return tether::allocator(tether::Device::cpu());
}

/// A two-layer perceptron with its plain SGD step.
struct Perceptron {
  Tensor w1 = tether::randn({8, 16}).requires_grad_();
  Tensor b1 = tether::zeros({16}).requires_grad_();
  Tensor w2 = tether::randn({16, 1}).requires_grad_();
  Tensor b2 = tether::zeros({1}).requires_grad_();

  std::vector<Tensor> parameters() const { return {w1, b1, w2, b2}; }

  void train_step(const Tensor& inputs, const Tensor& targets) {
    const Tensor hidden = tether::relu(inputs.matmul(w1) + b1);
    const Tensor error = hidden.matmul(w2) + b2 - targets;
    (error * error).mean().backward();
    tether::NoGradGuard no_grad;
    for (Tensor p : parameters()) {
      p.sub_(p.grad(), 0.01);
      p.grad().zero_();
    }
  }
};

}  // namespace

TEST_CASE("a steady-state training loop is served entirely from the cache", "[allocator]") {
  tether::manual_seed(1);
  Perceptron model;
  const Tensor inputs = tether::randn({32, 8}), targets = tether::randn({32, 1});
  for (int step = 0; step < 3; ++step) model.train_step(inputs, targets);

  cpu_allocator().reset_stats();
  for (int step = 0; step < 50; ++step) model.train_step(inputs, targets);
  const AllocatorStats stats = cpu_allocator().stats();
  CHECK(stats.system_allocs == 0);
  CHECK(stats.requests > 0);
  CHECK(stats.cache_hits == stats.requests);
}

TEST_CASE("a freed block is handed out again for a request of the same size", "[allocator]") {
  const void* first_data = nullptr;
  {
    const Tensor first = tether::empty({1000});
    first_data = first.raw_data();
  }
  cpu_allocator().reset_stats();
  const Tensor second = tether::empty({1000});
  CHECK(second.raw_data() == first_data);
  const AllocatorStats stats = cpu_allocator().stats();
  CHECK(stats.requests == 1);
  CHECK(stats.cache_hits == 1);
  CHECK(stats.system_allocs == 0);
}

TEST_CASE("the cache tracks bytes in use and cached, and empty_cache returns blocks",
          "[allocator]") {
  tether::Allocator& allocator = cpu_allocator();
  allocator.empty_cache();
  allocator.reset_stats();
  const AllocatorStats before = allocator.stats();
  CHECK(before.bytes_cached == 0);

  void* block = allocator.allocate(4096);
  CHECK(allocator.stats().system_allocs == 1);
  CHECK(allocator.stats().bytes_in_use == before.bytes_in_use + 4096);
  CHECK(reinterpret_cast<std::uintptr_t>(block) % 64 == 0);

  allocator.deallocate(block, 4096);
  CHECK(allocator.stats().bytes_in_use == before.bytes_in_use);
  CHECK(allocator.stats().bytes_cached == 4096);

  allocator.empty_cache();
  const AllocatorStats after = allocator.stats();
  CHECK(after.system_frees == 1);
  CHECK(after.bytes_cached == 0);
}

TEST_CASE("threads keep their own caches, and the counts add up when blocks change threads",
          "[allocator]") {
  tether::Allocator& allocator = cpu_allocator();
  const AllocatorStats before = allocator.stats();
  // Each worker allocates, frees, and allocates again (a hit in its own cache),
  // and hands its last block to the main thread, which frees it.
  std::vector<void*> handed_over(4);
  std::vector<std::thread> workers;
  for (std::size_t i = 0; i < handed_over.size(); ++i)
    workers.emplace_back([&allocator, &handed_over, i] {
      for (int round = 0; round < 100; ++round) allocator.deallocate(allocator.allocate(512), 512);
      handed_over[i] = allocator.allocate(512);
    });
  for (auto& worker : workers) worker.join();
  CHECK(allocator.stats().bytes_in_use == before.bytes_in_use + 4 * 512);
  for (void* block : handed_over) allocator.deallocate(block, 512);

  const AllocatorStats after = allocator.stats();
  CHECK(after.bytes_in_use == before.bytes_in_use);
  CHECK(after.requests - before.requests == 4 * 101);
  CHECK(after.system_allocs - before.system_allocs <= 4);
  // The freed blocks, whichever cache they went to, serve the next request.
  cpu_allocator().reset_stats();
  void* again = allocator.allocate(512);
  CHECK(allocator.stats().system_allocs == 0);
  allocator.deallocate(again, 512);
}
