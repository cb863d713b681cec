// DistributedDataParallel on 2 ranks: training equals one process on the
// whole batch, the ranks stay identical bit for bit, and the bucketed,
// overlapped reduction equals one all-reduce after backward.
#include <catch2/catch.hpp>

#include "checks.h"

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tether/constraint_library.h"
#include "tether/distributed/ddp.h"
#include "tether/distributed/distributed.h"
#include "tether/generator.h"
#include "tether/grad_mode.h"
#include "tether/nn/activation.h"
#include "tether/nn/functional.h"
#include "tether/nn/linear.h"
#include "tether/nn/normalization.h"
#include "tether/nn/sequential.h"
#include "tether/ops.h"
#include "tether/optim/optimizer.h"

using Catch::Matchers::Contains;
using tether::DType;
using tether::Tensor;
using tether::testing::check_throws;
namespace distributed = tether::distributed;
namespace nn = tether::nn;
using distributed::DistributedDataParallel;

namespace {

constexpr std::int64_t kRows = 4;  // per rank

/// The MLP of the issue: a spectrally normalised layer, tanh, a plain layer (f64).
std::shared_ptr<nn::Sequential> make_mlp(std::uint64_t seed) {
  tether::manual_seed(seed);
  auto first = std::make_shared<nn::Linear>(3, 8, true, DType::f64);
  first->weight = tether::spectrally_normalize(first->weight);
  return std::make_shared<nn::Sequential>(first, std::make_shared<nn::Tanh>(),
                                          std::make_shared<nn::Linear>(8, 2, true, DType::f64));
}

/// Step `step`'s batch of both ranks (the same on every rank): x [8, 3], y [8, 2].
std::pair<Tensor, Tensor> whole_batch(int step) {
  tether::manual_seed(1000 + step);
  Tensor x = tether::randn({2 * kRows, 3}, DType::f64);
  return {x, tether::sin(x.narrow(1, 0, 2)) + 0.1 * tether::randn({2 * kRows, 2}, DType::f64)};
}

/// This rank's rows of a whole batch.
Tensor my_rows(const Tensor& t) {
  return t.narrow(0, kRows * distributed::rank(), kRows);
}

Tensor loss_of(nn::Sequential& model, const Tensor& x, const Tensor& y) {
  return nn::mse_loss(model(x), y);
}

/// `steps` steps of `optimizer` on this rank's rows of the first whole batches.
void train_on_my_rows(nn::Sequential& model, tether::optim::Optimizer& optimizer, int steps) {
  for (int step = 0; step < steps; ++step) {
    const auto [x, y] = whole_batch(step);
    optimizer.zero_grad();
    loss_of(model, my_rows(x), my_rows(y)).backward();
    optimizer.step();
  }
}

/// Whether `t` holds the same bits on every rank.
bool same_bits_everywhere(const Tensor& t) {
  Tensor copy = t.detach().clone();
  distributed::broadcast(copy, 0);
  const auto mine = t.detach().contiguous().to_vector<double>();
  int same = mine == copy.to_vector<double>() ? 1 : 0;
  Tensor all_same = tether::scalar_tensor(same, DType::i64);
  distributed::all_reduce(all_same, distributed::ReduceOp::sum);
  return all_same.item<std::int64_t>() == distributed::world_size();
}

double max_difference(nn::Module& a, nn::Module& b) {
  const tether::StateDict sa = a.state_dict(), sb = b.state_dict();
  double worst = 0;
  for (const auto& [name, t] : sa)
    if (t.is_floating_point())
      worst = std::max(worst, tether::amax(tether::abs(t - sb.at(name))).item<double>());
  return worst;
}

/// make_mlp(1) after one backward, without DistributedDataParallel, on this
/// rank's rows of `x`, `y`: the local gradients.
std::shared_ptr<nn::Sequential> with_local_gradients(const Tensor& x, const Tensor& y) {
  auto plain = make_mlp(1);
  loss_of(*plain, my_rows(x), my_rows(y)).backward();
  return plain;
}

/// Layer `index` of make_mlp's model (0: the normalised one, 2: the last).
nn::Linear& linear(nn::Sequential& model, int index) {
  return dynamic_cast<nn::Linear&>(*model[index]);
}

/// Gradients of every parameter, in order.
std::vector<Tensor> grads_of(nn::Module& module) {
  std::vector<Tensor> grads;
  for (const Tensor& p : module.parameters()) grads.push_back(p.grad().clone());
  return grads;
}

}  // namespace

TEST_CASE("DistributedDataParallel starts every rank from rank 0's parameters and buffers",
          "[ddp]") {
  auto reference = make_mlp(1);
  auto model = make_mlp(1 + 100 * distributed::rank());
  DistributedDataParallel ddp(model);
  CHECK(max_difference(*model, *reference) == 0);
}

