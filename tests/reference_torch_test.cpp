// Replays the PyTorch reference suite: tests/data/torch_reference/<family>.json,
// written by scripts/torch-reference with torch (which neither the build nor CI
// needs). Each case names an op of the table below, its inputs and arguments,
// and what torch did: threw (then tether must throw a tether::Error; messages
// are not compared), or returned a value, whose dtype, shape and elements
// tether must reproduce, with the gradients of sum(output * grad_output) with
// respect to every floating-point input and, where the case has them, the
// second-order gradients. Every case runs in a child process (a crash fails
// that case only) and is reported on its own, with its family, op, inputs, and
// expected against actual results. A case that tether refuses on purpose
// ("tether_expected": "error", with a "tether_reason") must throw a
// tether::Error whatever torch did. Elements agree
// within 1e-10 + 1e-8 |expected| in f64 and 1e-6 + 1e-5 |expected| in f32;
// NaN matches NaN, infinities match exactly. Run the suite with
//   tether_tests "[torch_reference]"
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "tether/tether.h"

namespace tether {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Inputs = std::vector<Tensor>;
/// An op of the table: inputs and the case's "args" to the result.
using Op = std::function<Tensor(const Inputs&, const json&)>;

const fs::path kData = fs::path(TETHER_TEST_DATA_DIR) / "torch_reference";

// ---- tensors in the data files ----------------------------------------------

DType dtype_named(const std::string& name) {
  if (name == "f32") return DType::f32;
  if (name == "f64") return DType::f64;
  if (name == "bool") return DType::boolean;
  return DType::i64;
}

double number(const json& v) {
  if (!v.is_string()) return v.get<double>();
  const std::string s = v.get<std::string>();
  if (s == "nan") return std::nan("");
  return s == "inf" ? INFINITY : -INFINITY;
}

Shape shape_of(const json& dims) {
  return Shape(dims.get<std::vector<std::int64_t>>());
}

Tensor decode(const json& t) {
  std::vector<double> values;
  for (const auto& v : t["data"]) values.push_back(number(v));
  return tensor(values, shape_of(t["shape"]), dtype_named(t["dtype"]));
}

std::string describe(const json& t) {
  if (t.is_null()) return "none";
  std::ostringstream os;
  os << t["dtype"].get<std::string>() << t["shape"].dump() << " {";
  const std::size_t shown = std::min<std::size_t>(t["data"].size(), 12);
  for (std::size_t i = 0; i < shown; ++i) os << (i ? ", " : "") << t["data"][i].dump();
  if (shown < t["data"].size()) os << ", ... (" << t["data"].size() << " elements)";
  return os.str() + "}";
}

/// tether's result in the data files' encoding, for messages.
json encode(const Tensor& t) {
  if (!t.defined()) return nullptr;
  json data = json::array();
  for (double v : t.detach().contiguous().to(DType::f64).to_vector<double>()) {
    if (std::isnan(v))
      data.push_back("nan");
    else if (std::isinf(v))
      data.push_back(v > 0 ? "inf" : "-inf");
    else
      data.push_back(v);
  }
  return {
      {"dtype", std::string(name(t.dtype()))}, {"shape", t.shape().to_vector()}, {"data", data}};
}

// ---- the op table -----------------------------------------------------------

/// A case's integer or real argument `key`.
std::int64_t integer(const json& a, const char* key) {
  return a.at(key).get<std::int64_t>();
}
double real(const json& a, const char* key) {
  return a.at(key).get<double>();
}
/// Argument `key` as the kind of number the file writes: an integer or a real.
Scalar scalar(const json& a, const char* key) {
  const json& v = a.at(key);
  return v.is_number_integer() ? Scalar(v.get<std::int64_t>()) : Scalar(v.get<double>());
}

Dims dims_of(const json& a) {
  return a.contains("dims") ? shape_of(a["dims"]) : Dims{};
}

bool keepdim(const json& a) {
  return a.value("keepdim", false);
}

std::optional<double> optional_number(const json& a, const char* key) {
  if (!a.contains(key) || a[key].is_null()) return std::nullopt;
  return a[key].get<double>();
}

/// args[key] as an (height, width) pair, or `otherwise` for both where absent.
nn::Size2d size_pair(const json& args, const char* key, std::int64_t otherwise) {
  return args.contains(key) ? nn::Size2d(args[key][0], args[key][1]) : nn::Size2d(otherwise);
}

/// An optional extent of a pair in the file: a number, or null for None.
std::optional<std::int64_t> optional_extent(const json& v) {
  return v.is_null() ? std::nullopt : std::optional(v.get<std::int64_t>());
}

/// F.interpolate's keywords: size or scale_factor as pairs, mode, align_corners.
nn::InterpolateOptions interpolate_options(const json& a) {
  nn::InterpolateOptions options;
  if (a.contains("size")) options.size = nn::Size2d(a["size"][0], a["size"][1]);
  if (a.contains("scale_factor"))
    options.scale_factor = nn::Scale2d(a["scale_factor"][0], a["scale_factor"][1]);
  if (a.value("mode", "nearest") == "bilinear") options.mode = nn::InterpolateMode::bilinear;
  if (a.contains("align_corners")) options.align_corners = a["align_corners"].get<bool>();
  return options;
}

/// A binary op of two tensors, or of a tensor and args.scalar (the scalar first
/// when args.reverse). An integer scalar reaches tether as std::int64_t, a
/// floating one as double, so each picks its own overload once there is one.
template <class F>
Op binary(F f) {
  return [f](const Inputs& x, const json& a) -> Tensor {
    if (!a.contains("scalar")) return f(x[0], x[1]);
    const auto apply = [&](auto scalar) -> Tensor {
      if (!a.value("reverse", false)) return f(x[0], scalar);
      if constexpr (std::is_invocable_v<F, decltype(scalar), const Tensor&>)
        return f(scalar, x[0]);
      else
        throw std::logic_error("the replay has no scalar-first form of this op");
    };
    const json& s = a["scalar"];
    return s.is_number_integer() ? apply(s.get<std::int64_t>()) : apply(s.get<double>());
  };
}

/// An op of one tensor without arguments.
Op unary(Tensor (*f)(const Tensor&)) {
  return [f](const Inputs& x, const json&) { return f(x[0]); };
}

/// A reduction over args.dims (all when absent), keepdim from args.
Op reduction(Tensor (*f)(const Tensor&, const Dims&, bool)) {
  return [f](const Inputs& x, const json& a) { return f(x[0], dims_of(a), keepdim(a)); };
}

/// any or all: over args.dim (all dims when absent), keepdim from args.
Op truth_reduction(Tensor (*f)(const Tensor&, const Dims&, bool)) {
  return [f](const Inputs& x, const json& a) {
    return f(x[0], a.contains("dim") ? Dims{integer(a, "dim")} : Dims{}, keepdim(a));
  };
}

/// An op of one tensor and args.dim.
Op along_dim(Tensor (*f)(const Tensor&, std::int64_t)) {
  return [f](const Inputs& x, const json& a) { return f(x[0], integer(a, "dim")); };
}

TensorOptions factory_options(const json& a) {
  return a.contains("dtype") ? TensorOptions(dtype_named(a["dtype"])) : TensorOptions();
}

/// The strategy a constraint case names, built as its maker in constraint_library.h.
std::shared_ptr<Constraint> strategy(const json& a, const Inputs& raw) {
  const std::string name = a["strategy"];
  const std::int64_t dim = a.value("dim", std::int64_t{-1});
  if (name == "positive")
    return constraints::positive(a.value("map", "") == "exp" ? constraints::PositiveMap::exp
                                                             : constraints::PositiveMap::softplus,
                                 a.value("lower_bound", 0.0));
  if (name == "bounded") return constraints::bounded(real(a, "lo"), real(a, "hi"));
  if (name == "simplex") return constraints::simplex(dim);
  if (name == "unit_norm") return constraints::unit_norm(dim);
  if (name == "weight_norm") return constraints::weight_norm(a.value("dim", std::int64_t{0}));
  if (name == "symmetric") return constraints::symmetric();
  if (name == "skew_symmetric") return constraints::skew_symmetric();
  if (name == "lower_triangular") return constraints::lower_triangular();
  if (name == "cholesky_factor") return constraints::cholesky_factor();
  if (name == "positive_definite") return constraints::positive_definite(a.value("eps", 1e-6));
  if (name == "orthogonal") return constraints::orthogonal();
  if (name == "stick_breaking_simplex") return constraints::stick_breaking_simplex();
  if (name == "cholesky_corr") return constraints::cholesky_corr();
  if (name == "chain") return chain(strategy(a["first"], raw), strategy(a["second"], raw));
  if (name == "spectral_norm")
    return constraints::spectral_norm(raw[0], a.value("dim", std::int64_t{0}),
                                      a.value("power_iteration_steps", 1));
  throw std::logic_error("the replay has no strategy " + name);
}

/// A computed parameter over the case's raw inputs (the leaves themselves, so
/// their gradients are the raw inputs' gradients).
std::shared_ptr<ComputedParameter> constrained(const json& a, const Inputs& raw) {
  return std::make_shared<ComputedParameter>(strategy(a, raw), raw);
}

Tensor constrained_value(const Inputs& x, const json& a) {
  return constrained(a, x)->value();
}

/// The output of sort, topk, max or min that the case asks for.
Tensor output_of(const ValuesAndIndices& result, const json& a) {
  return a.at("output").get<std::string>() == "values" ? result.values : result.indices;
}

/// Part k of a split times k + 1, joined along the split dim (stacked for
/// unbind's parts), as the generator's weighted_join.
Tensor weighted_join(const std::vector<Tensor>& parts, const json& a, bool stacked = false) {
  std::vector<Tensor> weighted;
  for (std::size_t k = 0; k < parts.size(); ++k)
    weighted.push_back(parts[k] * static_cast<double>(k + 1));
  const std::int64_t dim = a.value("dim", std::int64_t{0});
  return stacked ? stack(weighted, dim) : cat(weighted, dim);
}

nn::Reduction reduction_named(const std::string& name) {
  if (name == "sum") return nn::Reduction::sum;
  if (name == "none") return nn::Reduction::none;
  return nn::Reduction::mean;
}

const std::map<std::string, Op>& op_table() {
  static const std::map<std::string, Op> table = {
      {"add", binary([](const auto& p, const auto& q) -> decltype(p + q) { return p + q; })},
      {"sub", binary([](const auto& p, const auto& q) -> decltype(p - q) { return p - q; })},
      {"mul", binary([](const auto& p, const auto& q) -> decltype(p * q) { return p * q; })},
      {"div", binary([](const auto& p, const auto& q) -> decltype(p / q) { return p / q; })},
      {"pow", binary([](const Tensor& p, const auto& q) { return pow(p, q); })},
      {"lt", binary([](const Tensor& p, const auto& q) { return p < q; })},
      {"le", binary([](const Tensor& p, const auto& q) { return p <= q; })},
      {"gt", binary([](const Tensor& p, const auto& q) { return p > q; })},
      {"ge", binary([](const Tensor& p, const auto& q) { return p >= q; })},
      {"eq", [](const Inputs& x, const json&) { return eq(x[0], x[1]); }},
      {"ne", [](const Inputs& x, const json&) { return ne(x[0], x[1]); }},
      {"maximum", [](const Inputs& x, const json&) { return maximum(x[0], x[1]); }},
      {"minimum", [](const Inputs& x, const json&) { return minimum(x[0], x[1]); }},
      {"where", [](const Inputs& x, const json&) {
         return where(x[0].to(DType::boolean), x[1], x[2]);  // torch's x[0] != 0
       }},
      {"masked_fill", [](const Inputs& x, const json& a) {
         return x.size() > 2 ? masked_fill(x[0], x[1], x[2])
                             : masked_fill(x[0], x[1], number(a.at("value")));
       }},
      {"masked_select", [](const Inputs& x, const json&) { return masked_select(x[0], x[1]); }},
      {"logical_and", [](const Inputs& x, const json&) { return logical_and(x[0], x[1]); }},
      {"logical_or", [](const Inputs& x, const json&) { return logical_or(x[0], x[1]); }},
      {"logical_xor", [](const Inputs& x, const json&) { return logical_xor(x[0], x[1]); }},
      {"logical_not", unary(logical_not)},
      {"isnan", unary(isnan)},
      {"isinf", unary(isinf)},
      {"isfinite", unary(isfinite)},
      {"any", truth_reduction(any)},
      {"all", truth_reduction(all)},
      {"neg", unary(neg)},
      {"reciprocal", unary(reciprocal)},
      {"exp", unary(exp)},
      {"log", unary(log)},
      {"log1p", unary(log1p)},
      {"sqrt", unary(sqrt)},
      {"rsqrt", unary(rsqrt)},
      {"abs", unary(abs)},
      {"sign", unary(sign)},
      {"sin", unary(sin)},
      {"cos", unary(cos)},
      {"tanh", unary(tanh)},
      {"sigmoid", unary(sigmoid)},
      {"erf", unary(erf)},
      {"erfc", unary(erfc)},
      {"lgamma", unary(lgamma)},
      {"digamma", unary(digamma)},
      {"polygamma",
       [](const Inputs& x, const json& a) { return polygamma(a.at("n").get<std::int64_t>(), x[0]); }},
      {"log_ndtr", unary(log_ndtr)},
      {"xlogy", [](const Inputs& x, const json&) { return xlogy(x[0], x[1]); }},
      {"expm1", unary(expm1)},
      {"atan", unary(atan)},
      {"erfinv", unary(erfinv)},
      {"relu", unary(relu)},
      {"gelu", unary(gelu)},
      {"softplus", unary(softplus)},
      {"matrix_exp", unary(matrix_exp)},
      {"logdet", unary(logdet)},
      {"contiguous", unary(contiguous)},
      {"clone", unary(clone)},
      {"leaky_relu",
       [](const Inputs& x, const json& a) {
         return leaky_relu(x[0], a.value("negative_slope", 0.01));
       }},
      {"clamp",
       [](const Inputs& x, const json& a) {
         return clamp(x[0], optional_number(a, "min"), optional_number(a, "max"));
       }},
      {"sum", reduction(sum)},
      {"mean", reduction(mean)},
      {"amax", reduction(amax)},
      {"amin", reduction(amin)},
      {"norm", reduction(norm)},
      {"logsumexp", reduction(logsumexp)},
      {"var",
       [](const Inputs& x, const json& a) {
         return var(x[0], dims_of(a), a.value("correction", std::int64_t{1}), keepdim(a));
       }},
      {"argmax",
       [](const Inputs& x, const json& a) {
         return argmax(x[0], integer(a, "dim"), keepdim(a));
       }},
      {"softmax", along_dim(softmax)},
      {"log_softmax", along_dim(log_softmax)},
      {"normalize",
       [](const Inputs& x, const json& a) {
         return normalize(x[0], a.value("dim", std::int64_t{1}));
       }},
      {"matmul", [](const Inputs& x, const json&) { return matmul(x[0], x[1]); }},
      {"mm", [](const Inputs& x, const json&) { return mm(x[0], x[1]); }},
      {"mv", [](const Inputs& x, const json&) { return mv(x[0], x[1]); }},
      {"dot", [](const Inputs& x, const json&) { return dot(x[0], x[1]); }},
      {"outer", [](const Inputs& x, const json&) { return outer(x[0], x[1]); }},
      {"linear",
       [](const Inputs& x, const json&) {
         return linear(x[0], x[1], x.size() > 2 ? x[2] : Tensor());
       }},
      {"cholesky",
       [](const Inputs& x, const json& a) { return cholesky(x[0], a.value("upper", false)); }},
      {"solve_triangular",
       [](const Inputs& x, const json& a) {
         return solve_triangular(x[0], x[1], a.at("upper").get<bool>(), a.value("left", true),
                                 a.value("unitriangular", false));
       }},
      {"cholesky_solve",
       [](const Inputs& x, const json& a) {
         return cholesky_solve(x[0], x[1], a.value("upper", false));
       }},
      {"tril",
       [](const Inputs& x, const json& a) {
         return tril(x[0], a.value("diagonal", std::int64_t{0}));
       }},
      {"triu",
       [](const Inputs& x, const json& a) {
         return triu(x[0], a.value("diagonal", std::int64_t{0}));
       }},
      {"diagonal",
       [](const Inputs& x, const json& a) {
         return diagonal(x[0], a.value("offset", std::int64_t{0}));
       }},
      {"reshape",
       [](const Inputs& x, const json& a) { return reshape(x[0], shape_of(a["shape"])); }},
      {"view", [](const Inputs& x, const json& a) { return view(x[0], shape_of(a["shape"])); }},
      {"expand",
       [](const Inputs& x, const json& a) { return expand(x[0], shape_of(a["shape"])); }},
      {"flatten",
       [](const Inputs& x, const json& a) {
         return flatten(x[0], a.value("start_dim", std::int64_t{0}),
                        a.value("end_dim", std::int64_t{-1}));
       }},
      {"transpose",
       [](const Inputs& x, const json& a) {
         return transpose(x[0], integer(a, "dim0"), integer(a, "dim1"));
       }},
      {"permute", [](const Inputs& x, const json& a) { return permute(x[0], shape_of(a["dims"])); }},
      {"squeeze",
       [](const Inputs& x, const json& a) {
         return a.contains("dim") ? squeeze(x[0], integer(a, "dim")) : squeeze(x[0]);
       }},
      {"unsqueeze", along_dim(unsqueeze)},
      {"narrow",
       [](const Inputs& x, const json& a) {
         return narrow(x[0], integer(a, "dim"), integer(a, "start"), integer(a, "length"));
       }},
      {"slice",
       [](const Inputs& x, const json& a) {
         return slice(x[0], integer(a, "dim"), integer(a, "start"), integer(a, "end"), a.value("step", std::int64_t{1}));
       }},
      {"select",
       [](const Inputs& x, const json& a) { return select(x[0], integer(a, "dim"), integer(a, "index")); }},
      {"cat", [](const Inputs& x, const json& a) { return cat(x, a.value("dim", std::int64_t{0})); }},
      {"stack",
       [](const Inputs& x, const json& a) { return stack(x, a.value("dim", std::int64_t{0})); }},
      {"index_select",
       [](const Inputs& x, const json& a) { return index_select(x[0], integer(a, "dim"), x[1]); }},
      {"gather", [](const Inputs& x, const json& a) { return gather(x[0], integer(a, "dim"), x[1]); }},
      {"to", [](const Inputs& x, const json& a) { return to(x[0], dtype_named(a["dtype"])); }},
      {"sort",
       [](const Inputs& x, const json& a) {
         return output_of(sort(x[0], a.value("dim", std::int64_t{-1}),
                               a.value("descending", false), true),
                          a);
       }},
      {"topk",
       [](const Inputs& x, const json& a) {
         return output_of(topk(x[0], integer(a, "k"), a.value("dim", std::int64_t{-1}),
                               a.value("largest", true)),
                          a);
       }},
      {"max",
       [](const Inputs& x, const json& a) {
         return output_of(max(x[0], integer(a, "dim"), keepdim(a)), a);
       }},
      {"min",
       [](const Inputs& x, const json& a) {
         return output_of(min(x[0], integer(a, "dim"), keepdim(a)), a);
       }},
      {"argmin",
       [](const Inputs& x, const json& a) { return argmin(x[0], integer(a, "dim"), keepdim(a)); }},
      {"argsort",
       [](const Inputs& x, const json& a) {
         return argsort(x[0], a.value("dim", std::int64_t{-1}), a.value("descending", false));
       }},
      {"split",
       [](const Inputs& x, const json& a) {
         const std::int64_t dim = a.value("dim", std::int64_t{0});
         const json& size = a.at("split");
         return weighted_join(size.is_array()
                                  ? split(x[0], size.get<std::vector<std::int64_t>>(), dim)
                                  : split(x[0], size.get<std::int64_t>(), dim),
                              a);
       }},
      {"chunk",
       [](const Inputs& x, const json& a) {
         return weighted_join(
             chunk(x[0], integer(a, "chunks"), a.value("dim", std::int64_t{0})), a);
       }},
      {"unbind",
       [](const Inputs& x, const json& a) {
         return weighted_join(unbind(x[0], a.value("dim", std::int64_t{0})), a, true);
       }},
      {"cumsum", along_dim(cumsum)},
      {"cumprod", along_dim(cumprod)},
      {"flip", [](const Inputs& x, const json& a) { return flip(x[0], dims_of(a)); }},
      {"roll",
       [](const Inputs& x, const json& a) {
         return roll(x[0], shape_of(a["shifts"]), dims_of(a));
       }},
      {"repeat", [](const Inputs& x, const json& a) { return repeat(x[0], shape_of(a["repeats"])); }},
      {"einsum", [](const Inputs& x, const json& a) { return einsum(a["equation"], x); }},
      {"bmm", [](const Inputs& x, const json&) { return bmm(x[0], x[1]); }},
      {"baddbmm",
       [](const Inputs& x, const json& a) {
         return baddbmm(x[0], x[1], x[2], real(a, "beta"), real(a, "alpha"));
       }},
      {"zeros",
       [](const Inputs&, const json& a) { return zeros(shape_of(a["shape"]), factory_options(a)); }},
      {"ones",
       [](const Inputs&, const json& a) { return ones(shape_of(a["shape"]), factory_options(a)); }},
      {"full",
       [](const Inputs&, const json& a) {
         return full(shape_of(a["shape"]), real(a, "value"), factory_options(a));
       }},
      {"arange",
       [](const Inputs&, const json& a) { return arange(scalar(a, "start"), scalar(a, "end"), scalar(a, "step")); }},
      {"linspace",
       [](const Inputs&, const json& a) { return linspace(real(a, "start"), real(a, "end"), integer(a, "steps")); }},
      {"eye",
       [](const Inputs&, const json& a) {
         return eye(integer(a, "n"), a.value("m", integer(a, "n")));
       }},
      {"cross_entropy",
       [](const Inputs& x, const json& a) {
         return nn::cross_entropy(x[0], x[1], reduction_named(a.value("reduction", "mean")),
                                  a.value("label_smoothing", 0.0),
                                  a.value("ignore_index", std::int64_t{-100}));
       }},
      {"one_hot",
       [](const Inputs& x, const json& a) {
         return one_hot(x[0], a.value("num_classes", std::int64_t{-1}));
       }},
      {"adaptive_avg_pool2d",
       [](const Inputs& x, const json& a) {
         const json& size = a.at("output_size");
         return nn::adaptive_avg_pool2d(
             x[0], nn::AdaptiveSize2d(optional_extent(size[0]), optional_extent(size[1])));
       }},
      {"conv_transpose2d",
       [](const Inputs& x, const json& a) {
         const auto pair = [&](const char* key, std::int64_t otherwise) {
           return size_pair(a, key, otherwise);
         };
         return nn::conv_transpose2d(x[0], x[1], x.size() > 2 ? x[2] : Tensor(), pair("stride", 1),
                                     pair("padding", 0), pair("output_padding", 0),
                                     a.value("groups", std::int64_t{1}), pair("dilation", 1));
       }},
      {"conv2d",
       [](const Inputs& x, const json& a) {
         const auto pair = [&](const char* key, std::int64_t otherwise) {
           return size_pair(a, key, otherwise);
         };
         return nn::conv2d(x[0], x[1], x.size() > 2 ? x[2] : Tensor(), pair("stride", 1),
                           pair("padding", 0), pair("dilation", 1),
                           a.value("groups", std::int64_t{1}));
       }},
      {"interpolate",
       [](const Inputs& x, const json& a) { return nn::interpolate(x[0], interpolate_options(a)); }},
      {"constraint", constrained_value},
      // torch.distributions' transform of the same map: its value and log|det J|.
      {"bijector", constrained_value},
      {"log_abs_det_jacobian",
       [](const Inputs& x, const json& a) {
         const auto c = strategy(a, x);
         return c->log_abs_det_jacobian(x, c->forward(x));
       }},
      // The Gram matrix of the orthogonal value (the identity), where torch's
      // map differs from tether's and only this property is shared.
      {"orthonormal",
       [](const Inputs& x, const json& a) {
         const Tensor q = constrained_value(x, a).detach();
         return q.size(0) >= q.size(1) ? matmul(q.mT(), q) : matmul(q, q.mT());
       }},
      // The value after assign(inputs.back()) to a parameter over the other inputs.
      {"assign",
       [](const Inputs& x, const json& a) {
         const auto parameter = constrained(a, Inputs(x.begin(), x.end() - 1));
         parameter->assign(x.back());
         return parameter->value();
       }},
  };
  return table;
}

// ---- replaying a case -------------------------------------------------------

/// Elements agree: equal, both NaN, or within atol + rtol * |expected|.
bool agree(double got, double expected, DType dtype) {
  if (std::isnan(expected) || std::isnan(got)) return std::isnan(expected) && std::isnan(got);
  if (std::isinf(expected) || std::isinf(got)) return got == expected;
  const double rtol = dtype == DType::f32 ? 1e-5 : 1e-8;
  const double atol = dtype == DType::f32 ? 1e-6 : 1e-10;
  return std::abs(got - expected) <= atol + rtol * std::abs(expected);
}

/// What differs between tether's `got` and torch's `expected` ("" when they
/// agree). An expected null (torch had no gradient) accepts an undefined
/// tensor or zeros.
std::string mismatch(const Tensor& got, const json& expected) {
  if (expected.is_null()) {
    if (!got.defined()) return "";
    for (double v : got.detach().to(DType::f64).contiguous().to_vector<double>())
      if (v != 0.0) return "torch has no gradient here, tether's is not zero";
    return "";
  }
  if (!got.defined()) return "tether's tensor is undefined";
  if (got.dtype() != dtype_named(expected["dtype"])) return "dtype differs";
  if (got.shape() != shape_of(expected["shape"])) return "shape differs";
  const std::vector<double> values = got.detach().contiguous().to(DType::f64).to_vector<double>();
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!agree(values[i], number(expected["data"][i]), got.dtype()))
      return "element " + std::to_string(i) + " differs";
  }
  return "";
}

