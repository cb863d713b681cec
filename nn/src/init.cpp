#include "tether/nn/init.h"

#include <cmath>
#include <numbers>
#include <vector>

#include "tether/constraint.h"
#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"

namespace tether::nn::init {

namespace {

/// Writes `value` into `parameter`: a computed one as constrain() takes a
/// weight (ValuePolicy::keep_or_raw: kept where the constraint can hold it,
/// else it initialises the raw input, so kaiming_uniform_ of a positive()
/// weight gives softplus of the draw), any other (raw, projected) into its one
/// leaf in place; a projected leaf is projected at its next value(), as after
/// an optimizer step.
void write(Parameter& parameter, const Tensor& value) {
  if (auto* computed = dynamic_cast<ComputedParameter*>(&parameter))
    return computed->assign(value, ValuePolicy::keep_or_raw);
  parameter.trainables().front().second.copy_(value);
}

/// Draws a value like the parameter's current one with `draw(current)` and
/// writes it.
template <class Draw>
void initialise(Parameter& parameter, Draw draw) {
  NoGradGuard no_grad;
  write(parameter, draw(parameter.value().detach()));
}

void require_matrix(const char* function, const Tensor& weight) {
  if (weight.dim() < 2)
    fail<ValueError>("init::", function, ": expected a weight of at least 2 dims, got ",
                     weight.shape());
}

/// fan_in or fan_out of weight [out, in, *kernel].
double fan(const char* function, const Tensor& weight, FanMode mode) {
  require_matrix(function, weight);
  double kernel = 1;
  for (std::int64_t d = 2; d < weight.dim(); ++d) kernel *= static_cast<double>(weight.size(d));
  return kernel * static_cast<double>(weight.size(mode == FanMode::fan_in ? 1 : 0));
}

Tensor uniform_like(const Tensor& like, double low, double high) {
  return rand(like.shape(), like.options()) * (high - low) + low;
}

Tensor normal_like(const Tensor& like, double mean, double std) {
  return randn(like.shape(), like.options()) * std + mean;
}

double xavier_std(const char* function, const Tensor& weight, double gain) {
  return gain * std::sqrt(2 / (fan(function, weight, FanMode::fan_in) +
                               fan(function, weight, FanMode::fan_out)));
}

double kaiming_std(const char* function, const Tensor& weight, double a, FanMode mode,
                   Nonlinearity nonlinearity) {
  return calculate_gain(nonlinearity, a) / std::sqrt(fan(function, weight, mode));
}

/// An n x m matrix (n >= m, row-major) with orthonormal columns: modified
/// Gram-Schmidt on the columns of a standard normal matrix. Each column is
/// normalised to a positive R diagonal, which makes Q uniformly distributed.
std::vector<double> orthonormal_columns(std::int64_t n, std::int64_t m) {
  std::vector<double> q = randn({n, m}, DType::f64).to_vector<double>();
  const auto at = [&](std::int64_t row, std::int64_t column) -> double& {
    return q[static_cast<std::size_t>(row * m + column)];
  };
  for (std::int64_t j = 0; j < m; ++j) {
    for (std::int64_t k = 0; k < j; ++k) {
      double projection = 0;
      for (std::int64_t i = 0; i < n; ++i) projection += at(i, k) * at(i, j);
      for (std::int64_t i = 0; i < n; ++i) at(i, j) -= projection * at(i, k);
    }
    double norm = 0;
    for (std::int64_t i = 0; i < n; ++i) norm += at(i, j) * at(i, j);
    norm = std::sqrt(norm);
    for (std::int64_t i = 0; i < n; ++i) at(i, j) /= norm;
  }
  return q;
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, double negative_slope) {
  switch (nonlinearity) {
    case Nonlinearity::tanh:
      return 5.0 / 3.0;
    case Nonlinearity::relu:
      return std::numbers::sqrt2;
    case Nonlinearity::leaky_relu:
      return std::sqrt(2 / (1 + negative_slope * negative_slope));
    case Nonlinearity::linear:
    case Nonlinearity::sigmoid:
      break;
  }
  return 1;
}

void uniform_(Parameter& parameter, double low, double high) {
  initialise(parameter, [&](const Tensor& current) { return uniform_like(current, low, high); });
}

void normal_(Parameter& parameter, double mean, double std) {
  initialise(parameter, [&](const Tensor& current) { return normal_like(current, mean, std); });
}

void constant_(Parameter& parameter, double value) {
  initialise(parameter, [&](const Tensor& current) {
    return full(current.shape(), value, current.options());
  });
}

void zeros_(Parameter& parameter) {
  constant_(parameter, 0);
}

void ones_(Parameter& parameter) {
  constant_(parameter, 1);
}

void xavier_uniform_(Parameter& parameter, double gain) {
  // U(-a, a) has variance a^2 / 3.
  constexpr const char* function = "xavier_uniform_";
  initialise(parameter, [&](const Tensor& current) {
    const double bound = std::sqrt(3.0) * xavier_std(function, current, gain);
    return uniform_like(current, -bound, bound);
  });
}

void xavier_normal_(Parameter& parameter, double gain) {
  constexpr const char* function = "xavier_normal_";
  initialise(parameter, [&](const Tensor& current) {
    return normal_like(current, 0, xavier_std(function, current, gain));
  });
}

void kaiming_uniform_(Parameter& parameter, double a, FanMode mode, Nonlinearity nonlinearity) {
  constexpr const char* function = "kaiming_uniform_";
  initialise(parameter, [&](const Tensor& current) {
    const double bound = std::sqrt(3.0) * kaiming_std(function, current, a, mode, nonlinearity);
    return uniform_like(current, -bound, bound);
  });
}

void kaiming_normal_(Parameter& parameter, double a, FanMode mode, Nonlinearity nonlinearity) {
  constexpr const char* function = "kaiming_normal_";
  initialise(parameter, [&](const Tensor& current) {
    return normal_like(current, 0, kaiming_std(function, current, a, mode, nonlinearity));
  });
}

void orthogonal_(Parameter& parameter, double gain) {
  constexpr const char* function = "orthogonal_";
  initialise(parameter, [&](const Tensor& current) {
    require_matrix(function, current);
    if (current.numel() == 0) return current.clone();
    const std::int64_t rows = current.size(0), columns = current.numel() / rows;
    // A wide matrix gets orthonormal rows: the transpose of a tall one's columns.
    const bool wide = rows < columns;
    const std::int64_t n = wide ? columns : rows, m = wide ? rows : columns;
    Tensor q = tensor(orthonormal_columns(n, m), {n, m}, DType::f64);
    if (wide) q = q.transpose(0, 1);
    return (q.reshape(current.shape()) * gain).to(current.dtype()).to(current.device());
  });
}

}  // namespace tether::nn::init
