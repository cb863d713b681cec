// Adversarial inputs over the op table's entries of ops.h (op_table.h; nn's
// losses are left out, since an undefined pos_weight is valid and the mean of
// nothing is NaN, as in PyTorch): every entry is run again with an undefined
// tensor in each argument position, with zero-size operands, with
// non-contiguous views of its inputs and with mixed dtypes. The rule is "right
// answer or tether::Error": each run either returns the result the entry's op
// defines (its expected value, or the value of the promoted inputs) or throws
// a tether::Error whose message names the op. Any other exception fails the
// test, and a crash ends it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "op_table.h"
#include "tether/node.h"

namespace tether::op_table {
namespace {

std::vector<OpCase> all_cases() {
  std::vector<OpCase> cases;
  for (auto family :
       {elementwise_cases, reduction_cases, linalg_cases, shape_cases, sort_cases, value_only_cases,
        attention_cases, mask_op_cases, scan_cases, einsum_cases, conv_cases})
    for (auto& c : family()) cases.push_back(std::move(c));
  return cases;
}

/// What one run of an entry gave: its result, or the message of the
/// tether::Error it threw. Other exceptions propagate and fail the test.
struct Outcome {
  std::optional<Tensor> result;
  std::string error;
  bool dtype_error = false;
};

Outcome run(const OpCase& c, const Inputs& inputs) {
  try {
    return {c.f(inputs), {}};
  } catch (const DTypeError& e) {
    return {std::nullopt, e.what(), true};
  } catch (const Error& e) {
    return {std::nullopt, e.what()};
  }
}

/// The ops an entry applies to its inputs before its own op (transposing or
/// symmetrising them): the nodes below the op's node in the graph of one run
/// on inputs that require grad. (Of an op composed of others, which records no
/// node of its own, the ops that read the inputs.) Never a Tensor accessor
/// ("shape", "dtype"): an op must check its arguments before it reads them.
std::set<std::string> preparing_ops(const OpCase& c) {
  Inputs inputs;
  for (const auto& x : c.value_inputs)
    inputs.push_back(x.is_floating_point() ? x.detach().clone().requires_grad_() : x);
  const Tensor out = c.f(inputs);
  std::vector<const autograd::Node*> nodes, below;
  const auto visit = [](std::vector<const autograd::Node*>& found) {
    for (std::size_t k = 0; k < found.size(); ++k)
      for (const auto& next : found[k]->next_edges())
        if (next.node) found.push_back(next.node.get());
  };
  if (out.grad_fn()) nodes.push_back(out.grad_fn().get());
  visit(nodes);
  for (const auto* node : nodes)
    if (node->name() == c.op)
      for (const auto& next : node->next_edges())
        if (next.node) below.push_back(next.node.get());
  visit(below);
  std::set<std::string> names;
  for (const auto* node : below) names.insert(std::string(node->name()));
  // An op composed of others records no node of its own: the ops that read
  // the inputs themselves are then either the entry's or the op's first ones.
  if (names.empty())
    for (const auto* node : nodes)
      for (const auto& next : node->next_edges())
        if (next.node && next.node->name() == "AccumulateGrad")
          names.insert(std::string(node->name()));
  // Arithmetic with a scalar (x * 2.0) names its operator and records an affine node.
  if (names.count("affine")) names.insert({"add", "sub", "mul", "div"});
  return names;
}

/// A tether::Error must say which op refused its arguments: the entry's op, or
/// an op the entry prepared the arguments with.
void check_names_op(const OpCase& c, const Outcome& outcome) {
  if (outcome.result) return;
  INFO("error: " << outcome.error);
  const std::string named = outcome.error.substr(0, outcome.error.find(':'));
  CHECK((named == c.op || preparing_ops(c).count(named) == 1));
}

/// Same shape and values as `expected`, within `tolerance` (NaN matches NaN).
void check_equal(const Tensor& actual, const Tensor& expected, double tolerance) {
  REQUIRE(actual.shape() == expected.shape());
  const std::vector<double> got = actual.to_vector<double>(), want = expected.to_vector<double>();
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i << " of " << actual << ", expected " << expected);
    if (std::isnan(want[i]))
      CHECK(std::isnan(got[i]));
    else
      CHECK(got[i] == Approx(want[i]).epsilon(tolerance).margin(tolerance));
  }
}

