// The collectives on 2 ranks (and NCCL's on 1): what every rank holds after each.
#include <catch2/catch.hpp>

#include "checks.h"

#include <iostream>
#include <vector>

#include "tether/distributed/distributed.h"
#include "tether/ops.h"

using Catch::Matchers::Contains;
using tether::DType;
using tether::Tensor;
using tether::testing::check_throws;
namespace distributed = tether::distributed;
using distributed::ReduceOp;

namespace {

Tensor f64(const std::vector<double>& values) {
  return tether::tensor(values, {static_cast<std::int64_t>(values.size())}, DType::f64);
}

std::vector<double> values(const Tensor& t) {
  return t.to_vector<double>();
}

/// Rank r's {r + 1, 10 (r + 1)}: rank 0 has {1, 10}, rank 1 {2, 20}.
Tensor mine() {
  const double r = distributed::rank() + 1;
  return f64({r, 10 * r});
}

}  // namespace

TEST_CASE("the test runs on two ranks", "[collectives]") {
  REQUIRE(distributed::is_initialized());
  REQUIRE(distributed::world_size() == 2);
}

TEST_CASE("all_reduce leaves the sum, mean or maximum of every rank's tensor on every rank",
          "[collectives]") {
  Tensor sum = mine(), mean = mine(), max = mine();
  distributed::all_reduce(sum);
  distributed::all_reduce(mean, ReduceOp::mean);
  distributed::all_reduce(max, ReduceOp::max);
  CHECK(values(sum) == std::vector<double>{3, 30});
  CHECK(values(mean) == std::vector<double>{1.5, 15});
  CHECK(values(max) == std::vector<double>{2, 20});
}

TEST_CASE("all_reduce writes into a non-contiguous tensor in place and bumps its version",
          "[collectives]") {
  Tensor base = tether::zeros({2, 2}, DType::f64);
  base.select(1, 0).copy_(mine());
  Tensor column = base.select(1, 0);
  const auto version = base.version();
  distributed::all_reduce(column);
  CHECK(values(base) == std::vector<double>{3, 0, 30, 0});
  CHECK(base.version() > version);
}

TEST_CASE("broadcast copies the root's tensor to every rank; a root outside the world throws",
          "[collectives]") {
  Tensor t = mine();
  distributed::broadcast(t, 1);
  CHECK(values(t) == std::vector<double>{2, 20});
  check_throws<tether::ValueError>([&] { distributed::broadcast(t, 2); },
                                   Contains("broadcast") && Contains("root 2"));
}

TEST_CASE("all_gather concatenates the ranks' tensors along dimension 0 in rank order",
          "[collectives]") {
  Tensor gathered = distributed::all_gather(mine().view({1, 2}));
  CHECK(gathered.shape() == tether::Shape{2, 2});
  CHECK(values(gathered) == std::vector<double>{1, 10, 2, 20});
  Tensor scalars = distributed::all_gather(tether::scalar_tensor(distributed::rank(), DType::f64));
  CHECK(values(scalars) == std::vector<double>{0, 1});
}

TEST_CASE("reduce_scatter sums the ranks' tensors and gives rank r part r", "[collectives]") {
  Tensor part = distributed::reduce_scatter(mine());
  CHECK(values(part) == std::vector<double>{distributed::rank() == 0 ? 3.0 : 30.0});
  Tensor mean = distributed::reduce_scatter(mine(), ReduceOp::mean);
  CHECK(values(mean) == std::vector<double>{distributed::rank() == 0 ? 1.5 : 15.0});
  check_throws<tether::ShapeError>(
      [&] {
        distributed::reduce_scatter(f64({1, 2, 3}));
      },
      Contains("reduce_scatter") && Contains("[3]"));
}

TEST_CASE("collectives refuse what they cannot do, naming themselves", "[collectives]") {
  check_throws<tether::DTypeError>(
      [&] { distributed::all_reduce(tether::ones({2}, DType::i64), ReduceOp::mean); },
      Contains("all_reduce") && Contains("mean"));
  check_throws<tether::DTypeError>(
      [&] { distributed::all_reduce(tether::ones({2}, DType::i64) > 0); },
      Contains("all_reduce") && Contains("got bool"));
  Tensor trainable = mine().requires_grad_();
  check_throws<tether::AutogradError>([&] { distributed::all_reduce(trainable); },
                                      Contains("all_reduce") && Contains("requires grad"));
  check_throws<tether::ValueError>([&] { distributed::all_reduce(Tensor()); },
                                   Contains("all_reduce"));
  distributed::barrier();
}

TEST_CASE("an MPI error is a DistributedError naming the collective and the rank",
          "[collectives]") {
  // Rank 1 expects fewer elements than rank 0 sends: MPI reports truncation there.
  Tensor t = tether::zeros({distributed::rank() == 0 ? 64 : 1}, DType::f64);
  if (distributed::rank() == 1)
    check_throws<distributed::DistributedError>([&] { distributed::broadcast(t, 0); },
                                                Contains("broadcast: rank 1 of 2: MPI error"));
  else
    distributed::broadcast(t, 0);
  distributed::barrier();
}

TEST_CASE("NCCL all-reduces a CUDA tensor in place", "[nccl]") {
  if (tether::device_count(tether::DeviceType::cuda) == 0) {
    std::cout << "TETHER_TEST_SKIPPED: no usable CUDA device in this build or machine" << std::endl;
    return;
  }
  const tether::Device gpu = tether::Device::cuda(0);
  Tensor t = f64({1, 2, 3}).to(gpu);
  distributed::all_reduce(t);
  const double n = distributed::world_size();
  CHECK(values(t.to(tether::Device::cpu())) == std::vector<double>{n, 2 * n, 3 * n});
  distributed::all_reduce(t, ReduceOp::mean);
  CHECK(values(t.to(tether::Device::cpu())) == std::vector<double>{n, 2 * n, 3 * n});
  Tensor gathered = distributed::all_gather(t);
  CHECK(gathered.numel() == 3 * distributed::world_size());
}