/// Compares a list of tensors; appends each difference to `report`.
void compare_all(const std::string& what, const std::vector<Tensor>& got, const json& expected,
                 std::string& report) {
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const std::string problem = mismatch(got[i], expected[i]);
    if (!problem.empty())
      report += "\n  " + what + " " + std::to_string(i) + ": " + problem + "\n    expected " +
                describe(expected[i]) + "\n    got      " + describe(encode(got[i]));
  }
}

std::vector<Tensor> decode_all(const json& tensors) {
  std::vector<Tensor> out;
  for (const auto& t : tensors) out.push_back(t.is_null() ? Tensor() : decode(t));
  return out;
}

/// First- and second-order gradients of the case's output with respect to
/// its floating-point inputs, compared with torch's.
void compare_gradients(const json& c, const Tensor& out, const Inputs& leaves,
                       std::string& report) {
  const json& expected = c["expected"];
  const bool second_order = expected.contains("grad_grads");
  const std::vector<Tensor> grads =
      autograd::grad({out}, leaves, {decode(c["grad_output"])}, std::nullopt, second_order, true);
  compare_all("gradient", grads, expected["grads"], report);
  if (!second_order) return;
  std::vector<Tensor> outputs, grad_outputs;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (c["grad_grad_outputs"][i].is_null()) continue;
    outputs.push_back(grads[i]);
    grad_outputs.push_back(decode(c["grad_grad_outputs"][i]));
  }
  compare_all("second-order gradient",
              autograd::grad(outputs, leaves, grad_outputs, std::nullopt, false, true),
              expected["grad_grads"], report);
}