/// x with the same values, viewed with a stride of 2 in its last dim (through
/// a strided view of a buffer twice as large) and, for a matrix, transposed twice.
Tensor non_contiguous(const Tensor& x) {
  if (x.dim() == 0) return x;
  Tensor strided = stack({x, zeros_like(x)}, -1).select(-1, 0);
  if (x.dim() >= 2) strided = strided.transpose(0, 1).contiguous().transpose(0, 1);
  return strided;
}

/// `inputs` with input i narrowed to `length` along dim d.
Inputs narrowed(const Inputs& inputs, std::size_t i, int d, std::int64_t length) {
  Inputs variant = inputs;
  variant[i] = narrow(inputs[i], d, 0, length).contiguous();
  return variant;
}

/// The shape a zero-size input should give, by the shape rules the op follows
/// for extents 1, 2 (and 3) of that dim: where every extent of the result is
/// affine in the input's extent (broadcast, concatenated, reduced, kept, or
/// offset as a diagonal's), the result for extent 0 extrapolates from them,
/// clipped at 0. Nothing when a run is refused or the rule is not affine (a
/// strided slice's ceiling).
std::optional<Shape> extrapolated_shape(const OpCase& c, const Inputs& inputs, std::size_t i,
                                        int d) {
  std::vector<Shape> shapes;
  for (std::int64_t length = 1; length <= std::min<std::int64_t>(inputs[i].size(d), 3); ++length) {
    const Outcome outcome = run(c, narrowed(inputs, i, d, length));
    if (!outcome.result) return std::nullopt;
    shapes.push_back(outcome.result->shape());
  }
  if (shapes.size() < 2) return std::nullopt;
  Shape shape = shapes[0];
  for (int k = 0; k < shape.size(); ++k) {
    const std::int64_t step = shapes[1][k] - shapes[0][k];
    for (std::size_t n = 1; n < shapes.size(); ++n)
      if (shapes[n].size() != shape.size() ||
          shapes[n][k] != shapes[0][k] + step * static_cast<std::int64_t>(n))
        return std::nullopt;
    shape[k] = std::max<std::int64_t>(shapes[0][k] - step, 0);
  }
  return shape;
}

/// Ops whose value over no elements is not finite in torch: the mean of nothing
/// is NaN (0 / 0), its variance too, and its logsumexp -inf (log 0).
bool empty_reduction_is_not_finite(const std::string& op) {
  return op == "mean" || op == "var" || op == "logsumexp";
}

/// The floating inputs (f64 in the table) that can be given another dtype.
std::vector<std::size_t> floating_positions(const Inputs& inputs) {
  std::vector<std::size_t> positions;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].dtype() == DType::f64) positions.push_back(i);
  return positions;
}

TEST_CASE("every op given an undefined tensor throws a ValueError naming the op", "[adversarial]") {
  for (const auto& c : all_cases()) {
    for (std::size_t i = 0; i < c.value_inputs.size(); ++i) {
      INFO(c.op << " / " << c.variant << ", argument " << i << " undefined");
      Inputs inputs = c.value_inputs;
      inputs[i] = Tensor();
      const Outcome outcome = run(c, inputs);
      // linear's bias is optional: an undefined one is no bias.
      if (c.op == "linear" && i == 2) continue;
      // So is attention's mask.
      if (c.op == "scaled_dot_product_attention" && i == 3) continue;
      // And conv2d's bias, batch_norm's weight and bias.
      if (c.op == "conv2d" && i == 2) continue;
      if (c.op == "batch_norm" && i >= 1) continue;
      REQUIRE_FALSE(outcome.result);
      CHECK(outcome.error.find("expected a defined tensor") != std::string::npos);
      check_names_op(c, outcome);
    }
  }
}

