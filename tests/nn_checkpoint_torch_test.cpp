// Checkpoints that move between tether and PyTorch: half-precision safetensors
// tensors and PyTorch's parametrization keys, against files torch wrote
// (tests/data/torch_checkpoints/make_checkpoints.py, which also loads a
// tether-saved file back into torch in its check mode).
#include <tether/tether.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "corpus_files.h"
#include "scratch_directory.h"

using namespace tether;
using Catch::Matchers::Contains;

namespace {

const std::string torch_checkpoints =
    testing::source_tree() / "tests" / "data" / "torch_checkpoints";

struct ScratchDirectory : testing::ScratchDirectory {
  ScratchDirectory() : testing::ScratchDirectory("tether_nn_checkpoint_torch_test") {}
};

/// Whether f32 tensors hold the same bits, any NaN matching any NaN.
void check_same_floats(const Tensor& got, const Tensor& expected) {
  REQUIRE(got.dtype() == DType::f32);
  REQUIRE(got.shape() == expected.shape());
  const float* a = got.contiguous().data_ptr<float>();
  const float* b = expected.contiguous().data_ptr<float>();
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    INFO("element " << i << ": " << a[i] << " vs torch's " << b[i]);
    if (std::isnan(b[i])) {
      CHECK(std::isnan(a[i]));
    } else {
      std::uint32_t x, y;
      std::memcpy(&x, &a[i], 4);
      std::memcpy(&y, &b[i], 4);
      CHECK(x == y);
    }
  }
}

/// make_checkpoints.py's Model, built the tether way.
struct TorchModel : nn::Module {
  std::shared_ptr<nn::Linear> sn, orth, orth_wide, wn;

  TorchModel() {
    sn = register_module("sn", std::make_shared<nn::Linear>(4, 3));
    sn->weight = spectrally_normalize(sn->weight);
    orth = register_module("orth", std::make_shared<nn::Linear>(4, 4));
    orth->weight = constrain(orth->weight, constraints::orthogonal());
    orth_wide = register_module("orth_wide", std::make_shared<nn::Linear>(5, 3));
    orth_wide->weight = constrain(orth_wide->weight, constraints::orthogonal());
    wn = register_module("wn", std::make_shared<nn::Linear>(3, 2));
    wn->weight = constrain(wn->weight, constraints::weight_norm(0));
  }

  Tensor forward(const Tensor& x) {
    const Tensor h = tanh(orth->forward(matmul(tanh(sn->forward(x)), ones({3, 4})) / 3.0 + x));
    return wn->forward(tanh(orth_wide->forward(cat({h, narrow(x, 1, 0, 1)}, 1))));
  }
};

/// The bytes of a safetensors file's data area: what follows its header.
std::uint64_t data_size(const std::string& path) {
  std::uint64_t header = 0;
  std::ifstream(path, std::ios::binary).read(reinterpret_cast<char*>(&header), sizeof header);
  return std::filesystem::file_size(path) - sizeof header - header;
}

double max_difference(const Tensor& a, const Tensor& b) {
  return amax(abs(a - b)).item<double>();
}

}  // namespace

TEST_CASE("F16 and BF16 tensors torch wrote read as torch's f32 values, in every bit class") {
  // Zeros, subnormals, normals, the largest finite value, inf and NaN, both signs.
  const StateDict half = nn::load_safetensors(torch_checkpoints + "/half.safetensors");
  check_same_floats(half.at("f16"), half.at("f16_as_f32"));
  check_same_floats(half.at("bf16"), half.at("bf16_as_f32"));
}

TEST_CASE("HalfPrecision::refuse makes a half-precision tensor a CheckpointError naming the key") {
  CHECK_THROWS_MATCHES(nn::load_safetensors(torch_checkpoints + "/half.safetensors",
                                            {.half = nn::HalfPrecision::refuse}),
                       nn::CheckpointError,
                       Catch::Matchers::Predicate<nn::CheckpointError>([](const auto& e) {
                         const std::string message = e.what();
                         return message.find("half precision") != std::string::npos &&
                                message.find("HalfPrecision::refuse") != std::string::npos &&
                                message.find("key \"") != std::string::npos;
                       }));
}

