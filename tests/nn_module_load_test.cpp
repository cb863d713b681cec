// Module::load_state_dict and Module::load, strict and not, as torch's
// load_state_dict(strict=...): what loads, what is reported, what throws, and
// that a load which throws changes nothing.
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "scratch_directory.h"
#include "state_dict_check.h"

using namespace tether;
using Strings = std::vector<std::string>;
using testing::snapshot, testing::spectral_linear, testing::Values;

namespace {

/// Another module's state without "weight.u" and "bias", with "extra" and "head.bias".
StateDict partial_state() {
  StateDict state = spectral_linear(2)->state_dict();
  state.erase("weight.u");
  state.erase("bias");
  state["extra"] = zeros({1}, DType::f64);
  state["head.bias"] = zeros({4}, DType::f64);
  return state;
}

/// Checks that `module` holds `source`'s values for the keys both have and
/// `before`'s for the others.
void check_loaded_where_matched(nn::Module& module, const StateDict& source, const Values& before) {
  for (const auto& [key, values] : snapshot(module.state_dict())) {
    INFO(key);
    const auto it = source.find(key);
    CHECK(values == (it == source.end() ? before.at(key) : it->second.to_vector<double>()));
  }
}

}  // namespace

TEST_CASE(
    "load_state_dict without strict loads the matching keys, keeps the others and returns the "
    "missing and unexpected keys",
    "[module]") {
  const auto linear = spectral_linear(1);
  const Values before = snapshot(linear->state_dict());
  const StateDict state = partial_state();

  const nn::IncompatibleKeys unmatched = linear->load_state_dict(state, /*strict=*/false);
  CHECK(unmatched.missing_keys == Strings{"bias", "weight.u"});
  CHECK(unmatched.unexpected_keys == Strings{"extra", "head.bias"});
  check_loaded_where_matched(*linear, state, before);
}

TEST_CASE("a strict load_state_dict names every missing and unexpected key and changes nothing",
          "[module]") {
  const auto linear = spectral_linear(1);
  const Values before = snapshot(linear->state_dict());
  CHECK_THROWS_WITH(linear->load_state_dict(partial_state()),
                    "load_state_dict: missing keys \"bias\", \"weight.u\" and unexpected keys "
                    "\"extra\", \"head.bias\" (strict=false loads the keys that match)");
  StateDict one_missing = spectral_linear(2)->state_dict();
  one_missing.erase("bias");
  CHECK_THROWS_AS(linear->load_state_dict(one_missing), ValueError);
  CHECK_THROWS_WITH(linear->load_state_dict(one_missing),
                    Catch::StartsWith("load_state_dict: missing key \"bias\" (strict"));
  CHECK(snapshot(linear->state_dict()) == before);
}

TEST_CASE("a strict load_state_dict of a full state returns no incompatible keys", "[module]") {
  const auto linear = spectral_linear(1);
  const StateDict state = spectral_linear(2)->state_dict();
  const nn::IncompatibleKeys unmatched = linear->load_state_dict(state);
  CHECK(unmatched.missing_keys.empty());
  CHECK(unmatched.unexpected_keys.empty());
  CHECK(snapshot(linear->state_dict()) == snapshot(state));
}

TEST_CASE(
    "load_state_dict without strict still throws for a mis-shaped, mistyped or undefined tensor, "
    "and changes nothing",
    "[module]") {
  struct Bad {
    std::string key;
    Tensor tensor;
    std::string message;
  };
  const std::vector<Bad> cases = {
      {"weight.raw", zeros({3, 4}, DType::f64),
       "load_state_dict: key \"weight.raw\" has shape [3, 4], the module expects [4, 3]"},
      {"weight.v", zeros({3}, DType::i64),
       "load_state_dict: key \"weight.v\" has dtype i64, the module expects f64"},
      {"weight.v", Tensor(), "load_state_dict: key \"weight.v\" holds an undefined tensor"},
  };
  for (const Bad& bad : cases) {
    INFO(bad.message);
    const auto linear = spectral_linear(1);
    const Values before = snapshot(linear->state_dict());
    StateDict state = partial_state();  // keys missing and unexpected too
    state[bad.key] = bad.tensor;
    CHECK_THROWS_WITH(linear->load_state_dict(state, /*strict=*/false), bad.message);
    CHECK(snapshot(linear->state_dict()) == before);
  }
  const auto linear = spectral_linear(1);
  StateDict state = partial_state();
  state["weight.raw"] = zeros({3, 4}, DType::f64);
  CHECK_THROWS_AS(linear->load_state_dict(state, /*strict=*/false), ShapeError);
}

TEST_CASE("Module::load without strict loads what a file holds and returns what it lacks",
          "[module]") {
  const testing::ScratchDirectory directory("tether_nn_module_load_test");
  const std::string path = directory / "partial.safetensors";
  const StateDict state = partial_state();
  nn::save_safetensors(path, state);

  const auto linear = spectral_linear(1);
  const Values before = snapshot(linear->state_dict());
  CHECK_THROWS_WITH(linear->load(path), Catch::StartsWith("load_state_dict: missing keys"));
  CHECK(snapshot(linear->state_dict()) == before);

  const nn::IncompatibleKeys unmatched = linear->load(path, /*strict=*/false);
  CHECK(unmatched.missing_keys == Strings{"bias", "weight.u"});
  CHECK(unmatched.unexpected_keys == Strings{"extra", "head.bias"});
  check_loaded_where_matched(*linear, state, before);
}
