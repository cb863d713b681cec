// The Tensor method set follows the rule stated in tensor.h: an op of ops.h is
// a method exactly when torch.Tensor has that method, except the binary
// element-wise ops and comparisons. The first test reads both headers, so a
// new op that torch.Tensor has as a method fails it until it gets one here.
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "nn_check.h"

using namespace tether;

namespace {

/// The names `pattern`'s first group matches, line by line, in a header of the source tree.
std::set<std::string> declared_names(const std::string& header, const std::regex& pattern) {
  std::ifstream file(std::string(TETHER_SOURCE_DIR) + "/" + header);
  REQUIRE(file);
  std::set<std::string> names;
  std::smatch match;
  for (std::string line; std::getline(file, line);)
    if (std::regex_search(line, match, pattern)) names.insert(match[1]);
  return names;
}

/// The ops of ops.h that take a tensor first yet, by the rule, have no method.
const std::map<std::string, std::string> free_only = {
    {"zeros_like", "factory"},
    {"ones_like", "factory"},
    {"full_like", "factory"},
    {"result_type", "not an op"},
    {"add", "binary element-wise: a + b"},
    {"sub", "binary element-wise: a - b"},
    {"mul", "binary element-wise: a * b"},
    {"div", "binary element-wise: a / b"},
    {"maximum", "binary element-wise"},
    {"minimum", "binary element-wise"},
    {"where", "element-wise of three tensors"},
    {"eq", "comparison"},
    {"ne", "comparison"},
    {"lt", "comparison: a < b"},
    {"le", "comparison: a <= b"},
    {"gt", "comparison: a > b"},
    {"ge", "comparison: a >= b"},
    {"logical_and", "binary element-wise: a & b"},
    {"logical_or", "binary element-wise: a | b"},
    {"logical_xor", "binary element-wise: a ^ b"},
    {"leaky_relu", "torch.nn.functional"},
    {"gelu", "torch.nn.functional"},
    {"softplus", "torch.nn.functional"},
    {"xlogy", "binary element-wise"},
    {"log_ndtr", "torch.special"},
    {"normalize", "torch.nn.functional"},
    {"linear", "torch.nn.functional"},
    {"scaled_dot_product_attention", "torch.nn.functional"},
    {"solve_triangular", "torch.linalg"},
    {"slice", "no torch.Tensor method (Python indexes instead)"},
    {"affine", "tether's own"},
    {"sum_to_shape", "tether's own"},
    {"adam_step_", "tether's own"},
    {"one_hot", "torch.nn.functional"},
    {"im2col", "torch.nn.functional's unfold, in another layout"},
    {"col2im", "torch.nn.functional's fold, in another layout"},
    {"conv2d", "torch.nn.functional"},
    {"max_pool2d", "torch.nn.functional"},
    {"batch_norm", "torch.nn.functional"},
    {"allclose", "returns a C++ bool, not a Tensor (torch's returns a Python bool)"},
};

}  // namespace

TEST_CASE(
    "every op of ops.h that torch.Tensor has as a method, bar binary element-wise ops "
    "and comparisons, is a Tensor method of the same name",
    "[tensor][methods]") {
  const std::set<std::string> ops =
      declared_names("autograd/include/tether/ops.h",
                     std::regex(R"(^(?:\w+|std::vector<Tensor>) (\w+)\(const Tensor&)"));
  const std::set<std::string> methods =
      declared_names("core/include/tether/tensor.h",
                     std::regex(R"(^  (?:Tensor&?|ValuesAndIndices|std::vector<Tensor>) (\w+)\()"));
  REQUIRE(ops.count("erf") == 1);
  REQUIRE(methods.count("erf") == 1);
  for (const std::string& op : ops) {
    INFO(op);
    if (free_only.count(op))
      CHECK(methods.count(op) == 0);
    else
      CHECK(methods.count(op) == 1);
  }
  for (const auto& [op, reason] : free_only) {
    INFO(op << " (" << reason << ") is not in ops.h any more: take it off the list");
    CHECK(ops.count(op) == 1);
  }
}

TEST_CASE("each Tensor method added by the rule gives what its free function gives",
          "[tensor][methods]") {
  const Tensor x = tensor({-1.5, 0, 0.25, 2}, {2, 2}, DType::f64);
  const Tensor v = tensor({1, -2, 3}, {3}, DType::f64);
  const Tensor spd = tensor({4, 2, 2, 3}, {2, 2}, DType::f64);
  const Tensor l = cholesky(spd);
  const std::vector<std::pair<Tensor, Tensor>> pairs = {
      {x.reciprocal(), reciprocal(x)},
      {x.sign(), sign(x)},
      {x.erf(), erf(x)},
      {x.expm1(), expm1(x)},
      {x.atan(), atan(x)},
      {(x * 0.3).erfinv(), erfinv(x * 0.3)},
      {v.outer(v), outer(v, v)},
      {x.matrix_exp(), matrix_exp(x)},
      {spd.cholesky(), cholesky(spd)},
      {spd.cholesky(true), cholesky(spd, true)},
      {x.cholesky_solve(l), cholesky_solve(x, l)},
      {spd.logdet(), logdet(spd)},
      {x.tril(), tril(x)},
      {x.triu(1), triu(x, 1)},
      {x.diagonal(-1), diagonal(x, -1)},
      {x.cumsum(1), cumsum(x, 1)},
      {x.cumprod(0), cumprod(x, 0)},
      {x.flip({0}), flip(x, {0})},
      {x.roll({1}, {1}), roll(x, {1}, {1})},
      {x.repeat({2, 1}), repeat(x, {2, 1})},
      {x.unsqueeze(0).bmm(x.unsqueeze(0)), bmm(x.unsqueeze(0), x.unsqueeze(0))},
      {x.baddbmm(x.unsqueeze(0), x.unsqueeze(0), 0.5, 2),
       baddbmm(x, x.unsqueeze(0), x.unsqueeze(0), 0.5, 2)},
  };
  for (const auto& [method, free] : pairs) {
    CHECK(method.shape() == free.shape());
    CHECK(method.to_vector<double>() == free.to_vector<double>());
  }
}

TEST_CASE("x.multinomial() and x.bernoulli() draw what their free functions draw from one seed",
          "[tensor][methods]") {
  const Tensor weights = tensor({4, 2, 2, 3}, {2, 2}, DType::f64);
  manual_seed(1);
  const auto method = weights.multinomial(3, true).to_vector<std::int64_t>();
  const auto method_bits = full({8}, 0.5).bernoulli().to_vector<float>();
  manual_seed(1);
  CHECK(method == multinomial(weights, 3, true).to_vector<std::int64_t>());
  CHECK(method_bits == bernoulli(full({8}, 0.5)).to_vector<float>());
}

TEST_CASE("x.erf(), x.sign() and x.tril(-1) give torch's values", "[tensor][methods]") {
  // torch.tensor([0., 0.5, -1.]).double().erf()
  check_values(tensor({0, 0.5, -1}, DType::f64).erf(),
               {0, 0.5204998778130465, -0.8427007929497149});
  check_values(tensor({-3, 0, 0.5}, DType::f64).sign(), {-1, 0, 1});
  check_values(tensor({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3}).tril(-1), {0, 0, 0, 4, 0, 0, 7, 8, 0});
}
