// The program fuzzer's interpreter (see program.h).
//
// A program is a header byte, then instructions. An instruction is an opcode
// byte, which picks an entry of `instructions` (at the end of this file), a
// byte naming the register its result goes to, and the bytes its operands are
// decoded from. Most entries are op(f): the types of f's parameters say what
// to decode, in order (a Tensor is a register, a Dim a dimension of the
// tensor read before it, a double a scalar from a table of ordinary and
// extreme values, ...), and a Tensor f returns is the result. Every operand
// is decoded before anything runs, from as many bytes as the bytes themselves
// say, so what an instruction does (a value, an error) never changes how the
// rest of the program reads. Reads past the end give zeros; the program ends
// when no byte is left for an opcode.
//
// Adding an op is one entry at the end of the table (of at most 255). The
// header byte says how many entries the program was written for (0: all of
// them), so the corpus keeps its meaning as the table grows; for the same
// reason the decoding tables (scalars, extents, strategies) only grow at the end.
#include "program.h"

#include <tether/tether.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "same_bytes.h"

namespace tether::fuzz {

namespace {

constexpr int kRegisters = 4;
constexpr int kSlots = 2;
constexpr int kMaxInstructions = 64;
/// A register holds at most this many elements: a larger result is dropped,
/// so that products of broadcast results stay small and fast.
constexpr std::int64_t kMaxNumel = 1024;
/// Values up to this magnitude cannot overflow in the few ops a constraint
/// applies, so a NaN a constraint computes from them is a finding.
constexpr double kModerate = 1e4;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
/// Scalar operands: ordinary values, integral and fractional, then extremes.
constexpr double kScalars[] = {0.0,   1.0,  -1.0, 2.0,  0.5,   -2.5, 3.0,   1e-3,
                               100.0, -0.0, 1e4,  1e30, -1e30, kInf, -kInf, kNaN};
/// The extents an overflowing (or negative) shape is made of: alone or with
/// others, each gives more elements or bytes than an int64 counts, so a
/// factory must refuse it before it allocates (or accept it with a zero extent).
constexpr std::int64_t kHugeExtents[] = {std::int64_t{1} << 62,
                                         std::int64_t{1} << 61,
                                         std::numeric_limits<std::int64_t>::max(),
                                         -1,
                                         -3,
                                         std::numeric_limits<std::int64_t>::min()};
constexpr DType kDTypes[] = {DType::f32, DType::f64, DType::i64, DType::f32};

// ---- what the invariants look at ---------------------------------------------

bool any_element(const Tensor& t, bool (*predicate)(double)) {
  if (!t.defined()) return false;
  const std::vector<double> elements = t.to_vector<double>();
  return std::any_of(elements.begin(), elements.end(), predicate);
}

bool has_nan(const Tensor& t) {
  return t.defined() && t.is_floating_point() &&
         any_element(t, [](double x) { return std::isnan(x); });
}

bool finite(const Tensor& t) {
  return !any_element(t, [](double x) { return !std::isfinite(x); });
}

/// Finite and at most kModerate in magnitude (an undefined tensor is not).
bool moderate(const Tensor& t) {
  return t.defined() && !any_element(t, [](double x) { return !(std::abs(x) <= kModerate); });
}

/// Whether two tensors hold the same elements in row-major order (NaN equal to NaN).
bool same_elements(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined() || a.dtype() != b.dtype()) return false;
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  return std::equal(x.begin(), x.end(), y.begin(), y.end(),
                    [](double u, double v) { return u == v || (std::isnan(u) && std::isnan(v)); });
}

/// Whether every extent is non-negative and the element count fits an int64
/// (a zero extent makes it 0, whatever the others: [2, 2^62, 0] is countable).
bool countable(const Shape& shape) {
  if (std::any_of(shape.begin(), shape.end(), [](std::int64_t extent) { return extent < 0; }))
    return false;
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return true;
  std::int64_t numel = 1;
  for (std::int64_t extent : shape)
    if (__builtin_mul_overflow(numel, extent, &numel)) return false;
  return true;
}

std::string register_name(int index) {
  // Not "r" + std::to_string(index): GCC 12 warns (-Wrestrict) on its inlined insert.
  return std::string(1, 'r') + std::to_string(index);
}

std::string describe(const Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream os;
  os << t.dtype() << t.shape() << (t.requires_grad() ? " requires_grad" : "");
  return os.str();
}

// ---- operand kinds beyond Tensor, double, bool and DType ---------------------

/// A dimension of the tensor read before it (now and then out of range).
struct Dim {
  std::int64_t value;
};
/// None (all), one or two dimensions of the tensor read before it.
struct DimList {
  Dims dims;
};
/// A small integer for sizes, starts and indices: mostly -2..5, now and then
/// one of kHugeExtents.
struct Count {
  std::int64_t value;
};
/// A shape for expand and sum_to_shape: rank 0..4, extents -1..5.
struct SmallShape {
  Shape shape;
};
/// A 1-d i64 index of up to 4 positions along the last Dim read (-1 and the
/// extent itself included, which are out of range).
struct Index {
  Tensor tensor;
};
/// An i64 index for gather along the last Dim read, shaped like a corner (of
/// extents up to 2) of the tensor read before it.
struct GatherIndex {
  Tensor tensor;
};
/// Class labels [N] for the rows of the tensor read before it.
struct Labels {
  Tensor tensor;
};

class Machine;

/// Makes a decoded constraint for the value it will constrain (spectral_norm
/// sizes its buffers from it).
using MakeConstraint = std::function<std::shared_ptr<Constraint>(const Tensor& weight)>;

/// What an instruction's result keeps of its operands, checked when it succeeds.
enum class Keeps {
  nothing_checked,
  finite,    ///< finite operands never give a NaN
  elements,  ///< the first operand's elements, in row-major order (so finite too)
};

/// One entry of the instruction table.
struct Instruction {
  const char* name;
  std::function<void(Machine&)> run;
  Keeps keeps = Keeps::nothing_checked;
};

/// The register file, the parameter slots and the byte stream operands are
/// decoded from.
class Machine {
 public:
  Machine(std::span<const std::uint8_t> program, std::ostream* trace)
      : bytes_(program), trace_(trace) {
    manual_seed(0);
    registers_ = {randn({2, 3}), randn({3}), arange(4.0), scalar_tensor(1.5)};
    slots_ = {make_parameter(randn({3, 3})), make_parameter(randn({2, 3}))};
  }

