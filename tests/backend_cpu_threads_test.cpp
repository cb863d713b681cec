// The CPU kernels' intra-op threads (tether/backend/parallel.h): parallel_for's
// partition, errors and nesting, and every parallelised kernel giving the
// results of one thread on 2 and 3 threads (3: chunks of uneven size), on
// tensors large enough to be split.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <utility>
#include <vector>

#include "tether/backend/backend.h"
#include "tether/backend/parallel.h"
#include "tether/tether.h"
#include "threads_guard.h"

using namespace tether;
using backend::kChunksPerThread;
using backend::kParallelGrain;
using testing::ThreadsGuard;

namespace {

/// What `compute` returns with 1, 2 and 3 threads.
std::vector<Tensor> on_1_2_3_threads(const std::function<Tensor()>& compute) {
  const ThreadsGuard guard;
  std::vector<Tensor> results;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    results.push_back(contiguous(compute()));
  }
  return results;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.numel() * element_size(a.dtype())) == 0;
}

/// Checks that `compute` gives the same bits on 1, 2 and 3 threads.
void check_bitwise_on_threads(const std::function<Tensor()>& compute) {
  const std::vector<Tensor> results = on_1_2_3_threads(compute);
  CHECK(bitwise_equal(results[0], results[1]));
  CHECK(bitwise_equal(results[0], results[2]));
}

/// A view of n elements starting 3 elements into its storage, so that chunk
/// boundaries fall off the storage's alignment.
Tensor offset_randn(std::int64_t n, DType dtype) {
  return randn({n + 3}, dtype).narrow(0, 3, n);
}

/// Sizes on either side of where work is split: below 2 * grain a range runs
/// on the calling thread.
const std::vector<std::int64_t> kEdgeSizes = {0,
                                              1,
                                              kParallelGrain - 1,
                                              kParallelGrain + 1,
                                              2 * kParallelGrain - 1,
                                              2 * kParallelGrain,
                                              2 * kParallelGrain + 1,
                                              7 * kParallelGrain + 5};

}  // namespace

// ---- parallel_for ----------------------------------------------------------

TEST_CASE("parallel_for covers a range exactly once, in equal chunks of at least the grain",
          "[threads]") {
  const ThreadsGuard guard;
  set_num_threads(3);
  constexpr std::int64_t grain = 100;
  for (std::int64_t n :
       {0, 1, 99, 100, 101, 199, 200, 201, 299, 300, 301, 1000, 1001, 1299, 1300, 1301, 5000}) {
    std::vector<int> visits(static_cast<std::size_t>(n), 0);
    std::vector<std::int64_t> sizes(3 * kChunksPerThread, 0);
    const std::int64_t chunks = backend::parallel_chunks(0, n, grain);
    backend::for_each_chunk(0, n, chunks,
                            [&](std::int64_t chunk, std::int64_t begin, std::int64_t end) {
                              sizes[chunk] = end - begin;
                              for (std::int64_t i = begin; i < end; ++i) ++visits[i];
                            });
    INFO("n = " << n);
    CHECK(std::count(visits.begin(), visits.end(), 1) == n);
    CHECK(chunks == (n == 0 ? 0 : std::clamp<std::int64_t>(n / grain, 1, 3 * kChunksPerThread)));
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
      CHECK(sizes[chunk] >= std::min(n, grain));
      CHECK(sizes[chunk] - sizes[chunks - 1] <= 1);
    }
  }
}

TEST_CASE("an error thrown in a parallel_for chunk surfaces on the caller as the same error",
          "[threads]") {
  const ThreadsGuard guard;
  set_num_threads(3);
  const auto throwing = [](std::int64_t first_failing_chunk) {
    backend::for_each_chunk(0, 3000, backend::parallel_chunks(0, 3000, 1000),
                            [&](std::int64_t chunk, std::int64_t, std::int64_t) {
                              if (chunk >= first_failing_chunk)
                                fail<IndexError>("kernel: chunk ", chunk, " failed");
                            });
  };
  // The lowest failing chunk's error wins, whichever thread ran it.
  CHECK_THROWS_AS(throwing(1), IndexError);
  CHECK_THROWS_WITH(throwing(1), "kernel: chunk 1 failed");
  CHECK_THROWS_WITH(throwing(0), "kernel: chunk 0 failed");
  CHECK_THROWS_WITH(throwing(2), "kernel: chunk 2 failed");
  // The pool still works afterwards.
  std::vector<int> visits(3000, 0);
  backend::parallel_for(0, 3000, 1000, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) ++visits[i];
  });
  CHECK(std::count(visits.begin(), visits.end(), 1) == 3000);
}

