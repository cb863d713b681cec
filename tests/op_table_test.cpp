// The op table's driver (see op_table.h): every entry's values in f64 and f32,
// then gradcheck and gradgradcheck on random inputs. Run one entry with
//   tether_tests "[ops]" -c "softmax / dim -1"
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "op_table.h"

namespace tether::op_table {

Device& table_device() {
  static Device device = Device::cpu();
  return device;
}

Tensor t(const std::vector<double>& values, const Shape& shape) {
  return tensor(values, shape, TensorOptions(DType::f64).with_device(table_device()));
}

Tensor ints(const std::vector<double>& values, const Shape& shape) {
  return tensor(values, shape, TensorOptions(DType::i64).with_device(table_device()));
}

Tensor rnd(const Shape& shape, const std::vector<double>& kinks) {
  Tensor x = randn(shape, DType::f64);
  double* values = x.data_ptr<double>();
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    for (double kink : kinks) {
      if (std::abs(values[i] - kink) < 0.1) values[i] = kink + (values[i] < kink ? -0.1 : 0.1);
    }
  }
  return x.requires_grad_();
}

Tensor positive(const Shape& shape) {
  Tensor x = rand(shape, DType::f64);
  double* values = x.data_ptr<double>();
  for (std::int64_t i = 0; i < x.numel(); ++i) values[i] = 0.5 + 1.5 * values[i];
  return x.requires_grad_();
}

std::function<Inputs()> random_inputs(std::vector<Shape> shapes) {
  return [shapes = std::move(shapes)] {
    Inputs inputs;
    for (const auto& shape : shapes) inputs.push_back(rnd(shape));
    return inputs;
  };
}

Inputs to_f32(const Inputs& inputs) {
  Inputs out;
  for (const auto& x : inputs) out.push_back(x.dtype() == DType::f64 ? x.to(DType::f32) : x);
  return out;
}

std::vector<double> map(const std::vector<double>& values,
                        const std::function<double(double)>& reference) {
  std::vector<double> out;
  for (double v : values) out.push_back(reference(v));
  return out;
}

namespace {

/// Copies of the inputs that require grad, where their dtype allows it.
Inputs requiring_grad(const Inputs& inputs) {
  Inputs out;
  for (const auto& x : inputs)
    out.push_back(x.is_floating_point() ? x.detach().clone().requires_grad_() : x);
  return out;
}

/// Same shape, and every value within `tolerance` (relative, or absolute near zero).
void check_values(const Tensor& actual, const Tensor& expected, double tolerance) {
  REQUIRE(actual.shape() == expected.shape());
  const std::vector<double> got = actual.to_vector<double>(), want = expected.to_vector<double>();
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i << " of " << actual);
    CHECK(got[i] == Approx(want[i]).epsilon(tolerance).margin(tolerance));
  }
}

void check_case(const OpCase& c) {
  {
    INFO("f64 values");
    const Tensor out = c.f(c.value_inputs);
    CHECK(out.dtype() == c.expected.dtype());
    check_values(out, c.expected, 1e-12);
  }
  {
    INFO("f32 values");
    check_values(c.f(to_f32(c.value_inputs)), c.expected, 1e-5);
  }
  if (!c.grad_inputs) {
    INFO("an op without gradient returns a result that does not require grad");
    CHECK_FALSE(c.f(requiring_grad(c.value_inputs)).requires_grad());
    return;
  }
  // Seeded per entry, so that one entry run alone (-c) sees the same inputs.
  manual_seed(20240607);
  const Inputs inputs = c.grad_inputs();
  REQUIRE_NOTHROW(gradcheck(c.f, inputs, c.tolerance));
  if (c.second_order) REQUIRE_NOTHROW(gradgradcheck(c.f, inputs, c.tolerance));
}

void check_family(const std::vector<OpCase>& cases) {
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.op << " / " << c.variant) {
      check_case(c);
    }
  }
}