  bool at_end() const { return next_ >= bytes_.size(); }
  std::uint8_t byte() { return at_end() ? 0 : bytes_[next_++]; }
  int pick(int choices) { return byte() % choices; }

  /// Decodes one operand of kind T.
  template <class T>
  T read();
  /// Decodes operands in order (braces sequence the reads; call arguments would not).
  template <class... T>
  std::tuple<T...> read_all() {
    return std::tuple<T...>{read<T>()...};
  }
  /// A parameter slot (held, not copied: instructions replace what it holds).
  std::shared_ptr<Parameter>& slot() {
    const int index = pick(kSlots);
    note("slot" + std::to_string(index));
    return slots_[index];
  }
  /// A constraint from the strategy table.
  MakeConstraint strategy();

  /// Records that the running instruction made `made` from `from`. It is
  /// made with extremes if `from` was, or if the instruction read a number
  /// beyond kModerate (a constraint's bound): its value may then overflow to
  /// inf and NaN from moderate raw inputs, as the arithmetic says
  /// (bounded(-1e30, 0) chained with orthogonal hands matrix_exp a matrix of
  /// norm 1e29), so the NaN checks leave it out.
  void derive(const std::shared_ptr<Parameter>& made, const Parameter& from) {
    if (!scalars_moderate_ || made_with_extremes(from)) extreme_.push_back(made);
  }
  bool made_with_extremes(const Parameter& parameter) const {
    return std::any_of(extreme_.begin(), extreme_.end(),
                       [&](const auto& extreme) { return extreme.get() == &parameter; });
  }

  /// Checks `result` and stores it in the instruction's result register. A
  /// result larger than kMaxNumel is dropped.
  void put(const Tensor& result) {
    result_ = register_name(destination_) + " = " + describe(result);
    if (result.defined()) {
      if (!countable(result.shape())) fail("gave a shape whose element count overflows");
      if (result.numel() > kMaxNumel) {
        result_ += " (too large, dropped)";
        return;
      }
      if (instruction_->keeps != Keeps::nothing_checked && operands_finite_ && has_nan(result))
        fail("gave NaN from finite operands");
      if (instruction_->keeps == Keeps::elements && !same_elements(result, first_tensor_))
        fail("changed the elements of its operand");
    }
    registers_[destination_] = result;
  }

  /// A copy of `t`'s values outside the graph (undefined for an undefined
  /// tensor or one too large to copy cheaply).
  Tensor copy(const Tensor& t) const {
    if (!t.defined() || !countable(t.shape()) || t.numel() > kMaxNumel) return Tensor();
    NoGradGuard no_grad;
    return t.clone();
  }

  /// Throws Finding for the running instruction.
  [[noreturn]] void fail(const std::string& what) const {
    throw Finding(std::string(instruction_->name) + "(" + operands() + ") " + what);
  }

  /// The value of `parameter`, checked: two calls in a row give the same
  /// (cached) tensor, and raw inputs and buffers of moderate values never give NaN.
  Tensor checked_value(Parameter& parameter) const {
    const Tensor value = parameter.value();
    if (!value.is_same(parameter.value())) fail("value(): a second call in a row recomputed");
    if (has_nan(value) && all_moderate(parameter.trainables()) &&
        all_moderate(parameter.buffers()) && !made_with_extremes(parameter))
      fail("value() is NaN although every raw input and buffer is finite and moderate");
    return value;
  }

  /// Checks that every leaf gradient in the registers and slots matches its
  /// tensor's shape and dtype.
  void check_gradients() const {
    for (const Tensor& leaf : registers_)
      if (leaf.defined() && leaf.is_leaf()) check_gradient(leaf, leaf.grad());
    for (const auto& parameter : slots_)
      for (const auto& [name, leaf] : parameter->trainables()) check_gradient(leaf, leaf.grad());
  }
  void check_gradient(const Tensor& input, const Tensor& gradient) const {
    if (!input.defined() || !gradient.defined()) return;
    if (!(gradient.shape() == input.shape()) || gradient.dtype() != input.dtype())
      fail("gave a gradient " + describe(gradient) + " for " + describe(input));
  }

  /// Runs one instruction; returns whether it ended in a tether::Error.
  bool run(const Instruction& instruction) {
    instruction_ = &instruction;
    destination_ = pick(kRegisters);
    operands_.clear();
    result_.clear();
    operands_finite_ = scalars_moderate_ = true;
    first_tensor_ = last_tensor_ = Tensor();
    last_dim_.reset();
    // The trace is written as the operands are read, so a crash shows the instruction.
    if (trace_) *trace_ << instruction.name << "(" << std::flush;
    bool error = false;
    try {
      instruction.run(*this);
    } catch (const Error& e) {
      result_ = std::string("error: ") + e.what();
      error = true;
    }
    if (trace_) *trace_ << ")" << (result_.empty() ? "" : " -> " + result_) << std::endl;
    return error;
  }

 private:
  static bool all_moderate(const NamedTensors& tensors) {
    return std::all_of(tensors.begin(), tensors.end(),
                       [](const auto& named) { return moderate(named.second); });
  }

  void note(std::string operand) {
    if (trace_) *trace_ << (operands_.empty() ? "" : ", ") << operand << std::flush;
    operands_.push_back(std::move(operand));
  }
  std::string operands() const {
    std::string joined;
    for (const std::string& operand : operands_) joined += (joined.empty() ? "" : ", ") + operand;
    return joined;
  }