TEST_CASE("a kernel's error raised on a worker thread reaches the caller with its message",
          "[threads]") {
  const ThreadsGuard guard;
  set_num_threads(2);
  // The integer division kernel refuses a zero divisor element by element;
  // here the only one is in the last chunk.
  const std::int64_t n = 4 * kParallelGrain;
  const Tensor divisor = ones({n}, DType::i64), out = empty({n}, DType::i64);
  divisor.narrow(0, n - 1, 1).fill_(0);
  const auto divide = [&] {
    backend::backend_for(Device::cpu())
        .binary(backend::BinaryOp::div, ones({n}, DType::i64), divisor, out);
  };
  CHECK_THROWS_AS(divide(), ValueError);
  CHECK_THROWS_WITH(divide(), "div: integer division by zero");
}

TEST_CASE("a parallel_for inside a parallel_for chunk runs without deadlock", "[threads]") {
  const ThreadsGuard guard;
  set_num_threads(3);
  std::vector<int> visits(300 * 300, 0);
  backend::parallel_for(0, 300, 100, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i)
      backend::parallel_for(0, 300, 100, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t j = b; j < e; ++j) ++visits[i * 300 + j];
      });
  });
  CHECK(std::count(visits.begin(), visits.end(), 1) == 300 * 300);
  // A kernel inside a chunk splits nothing more and stays right.
  const Tensor x = ones({4 * kParallelGrain});
  std::vector<double> sums(4);
  backend::parallel_for(0, 4, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) sums[i] = sum(x).item<double>();
  });
  CHECK(sums == std::vector<double>(4, 4.0 * kParallelGrain));
}

TEST_CASE("set_num_threads while idle resizes the pool that the next kernel uses", "[threads]") {
  const ThreadsGuard guard;
  const Tensor x = randn({8 * kParallelGrain});
  const Tensor expected = exp(x);
  for (int threads : {3, 1, 2, 4, 1}) {
    set_num_threads(threads);
    CHECK(get_num_threads() == threads);
    CHECK(bitwise_equal(exp(x), expected));
  }
}

// ---- kernels: the results of one thread on 2 and 3 -------------------------

TEST_CASE("element-wise unary kernels give bitwise the same results on 1, 2 and 3 threads",
          "[threads]") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor x = offset_randn(5 * kParallelGrain + 7, dtype);
    // Functions whose vectorised and scalar versions can round differently too.
    check_bitwise_on_threads([&] { return exp(x); });
    check_bitwise_on_threads([&] { return tanh(x); });
    check_bitwise_on_threads([&] { return sigmoid(x); });
    check_bitwise_on_threads([&] { return log(abs(x)); });
    check_bitwise_on_threads([&] { return relu(x); });
    check_bitwise_on_threads([&] { return x * 2.5 + 1.0; });
  }
}

TEST_CASE(
    "element-wise binary kernels, where and fill give bitwise the same results on "
    "1, 2 and 3 threads",
    "[threads]") {
  const Tensor a = offset_randn(5 * kParallelGrain + 7, DType::f32);
  const Tensor b = offset_randn(5 * kParallelGrain + 7, DType::f32);
  check_bitwise_on_threads([&] { return a + b; });
  check_bitwise_on_threads([&] { return a / b; });
  check_bitwise_on_threads([&] { return pow(abs(a), b); });
  check_bitwise_on_threads([&] { return gt(a, b); });
  check_bitwise_on_threads([&] { return where(gt(a, b), a, b); });
  // A broadcast bias, and a transposed operand (rows of one element).
  const Tensor m = randn({700, 301}), bias = randn({301}), column = randn({301, 1});
  check_bitwise_on_threads([&] { return m + bias; });
  check_bitwise_on_threads([&] { return exp(m.transpose(0, 1)) * column; });
  check_bitwise_on_threads([&] { return full({3, 5 * kParallelGrain + 1}, 0.25); });
}

