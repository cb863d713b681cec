#include "tether/gradcheck.h"

#include <cmath>

#include "tether/autograd.h"
#include "tether/error.h"
#include "tether/grad_mode.h"
#include "tether/ops.h"

namespace tether {

namespace {

/// Fresh leaf copies of the inputs, so perturbing them leaves the caller's alone.
std::vector<Tensor> leaf_copies(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> copies;
  for (const auto& x : inputs) {
    Tensor copy = x.detach().clone();
    if (x.requires_grad()) copy.requires_grad_();
    copies.push_back(copy);
  }
  return copies;
}

std::vector<double> evaluate(const GradcheckFunction& f, const std::vector<Tensor>& inputs) {
  return f(inputs).detach().to_vector<double>();
}

/// Column j of the numerical Jacobian of f with respect to input i.
std::vector<double> numeric_column(const GradcheckFunction& f, std::vector<Tensor>& inputs,
                                   std::size_t i, std::int64_t j, double eps) {
  double* element = inputs[i].data_ptr<double>() + j;
  const double original = *element;
  *element = original + eps;
  const std::vector<double> plus = evaluate(f, inputs);
  *element = original - eps;
  const std::vector<double> minus = evaluate(f, inputs);
  *element = original;
  std::vector<double> column(plus.size());
  for (std::size_t k = 0; k < plus.size(); ++k) column[k] = (plus[k] - minus[k]) / (2 * eps);
  return column;
}

/// Row k of the analytical Jacobian: the gradients of output element k with
/// respect to every input that requires grad (zeros where none flows).
std::vector<std::vector<double>> analytic_row(const Tensor& output, const std::vector<Tensor>& wrt,
                                              std::int64_t k) {
  std::vector<std::vector<double>> row;
  std::vector<Tensor> grads;
  if (output.requires_grad()) {
    Tensor cotangent = zeros_like(output);
    cotangent.data_ptr<double>()[k] = 1.0;
    grads = autograd::grad({output}, wrt, {cotangent}, true, false, true);
  }
  for (std::size_t i = 0; i < wrt.size(); ++i) {
    if (i < grads.size() && grads[i].defined())
      row.push_back(grads[i].to_vector<double>());
    else
      row.push_back(std::vector<double>(static_cast<std::size_t>(wrt[i].numel()), 0.0));
  }
  return row;
}

}  // namespace

bool gradcheck(const GradcheckFunction& f, const std::vector<Tensor>& inputs,
               const GradcheckOptions& options) {
  std::vector<Tensor> xs = leaf_copies(inputs);
  std::vector<Tensor> wrt;
  std::vector<std::size_t> wrt_index;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i].requires_grad()) continue;
    if (xs[i].dtype() != DType::f64)
      fail<DTypeError>("gradcheck: input ", i, " must be f64 for finite differences, got ",
                       xs[i].dtype());
    wrt.push_back(xs[i]);
    wrt_index.push_back(i);
  }
  const Tensor output = f(xs).contiguous();
  if (output.dtype() != DType::f64)
    fail<DTypeError>("gradcheck: the function must return f64, got ", output.dtype());
  std::vector<std::vector<std::vector<double>>> analytic;  // [output k][input][element]
  for (std::int64_t k = 0; k < output.numel(); ++k)
    analytic.push_back(analytic_row(output, wrt, k));

  for (std::size_t w = 0; w < wrt.size(); ++w) {
    for (std::int64_t j = 0; j < wrt[w].numel(); ++j) {
      const std::vector<double> numeric = numeric_column(f, xs, wrt_index[w], j, options.eps);
      for (std::int64_t k = 0; k < output.numel(); ++k) {
        const double a = analytic[k][w][j], n = numeric[k];
        if (std::abs(a - n) <= options.atol + options.rtol * std::abs(n)) continue;
        fail<Error>("gradcheck: d output[", k, "] / d input ", wrt_index[w], "[", j, "]: analytic ",
                    a, ", numeric ", n, " (atol ", options.atol, ", rtol ", options.rtol, ")");
      }
    }
  }
  return true;
}

bool gradgradcheck(const GradcheckFunction& f, const std::vector<Tensor>& inputs,
                   const GradcheckOptions& options) {
  const Tensor cotangent = randn(f(leaf_copies(inputs)).shape(), DType::f64);
  const GradcheckFunction vjp = [&](const std::vector<Tensor>& xs) {
    const Tensor output = f(xs);
    std::vector<Tensor> wrt;
    for (const auto& x : xs)
      if (x.requires_grad()) wrt.push_back(x);
    if (!output.requires_grad()) return zeros({0}, DType::f64);
    std::vector<Tensor> grads = autograd::grad({output}, wrt, {cotangent}, true, true, true);
    std::vector<Tensor> flat;
    for (std::size_t i = 0; i < grads.size(); ++i)
      flat.push_back(grads[i].defined() ? reshape(grads[i], {-1})
                                        : zeros({wrt[i].numel()}, DType::f64));
    return cat(flat, 0);
  };
  return gradcheck(vjp, inputs, options);
}

}  // namespace tether
