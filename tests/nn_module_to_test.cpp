// nn::Module::to: converting a module's parameter slots, buffers and children
// in place.
#include <tether/tether.h>
#include <catch2/catch.hpp>

using namespace tether;

namespace {

/// A module with a child, a floating-point buffer and an integer one.
struct WithBuffers : nn::Module {
  Tensor running_mean = zeros({2});
  Tensor batches_seen = zeros({1}, DType::i64);
  std::shared_ptr<nn::Linear> fc;
  WithBuffers() {
    register_buffer("running_mean", running_mean);
    register_buffer("batches_seen", batches_seen);
    fc = register_module("fc", std::make_shared<nn::Linear>(2, 2));
    fc->weight = spectrally_normalize(fc->weight);
  }
};

std::vector<std::string> keys(const StateDict& state) {
  std::vector<std::string> names;
  for (const auto& [key, tensor] : state) names.push_back(key);
  return names;
}

}  // namespace

TEST_CASE("a spectrally normalised Linear moved to f64 computes the same output", "[module]") {
  manual_seed(5);
  nn::Linear linear(3, 4);
  linear.weight = spectrally_normalize(linear.weight);
  const Tensor x = randn({5, 3});
  linear(x);  // a training-mode forward runs the power iteration once
  linear.eval();
  const std::vector<float> before = linear(x).to_vector<float>();
  const auto keys_before = keys(linear.state_dict());

  linear.to(DType::f64);
  const Tensor y = linear(x.to(DType::f64));
  CHECK(y.dtype() == DType::f64);
  const std::vector<double> after = y.to_vector<double>();
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < after.size(); ++i) CHECK(after[i] == Approx(before[i]).margin(1e-6));
  CHECK(keys(linear.state_dict()) == keys_before);
  for (const auto& [key, tensor] : linear.state_dict()) CHECK(tensor.dtype() == DType::f64);
}

TEST_CASE("Module::to converts buffers and children in place, integers kept", "[module]") {
  WithBuffers module;
  const Tensor mean_handle = module.running_mean;
  const std::vector<Tensor> parameters = module.parameters();
  const auto keys_before = keys(module.state_dict());

  module.to(DType::f64);
  CHECK(mean_handle.dtype() == DType::f64);  // the handle taken before sees the new data
  CHECK(module.batches_seen.dtype() == DType::i64);
  CHECK(module.fc->weight->value().dtype() == DType::f64);
  const std::vector<Tensor> converted = module.parameters();
  REQUIRE(converted.size() == parameters.size());
  for (std::size_t i = 0; i < converted.size(); ++i) {
    CHECK(converted[i].is_same(parameters[i]));  // an optimizer built before holds these
    CHECK(converted[i].dtype() == DType::f64);
  }
  CHECK(keys(module.state_dict()) == keys_before);
}

TEST_CASE("Module::to a device moves every tensor, or throws and changes nothing", "[module]") {
  WithBuffers module;
  if (!cuda_is_available()) {
    CHECK_THROWS_AS(module.to(Device::cuda()), DeviceError);
    for (const auto& [key, tensor] : module.state_dict()) CHECK(tensor.device() == Device::cpu());
    return;
  }
  module.eval();  // no power iteration, so both forwards use the same u and v
  const Tensor x = randn({3, 2});
  const std::vector<float> on_cpu = (*module.fc)(x).to_vector<float>();
  module.to(Device::cuda());
  for (const auto& [key, tensor] : module.state_dict()) CHECK(tensor.device() == Device::cuda());
  const std::vector<float> on_gpu = (*module.fc)(x.to(Device::cuda())).to_vector<float>();
  for (std::size_t i = 0; i < on_cpu.size(); ++i)
    CHECK(on_gpu[i] == Approx(on_cpu[i]).margin(1e-5));
}