TEST_CASE(
    "20 steps of DistributedDataParallel on 2 ranks equal one process on the whole batches, "
    "and the ranks' parameters agree bit for bit",
    "[ddp]") {
  auto reference = make_mlp(1);
  auto model = make_mlp(1 + 100 * distributed::rank());
  DistributedDataParallel ddp(model);
  tether::optim::SGD reference_sgd(reference->parameters(), {.lr = 0.1, .momentum = 0.9});
  tether::optim::SGD sgd(model->parameters(), {.lr = 0.1, .momentum = 0.9});
  for (int step = 0; step < 20; ++step) {
    const auto [x, y] = whole_batch(step);
    reference_sgd.zero_grad();
    loss_of(*reference, x, y).backward();
    reference_sgd.step();
    sgd.zero_grad();
    loss_of(*model, my_rows(x), my_rows(y)).backward();
    sgd.step();
  }
  CHECK(max_difference(*model, *reference) < 1e-6);
  for (const auto& [name, t] : model->state_dict()) {
    INFO(name);
    CHECK(same_bits_everywhere(t));
  }
}

TEST_CASE("spectral norm's u and v stay identical on every rank over 100 steps, unbroadcast",
          "[ddp]") {
  auto model = make_mlp(2 + distributed::rank());
  DistributedDataParallel ddp(model, {.broadcast_buffers = false});
  tether::optim::Adam adam(model->parameters(), {.lr = 0.01});
  train_on_my_rows(*model, adam, 100);
  const tether::StateDict state = model->state_dict();
  REQUIRE(state.count("0.weight.u") == 1);
  CHECK(same_bits_everywhere(state.at("0.weight.u")));
  CHECK(same_bits_everywhere(state.at("0.weight.v")));
}

TEST_CASE("batch norm's running statistics are rank 0's after each backward (broadcast_buffers)",
          "[ddp]") {
  tether::manual_seed(3);
  auto model = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Linear>(3, 4, true, DType::f64),
      std::make_shared<nn::BatchNorm1d>(4, 1e-5, 0.1, true, DType::f64));
  DistributedDataParallel ddp(model);
  const auto [x, y] = whole_batch(0);
  (*model)(my_rows(x)).sum().backward();
  CHECK(same_bits_everywhere(model->state_dict().at("1.running_mean")));
  CHECK(same_bits_everywhere(model->state_dict().at("1.running_var")));
}

TEST_CASE("buckets follow reverse registration order and close at bucket_cap_bytes", "[ddp]") {
  auto model = make_mlp(1);
  const auto whole = DistributedDataParallel(model).buckets();
  REQUIRE(whole.size() == 1);
  CHECK(whole[0] == std::vector<std::string>{"2.bias", "2.weight", "0.bias", "0.weight.raw"});
  // 2.bias is 16 bytes, 2.weight 128: a 100-byte cap closes a bucket once it holds 100 or more.
  const auto small = DistributedDataParallel(model, {.bucket_cap_bytes = 100}).buckets();
  CHECK(small ==
        std::vector<std::vector<std::string>>{{"2.bias", "2.weight"}, {"0.bias", "0.weight.raw"}});
}

TEST_CASE("bucketed reduction overlapping backward gives the gradients of one all-reduce after it",
          "[ddp]") {
  const auto [x, y] = whole_batch(0);
  const auto plain = with_local_gradients(x, y);
  for (const Tensor& p : plain->parameters()) {
    tether::NoGradGuard no_grad;
    distributed::all_reduce(p.grad(), distributed::ReduceOp::mean);
  }
  auto model = make_mlp(1);
  DistributedDataParallel ddp(model, {.bucket_cap_bytes = 1});  // a bucket per parameter
  REQUIRE(ddp.buckets().size() == 4);
  loss_of(*model, my_rows(x), my_rows(y)).backward();
  const auto expected = grads_of(*plain), got = grads_of(*model);
  for (std::size_t i = 0; i < got.size(); ++i)
    CHECK(got[i].to_vector<double>() == expected[i].to_vector<double>());
}

TEST_CASE("under no_sync gradients accumulate locally; the next backward averages the sum",
          "[ddp]") {
  const auto [x, y] = whole_batch(0);
  const auto [x2, y2] = whole_batch(1);
  auto plain = make_mlp(1);
  loss_of(*plain, my_rows(x), my_rows(y)).backward();
  loss_of(*plain, my_rows(x2), my_rows(y2)).backward();
  for (const Tensor& p : plain->parameters()) {
    tether::NoGradGuard no_grad;
    distributed::all_reduce(p.grad(), distributed::ReduceOp::mean);
  }
  auto model = make_mlp(1);
  DistributedDataParallel ddp(model);
  {
    auto local = ddp.no_sync();
    loss_of(*model, my_rows(x), my_rows(y)).backward();
  }
  loss_of(*model, my_rows(x2), my_rows(y2)).backward();
  const auto expected = grads_of(*plain), got = grads_of(*model);
  for (std::size_t i = 0; i < got.size(); ++i)
    CHECK(tether::amax(tether::abs(got[i] - expected[i])).item<double>() == 0);
}

