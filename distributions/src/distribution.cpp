#include "tether/distributions/distribution.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <utility>

#include "tether/grad_mode.h"

namespace tether::distributions {

namespace {
bool default_validate = true;
}  // namespace

void set_default_validate_args(bool validate) {
  default_validate = validate;
}

bool default_validate_args() {
  return default_validate;
}

Param::Param(Tensor tensor) : tensor_(std::move(tensor)) {}
Param::Param(double number) : number_(number) {}

Distribution::Distribution(std::string name, std::optional<bool> validate_args)
    : name_(std::move(name)), validate_(validate_args.value_or(default_validate)) {}

void Distribution::set_shapes(const Shape& batch_shape, const Shape& event_shape) {
  batch_shape_ = batch_shape;
  event_shape_ = event_shape;
}

Tensor Distribution::sample(const Shape& sample_shape) const {
  NoGradGuard no_grad;
  return rsample(sample_shape).detach();
}

Tensor Distribution::rsample(const Shape&) const {
  unavailable("rsample (it is not reparametrisable; use sample)");
}

Tensor Distribution::entropy() const {
  unavailable("entropy");
}

Tensor Distribution::cdf(const Tensor&) const {
  unavailable("cdf");
}

Tensor Distribution::icdf(const Tensor&) const {
  unavailable("icdf");
}

double Distribution::epsilon_of(const Tensor& like) {
  return like.dtype() == DType::f64 ? std::numeric_limits<double>::epsilon()
                                    : std::numeric_limits<float>::epsilon();
}

void Distribution::unavailable(const char* what) const {
  fail<ValueError>(name_, ": ", what, " is not available");
}

Shape Distribution::extended_shape(const Shape& sample_shape) const {
  std::vector<std::int64_t> extents = sample_shape.to_vector();
  for (auto part : {&batch_shape_, &event_shape_})
    extents.insert(extents.end(), part->begin(), part->end());
  return Shape(extents);
}

std::vector<Tensor> Distribution::broadcast_all(const std::string& name,
                                                const std::vector<Param>& params) {
  // Numbers take the tensors' dtype, as torch's broadcast_all gives them.
  std::optional<TensorOptions> options;
  Shape shape;
  for (const Param& p : params) {
    if (p.number()) continue;
    if (!p.tensor().is_floating_point())
      fail<DTypeError>(name, ": parameters must be floating-point tensors, got ",
                       tether::name(p.tensor().dtype()));
    if (!options) options = p.tensor().options();
    shape = broadcast_shapes(name.c_str(), shape, p.tensor().shape());
  }
  std::vector<Tensor> out;
  for (const Param& p : params) {
    const Tensor t =
        p.number() ? scalar_tensor(*p.number(), options.value_or(TensorOptions{})) : p.tensor();
    out.push_back(t.shape() == shape ? t : t.expand(shape));
  }
  return out;
}

namespace {
/// The index and value of the first element of `values` where `ok` is 0, if any.
std::optional<std::pair<std::int64_t, double>> first_failure(const Tensor& values,
                                                             const Tensor& ok) {
  NoGradGuard no_grad;
  const std::vector<double> flags =
      ok.expand(values.shape()).contiguous().to(DType::f64).to_vector<double>();
  for (std::size_t i = 0; i < flags.size(); ++i) {
    if (flags[i] != 0) continue;
    const std::vector<double> v = values.detach().contiguous().to(DType::f64).to_vector<double>();
    return std::pair{static_cast<std::int64_t>(i), v[i]};
  }
  return std::nullopt;
}
}  // namespace

void Distribution::require(const char* argument, const Tensor& values, const Tensor& ok,
                           const char* expected) const {
  if (!validate_) return;
  if (const auto bad = first_failure(values, ok))
    fail<ValueError>(name_, ": ", argument, " must be ", expected, ", got ", bad->second,
                     " (element ", bad->first, " of ", argument, " ", values.shape(), ")");
}

void Distribution::require_positive(const char* argument, const Tensor& values) const {
  require(argument, values, values > 0.0, "> 0");
}

void Distribution::require_real(const char* argument, const Tensor& values) const {
  require(argument, values, eq(values, values), "a number (not NaN)");
}

void Distribution::check_value(const char* method, const Tensor& value) const {
  if (!validate_) return;
  NoGradGuard no_grad;
  const Tensor ok = support_mask(value);  // one flag per event, batch shape broadcast
  if (ok.numel() == 0) return;
  // The first element of each event, laid out as the flags.
  std::vector<std::int64_t> extents = ok.shape().to_vector();
  extents.insert(extents.end(), event_shape_.begin(), event_shape_.end());
  const Tensor firsts = value.expand(broadcast_shapes(name_.c_str(), value.shape(), Shape(extents)))
                            .reshape({ok.numel(), -1})
                            .select(1, 0)
                            .reshape(ok.shape());
  if (const auto bad = first_failure(firsts, ok))
    fail<ValueError>(name_, ".", method, ": value must be in the support (", support_description(),
                     "), got ", bad->second, " (event ", bad->first, " of value ", value.shape(),
                     ")");
}

}  // namespace tether::distributions