const std::string kOpsHeader = "autograd/include/tether/ops.h";
const std::string kLossesHeader = "nn/include/tether/nn/functional.h";

/// A function declared in a public header, with the source file its section
/// of the header names ("// ---- element-wise (elementwise.cpp) ---"), or the
/// header's own name where it has no sections.
struct Declaration {
  std::string name;
  std::string section;
};

/// The functions declared at namespace scope in `header` (a path under the
/// source tree). A declaration starts on an unindented line that is no comment,
/// directive or closing brace, and names its function before the first '(';
/// its continuation lines are indented.
std::vector<Declaration> declared_functions(const std::string& header) {
  std::ifstream file(std::string(TETHER_SOURCE_DIR) + "/" + header);
  REQUIRE(file.is_open());
  const std::regex section_start(R"(^// ---- .*\((\w+\.cpp)\))");
  const std::regex declaration(R"(^[^\s/#}].*?\b(operator\S+?|\w+)\s*\()");
  std::vector<Declaration> found;
  std::string section = std::filesystem::path(header).filename().string();
  std::smatch match;
  for (std::string line; std::getline(file, line);) {
    if (std::regex_search(line, match, section_start))
      section = match[1];
    else if (std::regex_search(line, match, declaration))
      found.push_back({match[1], section});
  }
  return found;
}

/// The named ops that ops.h's operators call, and so the table's entries for
/// them: "a + b" is checked as a variant of add ("operator+ on tensors"),
/// "a + 2.0" as one of add too (it calls affine), "-a" of neg.
const std::map<std::string, std::vector<std::string>> kOperatorOps = {
    {"operator+", {"add"}},         {"operator-", {"sub", "neg"}}, {"operator*", {"mul"}},
    {"operator/", {"div"}},         {"operator<", {"lt"}},         {"operator<=", {"le"}},
    {"operator>", {"gt"}},          {"operator>=", {"ge"}},        {"operator~", {"logical_not"}},
    {"operator&", {"logical_and"}}, {"operator|", {"logical_or"}}, {"operator^", {"logical_xor"}},
};

/// The table file for the ops of a header section (see Declaration).
const std::map<std::string, std::string> kTableFiles = {
    {"elementwise.cpp", "op_table_elementwise.cpp"},
    {"reduction.cpp", "op_table_reduction.cpp"},
    {"linalg.cpp", "op_table_linalg.cpp"},
    {"matrix_functions.cpp", "op_table_linalg.cpp"},
    {"decompositions.cpp", "op_table_linalg.cpp"},
    {"shape.cpp", "op_table_shape.cpp"},
    {"sort.cpp", "op_table_sort.cpp"},
    {"split.cpp", "op_table_sort.cpp"},
    {"functional.h", "op_table_loss.cpp"},
    {"attention.cpp", "op_table_attention.cpp"},
    {"scan.cpp", "op_table_scan.cpp"},
    {"einsum.cpp", "op_table_einsum.cpp"},
    {"conv.cpp", "op_table_conv.cpp"},
};

std::string table_file(const std::string& section) {
  const auto it = kTableFiles.find(section);
  return it != kTableFiles.end()
             ? "tests/" + it->second
             : "a new tests/op_table_<family>.cpp (its cases function declared in op_table.h, "
               "called in differentiable_cases() and listed in kTableFiles)";
}

/// Functions with no gradient to check, and why; nothing else may lack a
/// gradient-checked entry.
struct WithoutGradient {
  std::vector<std::string> names;
  std::string reason;
};

