// Replays tests/data/torch_reference/distributions.json (scripts/torch-reference,
// family "distributions"): for each distribution, log_prob and its gradients in
// the value and every parameter, entropy, mean, variance, cdf and icdf, against
// torch.distributions. Elements agree within 1e-10 + 1e-8 |expected| in f64 and
// 1e-5 + 1e-5 |expected| in f32; NaN matches NaN, infinities match exactly.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tether/tether.h"

namespace tether::distributions {
namespace {

using json = nlohmann::json;
using Params = std::map<std::string, Tensor>;
using Make = std::function<std::unique_ptr<Distribution>(const Params&)>;

Tensor decode(const json& t) {
  std::vector<double> values;
  for (const auto& v : t["data"]) {
    if (!v.is_string()) {
      values.push_back(v.get<double>());
      continue;
    }
    const std::string s = v.get<std::string>();
    values.push_back(s == "nan" ? NAN : (s == "inf" ? INFINITY : -INFINITY));
  }
  const std::string dtype = t["dtype"];
  return tensor(values, Shape(t["shape"].get<std::vector<std::int64_t>>()),
                dtype == "f64" ? DType::f64 : (dtype == "f32" ? DType::f32 : DType::i64));
}

template <class D, class... Keys>
Make make(Keys... keys) {
  return [=](const Params& p) { return std::make_unique<D>(p.at(keys)...); };
}

const std::map<std::string, Make>& table() {
  static const std::map<std::string, Make> makers = {
      {"Normal", make<Normal>("loc", "scale")},
      {"LogNormal", make<LogNormal>("loc", "scale")},
      {"HalfNormal", make<HalfNormal>("scale")},
      {"Cauchy", make<Cauchy>("loc", "scale")},
      {"HalfCauchy", make<HalfCauchy>("scale")},
      {"Laplace", make<Laplace>("loc", "scale")},
      {"Exponential", make<Exponential>("rate")},
      {"Uniform", make<Uniform>("low", "high")},
      {"Bernoulli",
       [](const Params& p) {
         return p.count("probs") ? std::make_unique<Bernoulli>(Probs{p.at("probs")})
                                 : std::make_unique<Bernoulli>(Logits{p.at("logits")});
       }},
      {"Categorical",
       [](const Params& p) {
         return p.count("probs") ? std::make_unique<Categorical>(Probs{p.at("probs")})
                                 : std::make_unique<Categorical>(Logits{p.at("logits")});
       }},
      {"Gamma", make<Gamma>("concentration", "rate")},
      {"InverseGamma", make<InverseGamma>("concentration", "rate")},
      {"Beta", make<Beta>("concentration1", "concentration0")},
      {"Dirichlet", make<Dirichlet>("concentration")},
      {"StudentT", make<StudentT>("df", "loc", "scale")},
      {"Poisson", make<Poisson>("rate")},
      {"LKJCholesky",  // the reference's factors are 3 x 3
       [](const Params& p) { return std::make_unique<LKJCholesky>(3, p.at("concentration")); }},
      {"MultivariateNormal",
       [](const Params& p) {
         return p.count("scale_tril") ? std::make_unique<MultivariateNormal>(
                                            p.at("loc"), ScaleTril{p.at("scale_tril")})
                                      : std::make_unique<MultivariateNormal>(
                                            p.at("loc"), Covariance{p.at("covariance_matrix")});
       }},
  };
  return makers;
}

/// Checks dtype, shape and every element of `actual` against `expected`.
void check_tensor(const std::string& what, const Tensor& actual, const json& expected) {
  INFO(what << ": expected " << expected.dump() << ", got " << actual);
  const Tensor e = decode(expected);
  REQUIRE(actual.dtype() == e.dtype());
  REQUIRE(actual.shape() == e.shape());
  const bool f64 = e.dtype() == DType::f64;
  const auto a = actual.detach().contiguous().to(DType::f64).to_vector<double>();
  const auto x = e.to(DType::f64).to_vector<double>();
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i);
    if (std::isnan(x[i]) || std::isinf(x[i])) {
      CHECK((std::isnan(x[i]) ? std::isnan(a[i]) : a[i] == x[i]));
      continue;
    }
    CHECK(std::abs(a[i] - x[i]) <=
          (f64 ? 1e-10 + 1e-8 * std::abs(x[i]) : 1e-5 + 1e-5 * std::abs(x[i])));
  }
}

void replay(const json& c) {
  const std::string name = c["name"];
  INFO("case " << name);
  Params params;
  std::vector<std::string> wrt_names;
  std::vector<Tensor> wrt;
  for (const auto& [key, value] : c["params"].items()) {
    params[key] = decode(value).requires_grad_();
    wrt_names.push_back(key);
    wrt.push_back(params[key]);
  }
  Tensor value = decode(c["value"]);
  if (value.is_floating_point()) {
    value.requires_grad_();
    wrt_names.push_back("value");
    wrt.push_back(value);
  }
  const auto d = table().at(c["distribution"])(params);
  const json& expected = c["expected"];
  const Tensor lp = d->log_prob(value);
  check_tensor(name + " log_prob", lp, expected["log_prob"]);
  const auto grads =
      autograd::grad({lp.sum()}, wrt, {}, std::nullopt, false, /*allow_unused=*/true);
  for (std::size_t i = 0; i < wrt.size(); ++i) {
    const Tensor g = grads[i].defined() ? grads[i] : zeros_like(wrt[i]);
    check_tensor(name + " d log_prob / d " + wrt_names[i], g,
                 expected["log_prob_grads"][wrt_names[i]]);
  }
  const std::map<std::string, std::function<Tensor()>> methods = {
      {"entropy", [&] { return d->entropy(); }},
      {"mean", [&] { return d->mean(); }},
      {"variance", [&] { return d->variance(); }},
      {"cdf", [&] { return d->cdf(value); }},
      {"icdf", [&] { return d->icdf(decode(c["probability"])); }},
  };
  for (const auto& [method, compute] : methods)
    if (expected.contains(method)) check_tensor(name + " " + method, compute(), expected[method]);
}

TEST_CASE("log_prob, its gradients, entropy, moments, cdf and icdf match torch.distributions",
          "[distributions][torch_reference]") {
  std::ifstream file(std::filesystem::path(TETHER_TEST_DATA_DIR) / "torch_reference" /
                     "distributions.json");
  REQUIRE(file);
  const json data = json::parse(file);
  REQUIRE(data["cases"].size() >= 42);
  for (const auto& c : data["cases"]) replay(c);
}

}  // namespace
}  // namespace tether::distributions