  std::int64_t extent() {
    const std::uint8_t b = byte();
    constexpr int huge = std::size(kHugeExtents);
    return b >= 256 - huge ? kHugeExtents[b - (256 - huge)] : b % 6;
  }
  /// The extent of the last tensor read along the last Dim read, at most
  /// `cap` (`fallback` when there is none).
  std::int64_t last_extent(std::int64_t cap, std::int64_t fallback) const {
    if (!last_tensor_.defined() || !last_dim_) return fallback;
    const int rank = last_tensor_.dim();
    if (rank == 0 || *last_dim_ < -rank || *last_dim_ >= rank) return fallback;
    return std::min(last_tensor_.size(*last_dim_), cap);
  }
  /// An i64 tensor of `shape` with values in [-1, bound], cycling through
  /// four bytes (so the same count whatever the shape).
  Tensor indices(const Shape& shape, std::int64_t bound) {
    const std::array<std::uint8_t, 4> drawn{byte(), byte(), byte(), byte()};
    std::vector<double> values(shape.numel());
    for (std::size_t i = 0; i < values.size(); ++i)
      values[i] = drawn[i % drawn.size()] % (bound + 2) - 1;
    return tensor(values, shape, DType::i64);
  }

  std::span<const std::uint8_t> bytes_;
  std::size_t next_ = 0;
  std::ostream* trace_;
  std::array<Tensor, kRegisters> registers_;
  std::array<std::shared_ptr<Parameter>, kSlots> slots_;
  int strategy_depth_ = 0;