TEST_CASE(
    "FloatStorage f16 and bf16 round f32 and f64 to nearest even, as torch's half() and "
    "bfloat16()") {
  // Ties, the overflow edge (65520 becomes inf), subnormals, underflow to a
  // signed zero, NaN and random values over sixteen decades.
  const StateDict half = nn::load_safetensors(torch_checkpoints + "/half.safetensors");
  const Tensor inputs = half.at("inputs");
  ScratchDirectory scratch;
  for (const auto& [storage, expected] : {std::pair(nn::FloatStorage::f16, "inputs_as_f16"),
                                          std::pair(nn::FloatStorage::bf16, "inputs_as_bf16")}) {
    INFO(expected);
    nn::save_safetensors(
        scratch / "half.safetensors",
        {{"f32", inputs}, {"f64", inputs.to(DType::f64)}, {"i64", zeros({2}, DType::i64)}}, {},
        {.floats = storage});
    const StateDict written = nn::load_safetensors(scratch / "half.safetensors");
    // Widening is one-to-one but for NaN, so equal f32 values mean equal half bits.
    check_same_floats(written.at("f32"), half.at(expected));
    check_same_floats(written.at("f64"), half.at(expected));
    CHECK(written.at("i64").dtype() == DType::i64);
  }
}

TEST_CASE("a half-precision file is half the size and loads into a module as f32") {
  manual_seed(0);
  TorchModel model, fresh;
  ScratchDirectory scratch;
  model.save(scratch / "f32.safetensors");
  model.save(scratch / "bf16.safetensors", {.floats = nn::FloatStorage::bf16});
  CHECK(data_size(scratch / "bf16.safetensors") * 2 == data_size(scratch / "f32.safetensors"));
  fresh.load(scratch / "bf16.safetensors");
  for (const auto& [key, tensor] : fresh.state_dict()) {
    INFO(key);
    CHECK(tensor.dtype() == DType::f32);
    CHECK(max_difference(tensor, model.state_dict().at(key)) <=
          std::ldexp(amax(abs(tensor)).item<double>(), -8));
  }
  CHECK_THROWS_AS(fresh.load(scratch / "bf16.safetensors", {.half = nn::HalfPrecision::refuse}),
                  nn::CheckpointError);
}

TEST_CASE("state_dict(Naming::pytorch) has the keys of torch's parametrizations") {
  TorchModel model;
  StateDict torch_state = nn::load_safetensors(torch_checkpoints + "/model.safetensors");
  std::vector<std::string> expected, got;
  for (const auto& [key, tensor] : torch_state) expected.push_back(key);
  for (const auto& [key, tensor] : model.state_dict(nn::Naming::pytorch)) got.push_back(key);
  CHECK(got == expected);
  CHECK(model.state_dict().count("sn.weight.u") == 1);
}

TEST_CASE(
    "a model trained in torch with spectral_norm, orthogonal and weight_norm loads into "
    "tether and gives torch's eval output to 1e-6") {
  TorchModel model;
  model.load(torch_checkpoints + "/model.safetensors");  // strict: every key matched
  model.eval();
  const StateDict expected = nn::load_safetensors(torch_checkpoints + "/expected.safetensors");
  NoGradGuard no_grad;
  CHECK(max_difference(model.forward(expected.at("input")), expected.at("output")) <= 1e-6);
}

