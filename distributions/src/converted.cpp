// Distribution::converted for every distribution: the constructor again, with
// each parameter tensor converted, so the copy is validated as the original was.
#include "tether/distributions/distributions.h"

namespace tether::distributions {

namespace {

template <class D, class... Args>
std::shared_ptr<const Distribution> remade(Args&&... args) {
  return std::make_shared<const D>(std::forward<Args>(args)...);
}

}  // namespace

std::shared_ptr<const Distribution> Normal::converted(const TensorConversion& convert) const {
  return remade<Normal>(convert(loc()), convert(scale()), validates());
}

std::shared_ptr<const Distribution> Cauchy::converted(const TensorConversion& convert) const {
  return remade<Cauchy>(convert(loc()), convert(scale()), validates());
}

std::shared_ptr<const Distribution> Laplace::converted(const TensorConversion& convert) const {
  return remade<Laplace>(convert(loc()), convert(scale()), validates());
}

std::shared_ptr<const Distribution> LogNormal::converted(const TensorConversion& convert) const {
  return remade<LogNormal>(convert(loc()), convert(scale()), validates());
}

std::shared_ptr<const Distribution> HalfNormal::converted(const TensorConversion& convert) const {
  return remade<HalfNormal>(convert(scale()), validates());
}

std::shared_ptr<const Distribution> HalfCauchy::converted(const TensorConversion& convert) const {
  return remade<HalfCauchy>(convert(scale()), validates());
}

std::shared_ptr<const Distribution> Exponential::converted(const TensorConversion& convert) const {
  return remade<Exponential>(convert(rate()), validates());
}

std::shared_ptr<const Distribution> Uniform::converted(const TensorConversion& convert) const {
  return remade<Uniform>(convert(low()), convert(high()), validates());
}

// From the logits, which both constructors keep exactly (probs given are
// clamped on their way to logits, so the logits are the lossless form).
std::shared_ptr<const Distribution> Bernoulli::converted(const TensorConversion& convert) const {
  return remade<Bernoulli>(Logits{convert(logits())}, validates());
}

std::shared_ptr<const Distribution> Categorical::converted(const TensorConversion& convert) const {
  return remade<Categorical>(Logits{convert(logits())}, validates());
}

std::shared_ptr<const Distribution> Gamma::converted(const TensorConversion& convert) const {
  return remade<Gamma>(convert(concentration()), convert(rate()), validates());
}

std::shared_ptr<const Distribution> InverseGamma::converted(const TensorConversion& convert) const {
  return remade<InverseGamma>(convert(concentration()), convert(rate()), validates());
}

std::shared_ptr<const Distribution> Beta::converted(const TensorConversion& convert) const {
  return remade<Beta>(convert(concentration1()), convert(concentration0()), validates());
}

std::shared_ptr<const Distribution> Dirichlet::converted(const TensorConversion& convert) const {
  return remade<Dirichlet>(convert(concentration()), validates());
}

std::shared_ptr<const Distribution> StudentT::converted(const TensorConversion& convert) const {
  return remade<StudentT>(convert(df()), convert(loc()), convert(scale()), validates());
}

std::shared_ptr<const Distribution> Poisson::converted(const TensorConversion& convert) const {
  return remade<Poisson>(convert(rate()), validates());
}

std::shared_ptr<const Distribution> LKJCholesky::converted(const TensorConversion& convert) const {
  return remade<LKJCholesky>(dim(), convert(concentration()), validates());
}

std::shared_ptr<const Distribution> MultivariateNormal::converted(
    const TensorConversion& convert) const {
  return remade<MultivariateNormal>(convert(loc()), ScaleTril{convert(scale_tril())}, validates());
}

}  // namespace tether::distributions