TEST_CASE(
    "copies (contiguous, strided, converting) give bitwise the same results on 1, 2 "
    "and 3 threads",
    "[threads]") {
  const Tensor x = randn({900, 333}, DType::f64);
  check_bitwise_on_threads([&] { return x.clone(); });
  check_bitwise_on_threads([&] { return contiguous(x.transpose(0, 1)); });
  check_bitwise_on_threads([&] { return to(x, DType::f32); });
  check_bitwise_on_threads([&] { return to(x * 1000, DType::i64); });
}

TEST_CASE("element-wise kernels are right at the grain's edges on 3 threads", "[threads]") {
  const ThreadsGuard guard;
  set_num_threads(3);
  for (std::int64_t n : kEdgeSizes) {
    INFO("n = " << n);
    const Tensor x = arange(n, TensorOptions(DType::f64));
    const Tensor y = x * 2.0 + 1.0;
    const std::vector<double> values = y.to_vector<double>();
    bool right = static_cast<std::int64_t>(values.size()) == n;
    for (std::int64_t i = 0; right && i < n; ++i) right = values[i] == 2.0 * i + 1.0;
    CHECK(right);
    CHECK(sum(x).item<double>() == static_cast<double>(n) * (n - 1) / 2);
    check_bitwise_on_threads([&] { return exp(x / static_cast<double>(n + 1)); });
  }
}

TEST_CASE(
    "reductions whose output keeps the outermost or innermost dimension give bitwise the "
    "same results on 1, 2 and 3 threads",
    "[threads]") {
  const Tensor x = randn({700, 301}, DType::f32), batch = randn({3000, 40});
  const Tensor y = randn({300, 4, 300});
  check_bitwise_on_threads([&] { return sum(x, {1}); });
  check_bitwise_on_threads([&] { return amax(x, {1}); });
  check_bitwise_on_threads([&] { return mean(x, {1}, true); });
  check_bitwise_on_threads([&] { return argmax(x, 1); });
  check_bitwise_on_threads([&] { return argmax(x, 0); });
  // Sums over the batch: the threads split the rows.
  check_bitwise_on_threads([&] { return sum(x, {0}); });
  check_bitwise_on_threads([&] { return sum(x.transpose(0, 1), {0}); });
  check_bitwise_on_threads([&] { return sum(batch, {0}); });
  // max and min are exact: bitwise whichever dimensions they reduce.
  check_bitwise_on_threads([&] { return amax(x); });
  check_bitwise_on_threads([&] { return amax(y, {0, 2}); });
}

TEST_CASE(
    "full sums agree to rounding on 1, 2 and 3 threads and repeat bitwise for a given "
    "thread count",
    "[threads]") {
  const ThreadsGuard guard;
  const Tensor x = offset_randn(9 * kParallelGrain + 11, DType::f32);
  const Tensor y = randn({300, 4, 300}, DType::f32);
  // A full sum, and a sum over the innermost and outermost dimensions.
  for (const auto& [input, dims] : {std::pair{x, Dims{}}, std::pair{y, Dims{0, 2}}}) {
    const auto compute = [&] { return sum(input, dims); };
    const std::vector<Tensor> results = on_1_2_3_threads(compute);
    const Tensor reference = sum(to(input, DType::f64), dims);
    for (const Tensor& result : results)
      CHECK(allclose(to(result, DType::f64), reference, 1e-5, 1e-3));
    set_num_threads(3);
    CHECK(bitwise_equal(compute(), results[2]));
  }
}

TEST_CASE("softmax and log_softmax give bitwise the same results on 1, 2 and 3 threads",
          "[threads]") {
  const Tensor logits = randn({512, 301}, DType::f32);
  check_bitwise_on_threads([&] { return softmax(logits, 1); });
  check_bitwise_on_threads([&] { return log_softmax(logits, -1); });
}

TEST_CASE(
    "index_select, index_add and gather give bitwise the same results on 1, 2 and 3 "
    "threads",
    "[threads]") {
  const Tensor x = randn({400, 333}, DType::f32);
  const Tensor rows = randint(0, 400, {5000});  // repeated indices
  const Tensor columns = randint(0, 333, {400, 500});
  check_bitwise_on_threads([&] { return index_select(x, 0, rows); });
  check_bitwise_on_threads(
      [&] { return index_select(x, 1, columns.narrow(0, 0, 1).reshape({500})); });
  check_bitwise_on_threads([&] { return gather(x, 1, columns); });
  const Tensor source = randn({5000, 333}, DType::f32);
  check_bitwise_on_threads([&] {
    const Tensor out = zeros({400, 333});
    backend::backend_for(Device::cpu()).index_add(out, 0, rows, source);
    return out;
  });
}