TEST_CASE("every op given a zero-size operand returns the shape torch gives or an error naming it",
          "[adversarial]") {
  for (const auto& c : all_cases()) {
    for (std::size_t i = 0; i < c.value_inputs.size(); ++i) {
      for (int d = 0; d < c.value_inputs[i].dim(); ++d) {
        INFO(c.op << " / " << c.variant << ", argument " << i << " with dim " << d << " empty");
        const Outcome outcome = run(c, narrowed(c.value_inputs, i, d, 0));
        check_names_op(c, outcome);
        if (!outcome.result) continue;
        if (const auto shape = extrapolated_shape(c, c.value_inputs, i, d))
          CHECK(outcome.result->shape() == *shape);
        if (empty_reduction_is_not_finite(c.op)) continue;
        for (double v : outcome.result->to_vector<double>()) CHECK(std::isfinite(v));
      }
    }
  }
}

TEST_CASE("every op given two zero-size operands returns finite values or an error naming it",
          "[adversarial]") {
  // Two empty extents at once meet where one alone cannot: the inner dims of
  // a product ([2, 0] @ [0, 3] is zeros in torch), the dims a where broadcasts.
  for (const auto& c : all_cases()) {
    const Inputs& x = c.value_inputs;
    for (std::size_t i = 0; i < x.size(); ++i)
      for (std::size_t j = i + 1; j < x.size(); ++j)
        for (int d = 0; d < x[i].dim(); ++d)
          for (int e = 0; e < x[j].dim(); ++e) {
            INFO(c.op << " / " << c.variant << ", dim " << d << " of argument " << i << " and dim "
                      << e << " of argument " << j << " empty");
            const Outcome outcome = run(c, narrowed(narrowed(x, i, d, 0), j, e, 0));
            check_names_op(c, outcome);
            if (!outcome.result || empty_reduction_is_not_finite(c.op)) continue;
            for (double v : outcome.result->to_vector<double>()) CHECK(std::isfinite(v));
          }
  }
}

TEST_CASE("every op gives its expected value on non-contiguous views of its inputs",
          "[adversarial]") {
  for (const auto& c : all_cases()) {
    INFO(c.op << " / " << c.variant);
    Inputs inputs;
    for (const auto& x : c.value_inputs) inputs.push_back(non_contiguous(x));
    const Outcome outcome = run(c, inputs);
    INFO("error: " << outcome.error);
    if (c.op == "view" && !outcome.result) {  // as torch's, view refuses strides it cannot keep
      CHECK(outcome.error.find("use reshape()") != std::string::npos);
      continue;
    }
    REQUIRE(outcome.result);
    check_equal(*outcome.result, c.expected, 1e-12);
  }
}

/// Runs every entry with each floating input converted to `dtype`: the result
/// must be that of the promoted inputs (the op on the converted inputs taken
/// back to f64), or a DTypeError naming the op.
void check_mixed(DType dtype) {
  for (const auto& c : all_cases()) {
    for (std::size_t i : floating_positions(c.value_inputs)) {
      INFO(c.op << " / " << c.variant << ", argument " << i << " as " << dtype);
      Inputs inputs = c.value_inputs, promoted = c.value_inputs;
      inputs[i] = c.value_inputs[i].to(dtype);
      promoted[i] = inputs[i].to(DType::f64);
      const Outcome outcome = run(c, inputs), reference = run(c, promoted);
      check_names_op(c, outcome);
      if (!outcome.result) {
        INFO("error: " << outcome.error);
        // A DTypeError refuses the mix; any other error must be the promoted inputs' own.
        CHECK((outcome.dtype_error || !reference.result));
        continue;
      }
      REQUIRE(reference.result);
      const double tolerance = outcome.result->dtype() == DType::f32 ? 1e-5 : 1e-12;
      check_equal(*outcome.result, *reference.result, tolerance);
    }
  }
}