  // The running instruction: where its result goes, what it read (for the NaN
  // check and the trace).
  const Instruction* instruction_ = nullptr;
  int destination_ = 0;
  std::vector<std::string> operands_;
  std::string result_;
  bool operands_finite_ = true;
  bool scalars_moderate_ = true;
  // Parameters made with extremes (see derive), held so that none is freed
  // and its address reused.
  std::vector<std::shared_ptr<Parameter>> extreme_;
  Tensor first_tensor_, last_tensor_;
  std::optional<std::int64_t> last_dim_;
};

template <>
Tensor Machine::read<Tensor>() {
  const int index = pick(kRegisters);
  const Tensor& operand = registers_[index];
  note(register_name(index) + " " + describe(operand));
  operands_finite_ = operands_finite_ && finite(operand);
  last_tensor_ = operand;
  if (!first_tensor_.defined()) first_tensor_ = operand;
  return operand;
}
template <>
double Machine::read<double>() {
  const double scalar = kScalars[pick(std::size(kScalars))];
  std::ostringstream os;
  os << scalar;
  note(os.str());
  operands_finite_ = operands_finite_ && std::isfinite(scalar);
  scalars_moderate_ = scalars_moderate_ && std::abs(scalar) <= kModerate;
  return scalar;
}
template <>
bool Machine::read<bool>() {
  const bool flag = byte() & 1;
  note(flag ? "true" : "false");
  return flag;
}
template <>
DType Machine::read<DType>() {
  const DType dtype = kDTypes[pick(std::size(kDTypes))];
  note(std::string(name(dtype)));
  return dtype;
}
template <>
Shape Machine::read<Shape>() {
  Shape shape;
  for (int rank = pick(5); rank > 0; --rank) shape.push_back(extent());
  note(shape.str());
  return shape;
}
template <>
SmallShape Machine::read<SmallShape>() {
  Shape shape;
  for (int rank = pick(5); rank > 0; --rank) shape.push_back(pick(7) - 1);
  note(shape.str());
  return {shape};
}
template <>
Count Machine::read<Count>() {
  const std::uint8_t b = byte();
  constexpr int huge = std::size(kHugeExtents);
  const std::int64_t count = b >= 256 - huge ? kHugeExtents[b - (256 - huge)] : b % 8 - 2;
  note(std::to_string(count));
  return {count};
}
template <>
Dim Machine::read<Dim>() {
  const int rank = last_tensor_.defined() ? last_tensor_.dim() : 0;
  const std::int64_t dim = pick(2 * rank + 3) - (rank + 1);
  note("dim " + std::to_string(dim));
  last_dim_ = dim;
  return {dim};
}
template <>
DimList Machine::read<DimList>() {
  DimList list;
  for (int count = pick(3); count > 0; --count) list.dims.push_back(read<Dim>().value);
  return list;
}
template <>
Index Machine::read<Index>() {
  const Tensor index = indices({pick(5)}, last_extent(6, 3));
  note("index " + describe(index));
  return {index};
}
template <>
GatherIndex Machine::read<GatherIndex>() {
  const std::uint8_t corner = byte();  // bit d: extent 2 (else 1) along dimension d
  Shape shape;
  if (last_tensor_.defined())
    for (int d = 0; d < last_tensor_.dim(); ++d)
      shape.push_back(std::min<std::int64_t>(last_tensor_.size(d), 1 + (corner >> d & 1)));
  const Tensor index = indices(shape, last_extent(6, 3));
  note("index " + describe(index));
  return {index};
}
template <>
Labels Machine::read<Labels>() {
  const bool rows = last_tensor_.defined() && last_tensor_.dim() >= 1;
  const std::int64_t samples = rows ? std::min<std::int64_t>(last_tensor_.size(0), 8) : 1;
  const std::int64_t classes = rows ? std::min<std::int64_t>(last_tensor_.size(-1), 8) : 2;
  const Tensor labels = indices({samples}, classes);
  note("labels " + describe(labels));
  return {labels};
}

/// An instruction that decodes f's parameters in order and calls f. A Tensor
/// f returns is the result; an f that returns nothing writes its first
/// Tensor operand in place, or nothing.
template <class F, class Result, class... Operands>
void decode_and_run(Machine& m, const F& f, Result (F::*)(Operands...) const) {
  auto operands = m.read_all<std::decay_t<Operands>...>();
  if constexpr (!std::is_void_v<Result>) {
    m.put(std::apply(f, operands));
  } else if constexpr (std::is_same_v<std::tuple_element_t<0, std::tuple<Operands..., void>>,
                                      Tensor>) {
    // An in-place write to the first operand: when it throws, it must have
    // left the tensor as it was.
    const Tensor& target = std::get<0>(operands);
    const Tensor before = m.copy(target);
    try {
      std::apply(f, operands);
    } catch (const Error&) {
      if (before.defined() && !same_bytes(target, before)) m.fail("failed, but wrote its tensor");
      throw;
    }
  } else {
    std::apply(f, operands);
  }
}
template <class F>
std::function<void(Machine&)> op(F f) {
  return [f](Machine& m) { decode_and_run(m, f, &F::operator()); };
}

constexpr Keeps kKeepsFinite = Keeps::finite;
constexpr Keeps kKeepsElements = Keeps::elements;

using constraints::PositiveMap;

/// An entry of the strategy table: decodes the constraint's arguments.
struct Strategy {
  const char* name;
  std::function<MakeConstraint(Machine&)> decode;
};

/// A strategy without arguments.
Strategy plain(const char* name, std::shared_ptr<Constraint> (*make)()) {
  return {name,
          [make](Machine&) -> MakeConstraint { return [make](const Tensor&) { return make(); }; }};
}

const std::vector<Strategy> strategies = {
    plain("positive", [] { return constraints::positive(); }),
    {"positive(exp, lower_bound)",
     [](Machine& m) -> MakeConstraint {
       const double lower_bound = m.read<double>();
       return [=](const Tensor&) { return constraints::positive(PositiveMap::exp, lower_bound); };
     }},
    {"bounded",
     [](Machine& m) -> MakeConstraint {
       const double lo = m.read<double>();
       const double hi = m.read<double>();
       return [=](const Tensor&) { return constraints::bounded(lo, hi); };
     }},
    {"simplex",
     [](Machine& m) -> MakeConstraint {
       const Count dim = m.read<Count>();
       return [=](const Tensor&) { return constraints::simplex(dim.value); };
     }},
    {"unit_norm",
     [](Machine& m) -> MakeConstraint {
       const Count dim = m.read<Count>();
       return [=](const Tensor&) { return constraints::unit_norm(dim.value); };
     }},
    {"weight_norm",
     [](Machine& m) -> MakeConstraint {
       const Count dim = m.read<Count>();
       return [=](const Tensor&) { return constraints::weight_norm(dim.value); };
     }},
    plain("symmetric", constraints::symmetric),
    plain("skew_symmetric", constraints::skew_symmetric),
    plain("lower_triangular", constraints::lower_triangular),
    plain("cholesky_factor", constraints::cholesky_factor),
    {"positive_definite",
     [](Machine& m) -> MakeConstraint {
       const double eps = m.read<double>();
       return [=](const Tensor&) { return constraints::positive_definite(eps); };
     }},
    plain("orthogonal", constraints::orthogonal),
    {"spectral_norm",
     [](Machine& m) -> MakeConstraint {
       const Count dim = m.read<Count>();
       const Count steps = m.read<Count>();
       return [=](const Tensor& weight) {
         return constraints::spectral_norm(weight, dim.value, steps.value);
       };
     }},
    plain("make_constraint(exp, log)",
          [] {
            return make_constraint(
                "positive", [](const Tensor& raw) { return exp(raw); },
                [](const Tensor& value) { return log(value); });
          }),
    // Last: Machine::strategy leaves it out when nested two deep.
    {"chain",
     [](Machine& m) -> MakeConstraint {
       const MakeConstraint first = m.strategy();
       const MakeConstraint second = m.strategy();
       return [=](const Tensor& weight) { return chain(first(weight), second(weight)); };
     }},
};

MakeConstraint Machine::strategy() {
  // chain takes two strategies; deeper than two levels is not worth the bytes.
  const int choices = static_cast<int>(strategies.size()) - (strategy_depth_ < 2 ? 0 : 1);
  const Strategy& chosen = strategies[pick(choices)];
  note(chosen.name);
  ++strategy_depth_;
  MakeConstraint make = chosen.decode(*this);
  --strategy_depth_;
  return make;
}

// ---- the constraint instructions ---------------------------------------------

ComputedParameter* computed(const std::shared_ptr<Parameter>& parameter) {
  return dynamic_cast<ComputedParameter*>(parameter.get());
}

std::vector<Tensor> copies(const Machine& m, const NamedTensors& tensors) {
  std::vector<Tensor> copied;
  for (const auto& [name, tensor] : tensors) copied.push_back(m.copy(tensor));
  return copied;
}

bool unchanged(const NamedTensors& tensors, const std::vector<Tensor>& before) {
  for (std::size_t i = 0; i < before.size(); ++i)
    if (before[i].defined() && !same_bytes(tensors[i].second, before[i])) return false;
  return true;
}

/// Whether every element of `a` is within 1e-3 (relative, and absolute near 0) of `b`'s.
bool close(const Tensor& a, const Tensor& b) {
  if (!(a.shape() == b.shape())) return false;
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(std::abs(x[i] - y[i]) <= 1e-3 * (1 + std::abs(y[i])))) return false;
  return true;
}

/// constrain(slot, strategy): a moderate value never becomes NaN.
void constrain_slot(Machine& m) {
  std::shared_ptr<Parameter>& slot = m.slot();
  const MakeConstraint make = m.strategy();
  const Tensor before = m.checked_value(*slot);
  const bool was_moderate = moderate(before);  // now: constrain may write `before`'s leaf
  const std::shared_ptr<Parameter> from = slot;
  slot = constrain(slot, make(before));
  m.derive(slot, *from);
  if (was_moderate && !m.made_with_extremes(*slot) && has_nan(slot->value()))
    m.fail("turned a finite, moderate value into NaN");
  m.checked_value(*slot);
}