const std::vector<WithoutGradient> kOpsWithoutGradient = {
    {{"empty", "zeros", "ones", "full", "arange", "linspace", "eye", "rand", "randn", "tensor",
      "scalar_tensor", "from_blob"},
     "factories: their result is a new leaf, a function of no tensor"},
    {{"zeros_like", "ones_like", "full_like"},
     "factories that read only the shape, dtype and device of their argument"},
    {{"result_type"}, "returns a DType, not a tensor"},
    {{"eq", "ne", "lt", "le", "gt", "ge"},
     "comparisons: piecewise-constant masks, values checked in op_table_value_only.cpp"},
    {{"argmax", "argmin", "argsort"},
     "return i64 indices, values checked in op_table_value_only.cpp"},
    {{"isnan", "isinf", "isfinite", "logical_not", "logical_and", "logical_or", "logical_xor",
      "any", "all"},
     "predicates and reductions of masks: bool results, values checked in op_table_mask.cpp"},
    {{"adam_step_"}, "an in-place optimizer update, refused in grad mode (optim::Adam's step)"},
    {{"randint", "randperm", "multinomial", "bernoulli"},
     "random draws: ranges and distributions checked in op_table_random.cpp"},
    {{"one_hot", "allclose"},
     "an i64 encoding and a bool verdict, values checked in one_hot_allclose_test.cpp"},
};

/// The name of every function in `header`, an operator as the named ops it
/// calls, each with its section.
std::multimap<std::string, std::string> declared_ops(const std::string& header) {
  const std::vector<Declaration> declarations = declared_functions(header);
  if (declarations.empty()) FAIL("the parser finds no declaration in " << header);
  std::multimap<std::string, std::string> sections_of_ops;
  std::set<std::string> unmapped_operators;
  for (const auto& d : declarations) {
    if (!d.name.starts_with("operator")) {
      sections_of_ops.emplace(d.name, d.section);
    } else if (const auto named = kOperatorOps.find(d.name); named != kOperatorOps.end()) {
      for (const auto& op : named->second) sections_of_ops.emplace(op, d.section);
    } else {
      unmapped_operators.insert(d.name);
    }
  }
  for (const auto& name : unmapped_operators)
    FAIL_CHECK(header << " declares " << name
                      << ": add the named ops it calls to kOperatorOps in tests/op_table_test.cpp");
  return sections_of_ops;
}

std::vector<OpCase> differentiable_cases() {
  std::vector<OpCase> cases;
  for (auto family : {elementwise_cases, reduction_cases, linalg_cases, shape_cases, loss_cases,
                      attention_cases, mask_op_cases, sort_cases, scan_cases, einsum_cases,
                      conv_cases})
    for (auto& c : family()) cases.push_back(std::move(c));
  return cases;
}

/// The ops with a gradient-checked entry.
std::set<std::string> gradient_checked_ops() {
  std::set<std::string> ops;
  for (const auto& c : differentiable_cases()) {
    INFO(c.op << " / " << c.variant
              << " is in a family of differentiable ops: give it grad_inputs "
                 "or move it to op_table_value_only.cpp");
    CHECK(static_cast<bool>(c.grad_inputs));
    ops.insert(c.op);
  }
  return ops;
}

/// Fails for each op of `header` that has no gradient-checked entry and is not
/// in `without_gradient`, and for each name there that `header` does not
/// declare or that has a gradient-checked entry after all.
void check_coverage(const std::string& header,
                    const std::vector<WithoutGradient>& without_gradient) {
  const std::multimap<std::string, std::string> declared = declared_ops(header);
  const std::set<std::string> checked = gradient_checked_ops();
  std::map<std::string, std::string> reasons;
  for (const auto& group : without_gradient)
    for (const auto& name : group.names) reasons.emplace(name, group.reason);
  for (const auto& [op, section] : declared) {
    if (checked.count(op) == 0 && reasons.count(op) == 0)
      FAIL_CHECK(header << " declares " << op << ", which no op-table entry gradient-checks: add "
                        << "an entry with grad_inputs to " << table_file(section)
                        << ", or, if it has no gradient, add it with the reason to the "
                           "allow-list of "
                        << header << " in tests/op_table_test.cpp");
  }
  for (const auto& [name, reason] : reasons) {
    if (declared.count(name) == 0)
      FAIL_CHECK(name << " is allow-listed (" << reason << "), but " << header
                      << " does not declare it: remove it from the allow-list in "
                         "tests/op_table_test.cpp");
    if (checked.count(name) == 1)
      FAIL_CHECK(name << " is allow-listed (" << reason
                      << "), but has a gradient-checked entry: remove it from the allow-list in "
                         "tests/op_table_test.cpp");
  }
}

}  // namespace