/// What is wrong with tether's outcome on case `c` ("" when it matches torch's).
std::string replay(const json& c) {
  const auto op = op_table().find(c["op"]);
  if (op == op_table().end()) return "\n  the replay has no op of this name";
  const json& expected = c["expected"];
  Inputs inputs;
  try {
    inputs = decode_all(c["inputs"]);
  } catch (const std::exception& e) {
    return "\n  building the inputs throws: " + std::string(e.what());
  }
  Inputs leaves;
  if (c.contains("grad_output")) {
    for (auto& x : inputs) {
      if (!x.is_floating_point()) continue;
      x.requires_grad_();
      leaves.push_back(x);
    }
  }
  const bool tether_refuses = c.value("tether_expected", "") == "error";
  const bool must_throw = tether_refuses || expected.contains("error");
  std::string report;
  try {
    const Tensor out = op->second(inputs, c["args"]);
    if (must_throw)
      return "\n  " +
             (tether_refuses ? "tether should refuse this (" + c.value("tether_reason", "") + ")"
                             : "torch throws (" + expected["error"].get<std::string>() + ")") +
             ", tether returned " + describe(encode(out));
    compare_all("value", {out}, json::array({expected["value"]}), report);
    if (report.empty() && c.contains("grad_output")) compare_gradients(c, out, leaves, report);
  } catch (const Error& e) {
    if (!must_throw) report += "\n  tether throws: " + std::string(e.what());
  } catch (const std::exception& e) {
    report += "\n  tether throws something other than a tether::Error: " + std::string(e.what());
  }
  return report;
}