/// assign(value) either succeeds, and then a moderate value gives no NaN, or
/// throws a tether::Error and leaves the raw inputs as they were.
void assign_slot(Machine& m) {
  std::shared_ptr<Parameter>& slot = m.slot();
  const Tensor value = m.read<Tensor>();
  ComputedParameter* parameter = computed(slot);
  if (!parameter) return;
  const bool was_moderate = moderate(value);  // `value` may be a raw input, which assign writes
  const std::vector<Tensor> before = copies(m, parameter->trainables());
  try {
    parameter->assign(value);
  } catch (const Error&) {
    if (!unchanged(parameter->trainables(), before)) m.fail("failed, but changed the raw inputs");
    throw;
  }
  if (was_moderate && !m.made_with_extremes(*parameter) && has_nan(m.checked_value(*parameter)))
    m.fail("of a finite, moderate value gave NaN");
}

/// assign(value()) leaves value() as it was.
void reassign_slot(Machine& m) {
  ComputedParameter* parameter = computed(m.slot());
  if (!parameter) return;
  const Tensor value = m.checked_value(*parameter).detach().clone();
  parameter->assign(value);
  if (moderate(value) && !close(m.checked_value(*parameter), value))
    m.fail("assign(value()) changed the value");
}

/// One of the projection family, by `which`; each reads the arguments it needs
/// of those decoded for all.
void project_slot(Machine& m) {
  std::shared_ptr<Parameter>& slot = m.slot();
  const auto [which, bound, other_bound, dim] = m.read_all<Count, double, double, Count>();
  switch (which.value & 3) {
    case 0:
      slot = project_non_negative(slot);
      break;
    case 1:
      slot = project_clamp(slot, bound, other_bound);
      break;
    case 2:
      slot = project_max_norm(slot, bound, dim.value);
      break;
    default:
      slot = project_unit_norm(slot, dim.value);
  }
  m.checked_value(*slot);
}

/// An optimizer step: p -= lr * grad for each trainable with a gradient, outside the graph.
void step_slot(Machine& m) {
  std::shared_ptr<Parameter>& slot = m.slot();
  const double lr = m.read<double>();
  NoGradGuard no_grad;
  for (auto [name, leaf] : slot->trainables())
    if (const Tensor grad = leaf.grad(); grad.defined()) leaf.sub_(grad, lr);
}

// ---- the instruction table -----------------------------------------------------