TEST_CASE("every op given f32 with f64 promotes them or throws a DTypeError naming it",
          "[adversarial]") {
  check_mixed(DType::f32);
}

TEST_CASE("every op given i64 where it takes f64 promotes it or throws a DTypeError naming it",
          "[adversarial]") {
  check_mixed(DType::i64);
}

/// A factory or shape-making op asked for more elements than 64 bits count,
/// or for more bytes than the machine has, throws at once (no allocation is
/// tried, nothing is touched).
template <class E, class F>
void check_refused(const char* op, F make) {
  INFO(op);
  try {
    make();
    FAIL("no error");
  } catch (const E& e) {
    CHECK(std::string(e.what()).find(op) != std::string::npos);
  }
}

TEST_CASE("factories and shape ops refuse shapes whose size overflows or exceeds memory",
          "[adversarial]") {
  constexpr std::int64_t kHuge = std::int64_t{1} << 62, kTera = std::int64_t{1} << 40;
  check_refused<ShapeError>("zeros", [&] { zeros({kHuge, 4}); });
  check_refused<ShapeError>("ones", [&] { ones({4, kHuge}); });
  check_refused<ShapeError>("full", [&] { full({kHuge, kHuge}, 1.0); });
  check_refused<ShapeError>("empty", [&] { empty({kHuge, 8}); });
  check_refused<ShapeError>("rand", [&] { rand({3, kHuge}); });
  check_refused<ShapeError>("randn", [&] { randn({3, kHuge}); });
  check_refused<ShapeError>("eye", [&] { eye(kHuge, kHuge); });
  check_refused<ShapeError>("zeros", [&] { zeros({kHuge}, DType::f64); });  // bytes overflow
  check_refused<ShapeError>("zeros", [&] { zeros({-1, 3}); });
  check_refused<ShapeError>("tensor", [&] { tensor({1.0}, {kHuge, 4}); });
  check_refused<OutOfMemoryError>("zeros", [&] { zeros({3, kTera}); });
  check_refused<OutOfMemoryError>("randn", [&] { randn({3, kTera}); });
  check_refused<OutOfMemoryError>("linspace", [&] { linspace(0.0, 1.0, kTera); });
  check_refused<OutOfMemoryError>("arange", [&] { arange(kTera); });
  check_refused<ShapeError>("arange", [&] { arange(1e300); });
  check_refused<ValueError>("arange", [&] { arange(0.0, INFINITY, 1.0); });
  check_refused<ValueError>("arange", [&] { arange(NAN); });

  const Tensor one = ones({1, 1});
  check_refused<ShapeError>("expand", [&] { expand(one, {kHuge, 4}); });
  check_refused<ShapeError>("expand", [&] { expand(one, {-5, 1}); });
  check_refused<ShapeError>("reshape", [&] { reshape(ones({4}), {kHuge + 1, 4}); });
  check_refused<ShapeError>("view", [&] { view(ones({4}), {kHuge + 1, -1, 4}); });
  // Views of a huge extent are cheap; what is computed from them is not.
  const Tensor column = expand(one, {kTera, 1}), row = expand(one, {1, kTera});
  check_refused<OutOfMemoryError>("add", [&] { column + expand(one, {1, 4}); });
  check_refused<ShapeError>("add", [&] { column + row; });
  check_refused<ShapeError>("matmul", [&] { matmul(column, row); });
  check_refused<OutOfMemoryError>("exp", [&] { exp(column); });
  check_refused<OutOfMemoryError>("cat", [&] { cat({column, column}); });
  const Tensor longest = expand(one, {std::int64_t{1} << 62, 1});
  check_refused<ShapeError>("cat", [&] { cat({longest, longest}); });
}

}  // namespace
}  // namespace tether::op_table