/// What `check` returns, computed in a child process, so that a case that
/// crashes (a defect this suite is there to find) fails on its own instead of
/// ending the test with every case after it.
std::string in_child_process(const std::function<std::string()>& check) {
  int pipe_ends[2];
  if (pipe(pipe_ends) != 0) return check();
  const pid_t child = fork();
  if (child < 0) {
    close(pipe_ends[0]);
    close(pipe_ends[1]);
    return check();
  }
  if (child == 0) {
    // The default action, not Catch2's handlers, which would report a crash
    // through the parent's reporter.
    for (int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(signal, SIG_DFL);
    close(pipe_ends[0]);
    const std::string report = check();
    for (std::size_t sent = 0; sent < report.size();) {
      const ssize_t n = write(pipe_ends[1], report.data() + sent, report.size() - sent);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    _exit(0);
  }
  close(pipe_ends[1]);
  std::string report;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_ends[0], buffer, sizeof buffer)) > 0;)
    report.append(buffer, static_cast<std::size_t>(n));
  close(pipe_ends[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (WIFSIGNALED(status))
    report += "\n  tether crashed: " + std::string(strsignal(WTERMSIG(status)));
  else if (WEXITSTATUS(status) != 0)
    report += "\n  tether crashed (a sanitizer's report is above)";
  return report;
}

void replay_family(const std::string& family) {
  std::ifstream file(kData / (family + ".json"));
  REQUIRE(file);
  const json data = json::parse(file);
  REQUIRE(!data["cases"].empty());
  manual_seed(0);
  int failed = 0;
  for (const auto& c : data["cases"]) {
    const std::string name =
        family + " / " + c["op"].get<std::string>() + " / " + c["name"].get<std::string>();
    INFO(name);
    const std::string report = in_child_process([&c] { return replay(c); });
    if (report.empty()) continue;
    ++failed;
    std::string inputs;
    for (const auto& x : c["inputs"]) inputs += "\n    " + describe(x);
    FAIL_CHECK("args " << c["args"].dump() << "\n  inputs" << inputs << report);
  }
  INFO(failed << " of " << data["cases"].size() << " cases of " << family
              << " differ from PyTorch");
  CHECK(failed == 0);
}

}  // namespace