TEST_CASE("a model trained on in tether saves in torch's naming and loads back exactly") {
  TorchModel model;
  model.load(torch_checkpoints + "/model.safetensors");
  const Tensor x = nn::load_safetensors(torch_checkpoints + "/expected.safetensors").at("input");
  optim::SGD sgd(model.parameters(), {.lr = 0.1});
  for (int step = 0; step < 3; ++step) {
    sgd.zero_grad();
    const Tensor y = model.forward(x);
    sum(y * y).backward();
    sgd.step();
  }
  model.eval();
  ScratchDirectory scratch;
  model.save(scratch / "from_tether.safetensors", {.naming = nn::Naming::pytorch});
  TorchModel fresh;
  fresh.load(scratch / "from_tether.safetensors");
  fresh.eval();
  NoGradGuard no_grad;
  const Tensor output = model.forward(x);
  CHECK(max_difference(fresh.forward(x), output) == 0.0);
  // For `make_checkpoints.py check DIR`, which loads the file into torch.
  if (const char* directory = std::getenv("TETHER_TORCH_CHECKPOINT_DIR")) {
    const std::string dir = directory;
    model.save(dir + "/from_tether.safetensors", {.naming = nn::Naming::pytorch});
    nn::save_safetensors(dir + "/from_tether_expected.safetensors",
                         {{"input", x}, {"output", output}});
  }
}

TEST_CASE("an orthogonal weight from torch's householder map loads by value through assign") {
  // torch's default map for a non-square weight reads its input otherwise than
  // tether's matrix_exp: its value, not its input, carries over.
  const Tensor q =
      nn::load_safetensors(torch_checkpoints + "/expected.safetensors").at("householder_weight");
  nn::Linear linear(5, 3);
  auto weight = constrain(linear.weight, constraints::orthogonal());
  weight->assign(q);
  CHECK(max_difference(weight->value(), q) <= 1e-6);
}

TEST_CASE(
    "load_state_dict takes tether's name over its PyTorch alias, which a strict load reports "
    "as unexpected") {
  TorchModel model;
  StateDict state = model.state_dict();
  state["sn.parametrizations.weight.original"] = zeros({3, 4});
  CHECK_THROWS_WITH(model.load_state_dict(state),
                    Contains("unexpected key \"sn.parametrizations.weight.original\""));
  const nn::IncompatibleKeys keys = model.load_state_dict(state, false);
  CHECK(keys.missing_keys.empty());
  CHECK(keys.unexpected_keys == std::vector<std::string>{"sn.parametrizations.weight.original"});
  CHECK(amax(abs(model.sn->weight->value())).item<double>() > 0.0);
}

TEST_CASE("a PyTorch-named key of the wrong shape is a ShapeError naming it and tether's name") {
  TorchModel model;
  StateDict state = model.state_dict(nn::Naming::pytorch);
  state["orth.parametrizations.weight.0.base"] = zeros({3, 3});
  CHECK_THROWS_MATCHES(
      model.load_state_dict(state), ShapeError,
      Catch::Matchers::Predicate<ShapeError>([](const ShapeError& e) {
        return std::string(e.what()).find(
                   "key \"orth.parametrizations.weight.0.base\" (tether's \"orth.weight.base\") "
                   "has shape [3, 3]") != std::string::npos;
      }));
}

TEST_CASE(
    "a model trained with torch's old spectral_norm and weight_norm hooks loads, and "
    "continues training with torch's outputs to 1e-6") {
  // The hook's power iteration updates v, then u, as tether's does, so even
  // the training-mode forward after loading matches.
  struct LegacyModel : nn::Module {
    std::shared_ptr<nn::Linear> sn, wn;
    LegacyModel() {
      sn = register_module("sn", std::make_shared<nn::Linear>(4, 3));
      sn->weight = spectrally_normalize(sn->weight);
      wn = register_module("wn", std::make_shared<nn::Linear>(3, 2));
      wn->weight = constrain(wn->weight, constraints::weight_norm(0));
    }
    Tensor forward(const Tensor& x) { return wn->forward(tanh(sn->forward(x))); }
  } model;
  StateDict state = nn::load_safetensors(torch_checkpoints + "/legacy.safetensors");
  const Tensor x = state.at("expected.input");
  const Tensor eval_output = state.at("expected.eval_output");
  const Tensor train_output = state.at("expected.train_output");
  for (const char* key : {"expected.input", "expected.eval_output", "expected.train_output"})
    state.erase(key);
  model.load_state_dict(state);
  NoGradGuard no_grad;
  model.eval();
  CHECK(max_difference(model.forward(x), eval_output) <= 1e-6);
  model.train();
  CHECK(max_difference(model.forward(x), train_output) <= 1e-6);
}
