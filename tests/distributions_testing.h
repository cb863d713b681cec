// Checks shared by the distributions' tests: gradcheck of log_prob, sample
// moments against mean and variance, and ValueError messages.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tether/tether.h"

namespace tether::distributions::testing {

inline Tensor f64(const std::vector<double>& values) {
  return tensor(values, DType::f64);
}

/// A distribution from its parameters, for gradcheck.
using Maker = std::function<std::unique_ptr<Distribution>(const std::vector<Tensor>&)>;

/// Makers of a distribution from its one, two or three parameters, in order.
template <class D>
Maker one() {
  return [](const std::vector<Tensor>& p) { return std::make_unique<D>(p[0]); };
}
template <class D>
Maker two() {
  return [](const std::vector<Tensor>& p) { return std::make_unique<D>(p[0], p[1]); };
}
template <class D>
Maker three() {
  return [](const std::vector<Tensor>& p) { return std::make_unique<D>(p[0], p[1], p[2]); };
}

/// gradcheck of log_prob(value) in the value and every parameter (f64).
inline void gradcheck_log_prob(const char* what, const Maker& make, std::vector<Tensor> params,
                               const Tensor& value) {
  INFO(what);
  params.push_back(value);
  for (auto& t : params) t = t.detach().clone().requires_grad_();
  CHECK(gradcheck(
      [&](const std::vector<Tensor>& x) {
        const std::vector<Tensor> parameters(x.begin(), x.end() - 1);
        return make(parameters)->log_prob(x.back());
      },
      params));
}

/// The sample mean and variance of n draws agree with `mean` and `variance`
/// within 5 standard errors (the variance's from the sample's 4th moment).
inline void check_moments(const char* what, const Tensor& draws, double mean, double variance) {
  INFO(what);
  const std::vector<double> x = draws.to(DType::f64).to_vector<double>();
  const double n = static_cast<double>(x.size());
  double m = 0;
  for (double v : x) m += v / n;
  double m2 = 0, m4 = 0;
  for (double v : x) {
    m2 += (v - m) * (v - m) / n;
    m4 += std::pow(v - m, 4) / n;
  }
  CHECK(std::abs(m - mean) <= 5 * std::sqrt(variance / n));
  CHECK(std::abs(m2 - variance) <= 5 * std::sqrt((m4 - m2 * m2) / n));
}

/// check_moments of 20,000 draws of d, a batch of one, against its mean and variance.
inline void check_sample_moments(const char* what, const Distribution& d) {
  check_moments(what, d.sample({20000}), d.mean().item<double>(), d.variance().item<double>());
}

/// Runs f and requires a ValueError whose message contains every one of `parts`.
inline void require_value_error(const std::function<void()>& f,
                                const std::vector<std::string>& parts) {
  try {
    f();
    FAIL("no ValueError");
  } catch (const ValueError& e) {
    const std::string message = e.what();
    INFO(message);
    for (const auto& part : parts) CHECK(message.find(part) != std::string::npos);
  }
}

}  // namespace tether::distributions::testing