TEST_CASE("result dtypes of tensor-tensor and tensor-scalar ops follow PyTorch's type promotion",
          "[torch_reference]") {
  replay_family("promotion");
}

TEST_CASE("broadcast shapes, their gradients and broadcast errors match PyTorch",
          "[torch_reference]") {
  replay_family("broadcasting");
}

TEST_CASE("ops on tensors with a zero-size dim match PyTorch", "[torch_reference]") {
  replay_family("zero_size");
}

TEST_CASE("shapes that overflow the element count or byte size throw, as in PyTorch",
          "[torch_reference]") {
  replay_family("huge_shapes");
}

TEST_CASE("reductions, softmax and argmax over an empty dim match PyTorch", "[torch_reference]") {
  replay_family("empty_reductions");
}

TEST_CASE("NaN and infinity propagate through values and gradients as in PyTorch",
          "[torch_reference]") {
  replay_family("nonfinite");
}

TEST_CASE("values, gradients and second-order gradients of the ops match PyTorch",
          "[torch_reference]") {
  replay_family("ops");
}

TEST_CASE(
    "bool tensors: the predicates, any/all, where, masked_fill and masked_select match "
    "PyTorch",
    "[torch_reference]") {
  replay_family("masks");
}

TEST_CASE("sort, topk, max, min, split, chunk and unbind match PyTorch, NaN and ties included",
          "[torch_reference]") {
  replay_family("selection");
}

TEST_CASE("scans, layout ops, einsum and batched products match PyTorch, triangles included",
          "[torch_reference]") {
  replay_family("scan");
}

TEST_CASE("cross_entropy in all its forms and one_hot match PyTorch", "[torch_reference][loss]") {
  replay_family("losses");
}

TEST_CASE(
    "adaptive_avg_pool2d and interpolate (nearest, bilinear) match PyTorch's values, "
    "errors and gradients",
    "[torch_reference][upsampling]") {
  replay_family("upsampling");
}

TEST_CASE("conv2d matches PyTorch's values, errors, gradients and second derivatives",
          "[torch_reference][conv]") {
  replay_family("convolution");
}

TEST_CASE("every constraint strategy matches its torch.nn.utils.parametrize counterpart",
          "[torch_reference]") {
  replay_family("constraints");
}

TEST_CASE("log-det-Jacobians of positive, bounded and chain match torch.distributions' transforms",
          "[torch_reference][bijector]") {
  replay_family("bijectors");
}

TEST_CASE(
    "Stan's stick-breaking simplex and Cholesky-correlation transforms match torch.distributions'",
    "[torch_reference][bijector][stan]") {
  replay_family("stan_bijectors");
}

}  // namespace tether