const std::vector<Instruction> instructions = {
    // factories: small shapes, zero-size ones, and now and then an overflowing one
    {"zeros", op([](Shape s, DType d) { return zeros(s, d); }), kKeepsFinite},
    {"ones", op([](Shape s, DType d) { return ones(s, d); }), kKeepsFinite},
    {"full", op([](Shape s, double v, DType d) { return full(s, v, d); }), kKeepsFinite},
    {"rand", op([](Shape s, DType d) { return rand(s, d); }), kKeepsFinite},
    {"randn", op([](Shape s, DType d) { return randn(s, d); }), kKeepsFinite},
    {"arange", op([](double end, DType d) { return arange(end, d); }), kKeepsFinite},
    {"arange(start, end, step)", op([](double start, double end, double step, DType d) {
       return arange(start, end, step, d);
     }),
     kKeepsFinite},
    {"linspace", op([](double start, double end, Count steps, DType d) {
       return linspace(start, end, steps.value, d);
     }),
     kKeepsFinite},
    {"eye", op([](Count rows, Count cols, DType d) { return eye(rows.value, cols.value, d); }),
     kKeepsFinite},
    {"scalar_tensor", op([](double v, DType d) { return scalar_tensor(v, d); }), kKeepsFinite},
    {"zeros_like", op([](Tensor x) { return zeros_like(x); }), kKeepsFinite},
    {"full_like", op([](Tensor x, double v) { return full_like(x, v); }), kKeepsFinite},
    {"undefined", op([]() { return Tensor(); })},
    // element-wise, unary
    {"neg", op([](Tensor x) { return -x; }), kKeepsFinite},
    {"reciprocal", op([](Tensor x) { return reciprocal(x); }), kKeepsFinite},
    {"exp", op([](Tensor x) { return exp(x); }), kKeepsFinite},
    {"log", op([](Tensor x) { return log(x); })},
    {"log1p", op([](Tensor x) { return log1p(x); })},
    {"sqrt", op([](Tensor x) { return sqrt(x); })},
    {"rsqrt", op([](Tensor x) { return rsqrt(x); })},
    {"abs", op([](Tensor x) { return abs(x); }), kKeepsFinite},
    {"sign", op([](Tensor x) { return sign(x); }), kKeepsFinite},
    {"sin", op([](Tensor x) { return sin(x); }), kKeepsFinite},
    {"tanh", op([](Tensor x) { return tanh(x); }), kKeepsFinite},
    {"sigmoid", op([](Tensor x) { return sigmoid(x); }), kKeepsFinite},
    {"erf", op([](Tensor x) { return erf(x); }), kKeepsFinite},
    {"relu", op([](Tensor x) { return relu(x); }), kKeepsFinite},
    {"leaky_relu", op([](Tensor x, double slope) { return leaky_relu(x, slope); }), kKeepsFinite},
    {"gelu", op([](Tensor x) { return gelu(x); }), kKeepsFinite},
    {"softplus", op([](Tensor x) { return softplus(x); }), kKeepsFinite},
    {"clamp", op([](Tensor x, double lo, double hi) { return clamp(x, lo, hi); }), kKeepsFinite},
    {"clamp(min)", op([](Tensor x, double lo) { return x.clamp(lo, std::nullopt); }), kKeepsFinite},
    {"pow", op([](Tensor x, double p) { return x.pow(p); })},
    {"pow(tensor)", op([](Tensor x, Tensor p) { return x.pow(p); })},
    {"affine", op([](Tensor x, double scale, double shift) { return affine(x, scale, shift); }),
     kKeepsFinite},
    // element-wise, binary (broadcasting), and with a scalar on either side
    {"add", op([](Tensor a, Tensor b) { return a + b; }), kKeepsFinite},
    {"sub", op([](Tensor a, Tensor b) { return a - b; }), kKeepsFinite},
    {"mul", op([](Tensor a, Tensor b) { return a * b; }), kKeepsFinite},
    {"div", op([](Tensor a, Tensor b) { return a / b; })},
    {"maximum", op([](Tensor a, Tensor b) { return maximum(a, b); }), kKeepsFinite},
    {"minimum", op([](Tensor a, Tensor b) { return minimum(a, b); }), kKeepsFinite},
    {"where", op([](Tensor c, Tensor a, Tensor b) { return where(c, a, b); }), kKeepsFinite},
    {"eq", op([](Tensor a, Tensor b) { return eq(a, b); }), kKeepsFinite},
    {"lt", op([](Tensor a, Tensor b) { return a < b; }), kKeepsFinite},
    {"tensor + scalar", op([](Tensor a, double s) { return a + s; }), kKeepsFinite},
    {"tensor - scalar", op([](Tensor a, double s) { return a - s; }), kKeepsFinite},
    {"tensor * scalar", op([](Tensor a, double s) { return a * s; }), kKeepsFinite},
    {"tensor / scalar", op([](Tensor a, double s) { return a / s; })},
    {"scalar - tensor", op([](double s, Tensor a) { return s - a; }), kKeepsFinite},
    {"scalar / tensor", op([](double s, Tensor a) { return s / a; })},
    {"tensor >= scalar", op([](Tensor a, double s) { return a >= s; }), kKeepsFinite},
    // reductions
    {"sum", op([](Tensor x, DimList d, bool keep) { return x.sum(d.dims, keep); })},
    {"mean", op([](Tensor x, DimList d, bool keep) { return x.mean(d.dims, keep); })},
    {"var", op([](Tensor x, DimList d, Count correction) {
       return x.var(d.dims, correction.value);
     })},
    {"amax", op([](Tensor x, DimList d, bool keep) { return x.amax(d.dims, keep); }), kKeepsFinite},
    {"amin", op([](Tensor x, DimList d) { return x.amin(d.dims); }), kKeepsFinite},
    {"logsumexp", op([](Tensor x, DimList d) { return x.logsumexp(d.dims); }), kKeepsFinite},
    {"norm", op([](Tensor x, DimList d) { return x.norm(d.dims); }), kKeepsFinite},
    {"argmax", op([](Tensor x, Dim d, bool keep) { return x.argmax(d.value, keep); })},
    {"softmax", op([](Tensor x, Dim d) { return softmax(x, d.value); }), kKeepsFinite},
    {"log_softmax", op([](Tensor x, Dim d) { return log_softmax(x, d.value); }), kKeepsFinite},
    {"normalize", op([](Tensor x, Dim d) { return normalize(x, d.value); }), kKeepsFinite},
    {"sum_to_shape", op([](Tensor x, SmallShape s) { return sum_to_shape(x, s.shape); })},
    // linear algebra
    {"matmul", op([](Tensor a, Tensor b) { return matmul(a, b); })},
    {"mm", op([](Tensor a, Tensor b) { return mm(a, b); })},
    {"mv", op([](Tensor a, Tensor b) { return mv(a, b); })},
    {"dot", op([](Tensor a, Tensor b) { return dot(a, b); })},
    {"outer", op([](Tensor a, Tensor b) { return outer(a, b); }), kKeepsFinite},
    {"linear", op([](Tensor x, Tensor w, Tensor b) { return linear(x, w, b); })},
    {"matrix_exp", op([](Tensor a) { return matrix_exp(a); })},
    {"cholesky", op([](Tensor a, bool upper) { return cholesky(a, upper); })},
    {"solve_triangular",
     op([](Tensor a, Tensor b, bool upper) { return solve_triangular(a, b, upper); })},
    {"cholesky_solve", op([](Tensor b, Tensor l) { return cholesky_solve(b, l); })},
    {"logdet", op([](Tensor a) { return logdet(a); })},
    {"tril", op([](Tensor x, Count k) { return tril(x, k.value); }), kKeepsFinite},
    {"triu", op([](Tensor x, Count k) { return triu(x, k.value); }), kKeepsFinite},
    {"diagonal", op([](Tensor x, Count k) { return diagonal(x, k.value); }), kKeepsFinite},
    // shapes, views and indexing
    {"reshape", op([](Tensor x, Shape s) { return x.reshape(s); }), kKeepsElements},
    {"view", op([](Tensor x, Shape s) { return x.view(s); }), kKeepsElements},
    {"flatten", op([](Tensor x, Dim a, Dim b) { return x.flatten(a.value, b.value); }),
     kKeepsElements},
    {"transpose", op([](Tensor x, Dim a, Dim b) { return x.transpose(a.value, b.value); }),
     kKeepsFinite},
    {"t", op([](Tensor x) { return x.t(); }), kKeepsFinite},
    {"mT", op([](Tensor x) { return x.mT(); }), kKeepsFinite},
    {"permute", op([](Tensor x, DimList d) { return x.permute(d.dims); }), kKeepsFinite},
    {"squeeze", op([](Tensor x) { return x.squeeze(); }), kKeepsElements},
    {"squeeze(dim)", op([](Tensor x, Dim d) { return x.squeeze(d.value); }), kKeepsElements},
    {"unsqueeze", op([](Tensor x, Dim d) { return x.unsqueeze(d.value); }), kKeepsElements},
    {"expand", op([](Tensor x, SmallShape s) { return x.expand(s.shape); }), kKeepsFinite},
    {"narrow", op([](Tensor x, Dim d, Count start, Count length) {
       return x.narrow(d.value, start.value, length.value);
     }),
     kKeepsFinite},
    {"slice", op([](Tensor x, Dim d, Count start, Count end, Count step) {
       return slice(x, d.value, start.value, end.value, step.value);
     }),
     kKeepsFinite},
    {"select", op([](Tensor x, Dim d, Count i) { return x.select(d.value, i.value); }),
     kKeepsFinite},
    {"cat", op([](Tensor a, Tensor b, Dim d) { return cat({a, b}, d.value); }), kKeepsFinite},
    {"stack", op([](Tensor a, Tensor b, Dim d) { return stack({a, b}, d.value); }), kKeepsFinite},
    {"index_select",
     op([](Tensor x, Dim d, Index i) { return x.index_select(d.value, i.tensor); }), kKeepsFinite},
    {"gather", op([](Tensor x, Dim d, GatherIndex i) { return x.gather(d.value, i.tensor); }),
     kKeepsFinite},
    {"contiguous", op([](Tensor x) { return x.contiguous(); }), kKeepsElements},
    {"clone", op([](Tensor x) { return x.clone(); }), kKeepsElements},
    {"detach", op([](Tensor x) { return x.detach(); }), kKeepsElements},
    {"to", op([](Tensor x, DType d) { return x.to(d); }), kKeepsFinite},
    {"item", op([](Tensor x) { (void)x.item<double>(); })},
    {"print", op([](Tensor x) { std::ostringstream os; os << x; })},
    // losses
    // (Not kKeepsFinite: their mean over no elements is NaN, as in PyTorch.)
    {"mse_loss", op([](Tensor a, Tensor b) { return nn::mse_loss(a, b); })},
    {"l1_loss", op([](Tensor a, Tensor b) { return nn::l1_loss(a, b); })},
    {"binary_cross_entropy_with_logits",
     op([](Tensor x, Tensor y) { return nn::binary_cross_entropy_with_logits(x, y); })},
    {"gaussian_nll_loss",
     op([](Tensor x, Tensor y, Tensor var) { return nn::gaussian_nll_loss(x, y, var); })},
    {"nll_loss", op([](Tensor x, Labels y) { return nn::nll_loss(x, y.tensor); })},
    {"cross_entropy", op([](Tensor x, Labels y, double smoothing) {
       return nn::cross_entropy(x, y.tensor, nn::Reduction::mean, smoothing);
     })},
    // autograd
    {"requires_grad_", op([](Tensor x) { x.requires_grad_(); })},
    {"set_grad_enabled", op([](bool on) { set_grad_enabled(on); })},
    {"grad", op([](Tensor x) { return x.grad(); })},
    {"clear grad", op([](Tensor x) { x.set_grad(Tensor()); })},
    // No create_graph here: it leaves the leaves' gradients referring back to
    // them (documented), which autograd::grad below covers without the cycle.
    {"backward",
     [](Machine& m) {
       const auto [root, seeded, retain] = m.read_all<Tensor, bool, bool>();
       root.backward(seeded ? ones_like(root) : Tensor(), retain);
       m.check_gradients();
     }},
    {"autograd::grad",
     [](Machine& m) {
       const auto [output, x, y, retain, create, allow_unused] =
           m.read_all<Tensor, Tensor, Tensor, bool, bool, bool>();
       const std::vector<Tensor> grads =
           autograd::grad({output}, {x, y}, {}, retain ? std::optional(true) : std::nullopt,
                          create, allow_unused);
       m.check_gradient(x, grads.at(0));
       m.check_gradient(y, grads.at(1));
       m.put(grads.at(0));
     }},
    // in place
    {"add_", op([](Tensor x, Tensor y, double alpha) { x.add_(y, alpha); })},
    {"add_(scalar)", op([](Tensor x, double s) { x.add_(s); })},
    {"sub_", op([](Tensor x, Tensor y) { x.sub_(y); })},
    {"mul_", op([](Tensor x, Tensor y) { x.mul_(y); })},
    {"mul_(scalar)", op([](Tensor x, double s) { x.mul_(s); })},
    {"div_(scalar)", op([](Tensor x, double s) { x.div_(s); })},
    {"copy_", op([](Tensor x, Tensor y) { x.copy_(y); })},
    {"fill_", op([](Tensor x, double s) { x.fill_(s); })},
    {"zero_", op([](Tensor x) { x.zero_(); })},
    // parameters and constraints
    {"make_parameter",
     [](Machine& m) {
       std::shared_ptr<Parameter>& slot = m.slot();
       slot = make_parameter(m.read<Tensor>());
     }},
    {"constrain", constrain_slot},
    {"value", [](Machine& m) { m.put(m.checked_value(*m.slot())); }},
    {"assign", assign_slot},
    {"assign(value())", reassign_slot},
    {"spectrally_normalize",
     [](Machine& m) {
       std::shared_ptr<Parameter>& slot = m.slot();
       const auto [dim, steps] = m.read_all<Count, Count>();
       const std::shared_ptr<Parameter> from = slot;
       slot = spectrally_normalize(slot, dim.value, steps.value);
       m.derive(slot, *from);
       m.checked_value(*slot);
     }},
    {"project", project_slot},
    {"freeze",
     [](Machine& m) {
       std::shared_ptr<Parameter>& slot = m.slot();
       slot = freeze(slot);
     }},
    {"train",
     [](Machine& m) {
       Parameter& parameter = *m.slot();
       parameter.train(m.read<bool>());
     }},
    {"trainable",
     [](Machine& m) {
       Parameter& parameter = *m.slot();
       const std::uint8_t which = m.byte();
       const NamedTensors trainables = parameter.trainables();
       if (!trainables.empty()) m.put(trainables.at(which % trainables.size()).second);
     }},
    {"step", step_slot},
    {"zero_grad",
     [](Machine& m) {
       for (const auto& [name, leaf] : m.slot()->trainables()) leaf.set_grad(Tensor());
     }},
    // special functions (lgamma and digamma have poles, xlogy takes logs, and
    // log_ndtr is -inf below x = -1.3e154, where x^2 overflows)
    {"erfc", op([](Tensor x) { return erfc(x); }), kKeepsFinite},
    {"lgamma", op([](Tensor x) { return lgamma(x); })},
    {"digamma", op([](Tensor x) { return digamma(x); })},
    {"polygamma", op([](Tensor x, bool second) { return polygamma(second ? 2 : 1, x); })},
    {"xlogy", op([](Tensor x, Tensor y) { return xlogy(x, y); })},
    {"log_ndtr", op([](Tensor x) { return log_ndtr(x); })},
    // attention (large inputs overflow the scores, and softmax turns inf into NaN)
    {"scaled_dot_product_attention", op([](Tensor q, Tensor k, Tensor v, bool causal) {
       return scaled_dot_product_attention(q, k, v, {}, 0.0, causal);
     })},
    // masks: bool registers come from the comparisons and to(bool); the ops
    // that take a mask make one of any register (m > 0), so that they run
    {"to(bool)", op([](Tensor x) { return x.to(DType::boolean); }), kKeepsFinite},
    {"where(c > 0)", op([](Tensor c, Tensor a, Tensor b) { return where(c > 0.0, a, b); }),
     kKeepsFinite},
    {"masked_fill", op([](Tensor x, Tensor m, double v) { return x.masked_fill(m > 0.0, v); })},
    {"masked_select", op([](Tensor x, Tensor m) { return x.masked_select(m > 0.0); }),
     kKeepsFinite},
    {"logical_and", op([](Tensor a, Tensor b) { return logical_and(a, b); }), kKeepsFinite},
    {"logical_xor", op([](Tensor a, Tensor b) { return logical_xor(a, b); }), kKeepsFinite},
    {"logical_not", op([](Tensor x) { return logical_not(x); }), kKeepsFinite},
    {"isnan", op([](Tensor x) { return isnan(x); }), kKeepsFinite},
    {"isfinite", op([](Tensor x) { return isfinite(x); }), kKeepsFinite},
    {"any", op([](Tensor x, DimList d, bool keep) { return any(x, d.dims, keep); }), kKeepsFinite},
    {"all", op([](Tensor x, DimList d) { return all(x, d.dims); }), kKeepsFinite},
    // expm1 overflows as exp does; erfinv is NaN outside [-1, 1]
    {"expm1", op([](Tensor x) { return expm1(x); })},
    {"atan", op([](Tensor x) { return atan(x); }), kKeepsFinite},
    {"erfinv", op([](Tensor x) { return erfinv(x); })},
    // sorting, selection and splitting (a multi-output op yields one of its parts)
    {"sort", op([](Tensor x, Dim d, bool descending) { return x.sort(d.value, descending).values; }),
     kKeepsFinite},
    {"argsort", op([](Tensor x, Dim d) { return x.argsort(d.value); })},
    {"topk", op([](Tensor x, Count k, Dim d, bool largest) {
       return x.topk(k.value, d.value, largest).values;
     }),
     kKeepsFinite},
    {"argmin", op([](Tensor x, Dim d, bool keep) { return x.argmin(d.value, keep); })},
    {"max(dim)", op([](Tensor x, Dim d, bool keep) { return x.max(d.value, keep).values; }),
     kKeepsFinite},
    {"min(dim)", op([](Tensor x, Dim d, bool keep) { return x.min(d.value, keep).values; }),
     kKeepsFinite},
    {"split", op([](Tensor x, Count size, Dim d) { return x.split(size.value, d.value).back(); }),
     kKeepsFinite},
    {"chunk", op([](Tensor x, Count chunks, Dim d) { return x.chunk(chunks.value, d.value)[0]; }),
     kKeepsFinite},
    {"unbind", op([](Tensor x, Dim d) {
       const std::vector<Tensor> slices = x.unbind(d.value);
       return slices.empty() ? x : slices.back();
     }),
     kKeepsFinite},
    // scans, layout and contractions (sums and products of finite values may overflow)
    {"cumsum", op([](Tensor x, Dim d) { return x.cumsum(d.value); })},
    {"cumprod", op([](Tensor x, Dim d) { return x.cumprod(d.value); })},
    {"flip", op([](Tensor x, DimList d) { return x.flip(d.dims); }), kKeepsFinite},
    {"roll", op([](Tensor x, Count shift, Dim d) { return x.roll({shift.value}, {d.value}); }),
     kKeepsFinite},
    {"roll(flattened)", op([](Tensor x, Count shift) { return x.roll({shift.value}); }),
     kKeepsFinite},
    {"repeat", op([](Tensor x, SmallShape s) { return x.repeat(s.shape); }), kKeepsFinite},
    {"bmm", op([](Tensor a, Tensor b) { return bmm(a, b); })},
    {"einsum",
     [](Machine& m) {
       static constexpr const char* kEquations[] = {
           "ij,jk->ik", "bij,bjk->bik", "i,j->ij", "...ij,...jk", "ii,i->i", "ij,ij->", "ji"};
       const char* equation = kEquations[m.pick(std::size(kEquations))];
       const auto [a, b] = m.read_all<Tensor, Tensor>();
       m.put(einsum(equation, equation == std::string("ji") ? std::vector{a} : std::vector{a, b}));
     }},
    // random draws from the global generator (their values are random, so
    // only errors and crashes count; a huge Count must be refused, not allocated)
    {"rand", op([](SmallShape s, DType d) { return rand(s.shape, d); })},
    {"randn", op([](SmallShape s, DType d) { return randn(s.shape, d); })},
    {"randint", op([](Count low, Count high, SmallShape s, DType d) {
       return randint(low.value, high.value, s.shape, d);
     })},
    {"randperm", op([](Count n, DType d) { return randperm(n.value, d); })},
    {"multinomial", op([](Tensor probs, Count samples, bool replacement) {
       return multinomial(probs, samples.value, replacement);
     })},
    {"bernoulli", op([](Tensor p) { return bernoulli(p); })},
};

}  // namespace

ProgramRun run_program(std::span<const std::uint8_t> program, std::ostream* trace) {
  GradModeGuard grad_mode(true);
  Machine machine(program, trace);
  const std::size_t header = machine.byte();
  const std::size_t table_size =
      header == 0 || header > instructions.size() ? instructions.size() : header;
  ProgramRun run;
  while (!machine.at_end() && run.instructions < kMaxInstructions) {
    run.errors += machine.run(instructions[machine.byte() % table_size]);
    ++run.instructions;
  }
  return run;
}

}  // namespace tether::fuzz