TEST_CASE("element-wise ops match their values and gradients", "[ops]") {
  check_family(elementwise_cases());
}

TEST_CASE("reductions match their values and gradients", "[ops]") {
  check_family(reduction_cases());
}

TEST_CASE("matrix products match their values and gradients", "[ops]") {
  check_family(linalg_cases());
}

TEST_CASE("shape and indexing ops match their values and gradients", "[ops]") {
  check_family(shape_cases());
}

TEST_CASE("attention matches its values and gradients", "[ops]") {
  check_family(attention_cases());
}

TEST_CASE("sorting, selection and splitting ops match their values and gradients", "[ops]") {
  check_family(sort_cases());
}

TEST_CASE("scans and layout ops match their values and gradients", "[ops]") {
  check_family(scan_cases());
}

TEST_CASE("einsum, bmm and baddbmm match their values and gradients", "[ops]") {
  check_family(einsum_cases());
}

TEST_CASE("ops without a gradient match their values", "[ops]") {
  check_family(value_only_cases());
}

TEST_CASE("masked_fill and masked_select match their values and gradients", "[ops]") {
  check_family(mask_op_cases());
}

TEST_CASE("im2col and col2im match their values and gradients", "[ops]") {
  check_family(conv_cases());
}

// Ties are where the table's gradient checks cannot look (no derivative there),
// so the documented rule is checked directly.
TEST_CASE("amax, amin, maximum and minimum share the gradient equally among ties", "[ops]") {
  const auto gradients = [](const Tensor& out, const Inputs& inputs) {
    std::vector<std::vector<double>> values;
    for (const auto& g : autograd::grad({sum(out)}, inputs))
      values.push_back(g.to_vector<double>());
    return values;
  };
  using Values = std::vector<std::vector<double>>;
  const Tensor x = t({1.0, 3.0, 3.0, -1.0, -1.0}, {5}).requires_grad_();
  CHECK(gradients(amax(x), {x}) == Values{{0.0, 0.5, 0.5, 0.0, 0.0}});
  CHECK(gradients(amin(x), {x}) == Values{{0.0, 0.0, 0.0, 0.5, 0.5}});
  const Tensor a = t({1.0, 2.0, 3.0}, {3}).requires_grad_();
  const Tensor b = t({1.0, 0.0, 4.0}, {3}).requires_grad_();
  CHECK(gradients(maximum(a, b), {a, b}) == Values{{0.5, 1.0, 0.0}, {0.5, 0.0, 1.0}});
  CHECK(gradients(minimum(a, b), {a, b}) == Values{{0.5, 0.0, 1.0}, {0.5, 1.0, 0.0}});
}

TEST_CASE("every function of ops.h has a gradient-checked table entry or a reason why not",
          "[ops]") {
  check_coverage(kOpsHeader, kOpsWithoutGradient);
}

TEST_CASE("every loss of nn/functional.h has a gradient-checked table entry", "[ops]") {
  check_coverage(kLossesHeader, {});
}

TEST_CASE("every table entry names a function of ops.h or nn/functional.h", "[ops]") {
  std::set<std::string> declared;
  for (const auto& header : {kOpsHeader, kLossesHeader})
    for (const auto& [op, section] : declared_ops(header)) declared.insert(op);
  for (const auto& family : {differentiable_cases(), value_only_cases()}) {
    for (const auto& c : family) {
      INFO("the entry " << c.op << " / " << c.variant << " names no declared function");
      CHECK(declared.count(c.op) == 1);
    }
  }
}

}  // namespace tether::op_table