TEST_CASE("a parameter without a gradient is named by backward's DistributedError, not a hang",
          "[ddp]") {
  auto model = make_mlp(1);
  DistributedDataParallel ddp(model);
  auto& last = linear(*model, 2);
  const auto [x, y] = whole_batch(0);
  // Only the bias of the last layer is used on every rank.
  Tensor loss = (last.bias->value() * 1.0).sum() + 0.0 * my_rows(x).sum();
  check_throws<distributed::DistributedError>(
      [&] { loss.backward(); }, Contains("DistributedDataParallel") && Contains("2.weight") &&
                                    Contains("find_unused_parameters"));
}

TEST_CASE(
    "with find_unused_parameters, a parameter one rank left unused gets the ranks' average, "
    "that rank counting zeros",
    "[ddp]") {
  const auto [x, y] = whole_batch(0);
  const auto plain = with_local_gradients(x, y);
  Tensor expected = linear(*plain, 2).weight->value().grad().clone();
  distributed::broadcast(expected, 0);  // rank 0's gradient, averaged with rank 1's zeros
  expected = expected / 2.0;
  auto model = make_mlp(1);
  DistributedDataParallel ddp(model, {.find_unused_parameters = true});
  auto& last = linear(*model, 2);
  Tensor loss = distributed::rank() == 0 ? loss_of(*model, my_rows(x), my_rows(y))
                                         : (last.bias->value() * 2.0).sum();
  loss.backward();
  Tensor weight_grad = last.weight->value().grad();
  REQUIRE(weight_grad.defined());
  CHECK(weight_grad.to_vector<double>() == expected.to_vector<double>());
  CHECK(same_bits_everywhere(model->parameters().back().grad()));
}

TEST_CASE(
    "with find_unused_parameters, a parameter that no rank used keeps no gradient, as torch's "
    "None",
    "[ddp]") {
  auto model = make_mlp(1);
  DistributedDataParallel ddp(model, {.find_unused_parameters = true});
  auto& last = linear(*model, 2);
  (last.bias->value() * (1.0 + distributed::rank())).sum().backward();
  CHECK_FALSE(last.weight->value().grad().defined());
  CHECK_FALSE(linear(*model, 0).bias->value().grad().defined());
  REQUIRE(last.bias->value().grad().defined());
  CHECK(last.bias->value().grad().to_vector<double>() == std::vector<double>{1.5, 1.5});
}

TEST_CASE(
    "with find_unused_parameters, gradients accumulated under no_sync are averaged when the "
    "next backward leaves them unused",
    "[ddp]") {
  const auto [x, y] = whole_batch(0);
  const auto plain = with_local_gradients(x, y);
  auto model = make_mlp(1);
  DistributedDataParallel ddp(model, {.find_unused_parameters = true});
  {
    auto local = ddp.no_sync();
    loss_of(*model, my_rows(x), my_rows(y)).backward();
  }
  auto& last = linear(*model, 2);
  (last.bias->value() * 0.0).sum().backward();
  const auto expected = grads_of(*plain), got = grads_of(*model);
  for (std::size_t i = 0; i < got.size(); ++i) {
    tether::NoGradGuard no_grad;
    distributed::all_reduce(expected[i], distributed::ReduceOp::mean);
    CHECK(got[i].to_vector<double>() == expected[i].to_vector<double>());
  }
}

TEST_CASE("communication_wait counts the reducing backwards and their waits, not no_sync's",
          "[ddp]") {
  auto model = make_mlp(1);
  DistributedDataParallel ddp(model);
  const auto [x, y] = whole_batch(0);
  CHECK(ddp.communication_wait().backwards == 0);
  {
    auto local = ddp.no_sync();
    loss_of(*model, my_rows(x), my_rows(y)).backward();
  }
  CHECK(ddp.communication_wait().backwards == 0);
  loss_of(*model, my_rows(x), my_rows(y)).backward();
  loss_of(*model, my_rows(x), my_rows(y)).backward();
  CHECK(ddp.communication_wait().backwards == 2);
  CHECK(ddp.communication_wait().seconds >= 0);
}

TEST_CASE("rank 0 writes the checkpoint; every rank resumes with the same model and optimizer",
          "[ddp]") {
  // One file for both ranks, named after rank 0's process.
  Tensor pid = tether::scalar_tensor(static_cast<double>(::getpid()), DType::i64);
  distributed::broadcast(pid, 0);
  const std::string path = "/tmp/tether_distributed_checkpoint_" +
                           std::to_string(pid.item<std::int64_t>()) + ".safetensors";
  auto model = make_mlp(1 + distributed::rank());
  DistributedDataParallel ddp(model);
  tether::optim::Adam adam(model->parameters(), {.lr = 0.01});
  train_on_my_rows(*model, adam, 3);
  distributed::save_checkpoint(path, *model, adam);
  auto resumed = make_mlp(7 + distributed::rank());
  tether::optim::Adam resumed_adam(resumed->parameters(), {.lr = 0.5});
  tether::training::load_checkpoint(path, *resumed, resumed_adam);
  distributed::barrier();
  if (distributed::rank() == 0) std::remove(path.c_str());
  CHECK(max_difference(*resumed, *model) == 0);
  for (const auto& [name, t] : resumed_adam.state_dict()) {
    INFO(name);
    CHECK(same_bits_everywhere(t));
  }
}