TEST_CASE(
    "pooling forward and backward (the unfold's gather and scatter) give bitwise the "
    "same results on 1, 2 and 3 threads",
    "[threads]") {
  const Tensor x = randn({64, 8, 28, 28}, DType::f32);
  for (bool max_pool : {true, false}) {
    check_bitwise_on_threads([&] {
      const Tensor input = x.detach().requires_grad_();
      nn::MaxPool2d max(2);
      nn::AvgPool2d avg(3, 1, 1);
      const Tensor y = max_pool ? max.forward(input) : avg.forward(input);
      (y * y).sum().backward();
      return cat({y.reshape({-1}), input.grad().reshape({-1})}, 0);
    });
  }
}

TEST_CASE(
    "batch_norm and max_pool2d on a CNN's small late planes (the digits CNN's third layer) are "
    "split over the threads and give bitwise the same values and gradients on 1, 2 and 3 threads",
    "[threads]") {
  const Tensor x = randn({32, 64, 4, 4}, DType::f32);
  const Tensor weight = randn({64}, DType::f32), bias = randn({64}, DType::f32);
  check_bitwise_on_threads([&] {
    const Tensor input = x.detach().requires_grad_();
    const Tensor w = weight.detach().requires_grad_(), b = bias.detach().requires_grad_();
    const std::vector<Tensor> normalised = batch_norm(input, w, b);
    const Tensor pooled = max_pool2d(normalised[0], {.kernel = {2, 2}, .stride = {2, 2}});
    (pooled * pooled).sum().backward();
    return cat({normalised[0].reshape({-1}), normalised[1], normalised[2], pooled.reshape({-1}),
                input.grad().reshape({-1}), w.grad(), b.grad()},
               0);
  });
}

TEST_CASE("the fused Adam step gives bitwise the same parameters on 1, 2 and 3 threads",
          "[threads]") {
  const std::int64_t n = 3 * kParallelGrain + 5;
  const Tensor param = offset_randn(n, DType::f32), grad = offset_randn(n, DType::f32);
  // Optimizer state shares the parameter's alignment (here 3 elements off).
  const Tensor m = offset_randn(n, DType::f32).abs(), v = offset_randn(n, DType::f32).abs();
  const AdamStep step{0.9, 0.999, 1e-3, 1.2, 1e-8};
  check_bitwise_on_threads([&] {
    const auto copy = [](const Tensor& t) {
      Tensor view = offset_randn(t.numel(), DType::f32);
      view.copy_(t);
      return view;
    };
    const Tensor p = copy(param), m1 = copy(m), v1 = copy(v);
    backend::backend_for(Device::cpu()).adam_step(p, grad.clone(), m1, v1, step);
    return cat({p, m1, v1}, 0);
  });
}

TEST_CASE(
    "matrix products split over 2 and 3 threads match one thread's to rounding, on every "
    "route, and repeat bitwise for a given thread count",
    "[threads]") {
  const Tensor a = randn({301, 200}, DType::f64), b = randn({200, 150}, DType::f64);
  const Tensor a32 = a.to(DType::f32), b32 = b.to(DType::f32);
  for (const backend::GemmRoute route :
       {backend::GemmRoute::eigen, backend::GemmRoute::openblas, backend::GemmRoute::native}) {
    const backend::GemmRoute before = backend::set_cpu_gemm_route(route);
    for (const auto& [x, y, tolerance] :
         {std::tuple{a, b, 1e-11}, std::tuple{a32, b32, 1e-4},
          std::tuple{a.transpose(0, 1).contiguous().transpose(0, 1), b, 1e-11}}) {
      const std::vector<Tensor> results = on_1_2_3_threads([&] { return matmul(x, y); });
      // Entries are sums of 200 products of magnitude ~1: rounding of the
      // k-sum's order is ~1e-13 in f64 and ~1e-5 in f32.
      CHECK(amax(abs(results[1] - results[0])).item<double>() <= tolerance);
      CHECK(amax(abs(results[2] - results[0])).item<double>() <= tolerance);
      const ThreadsGuard guard;
      set_num_threads(3);
      CHECK(bitwise_equal(contiguous(matmul(x, y)), results[2]));
    }
    backend::set_cpu_gemm_route(before);
  }
}
