// Tensor: a cheap, shared handle to shape, strides, dtype and storage, plus the
// autograd state the engine in autograd/ manages.
//
//   Tensor x = tether::randn({3, 4}).requires_grad_();
//   Tensor y = x.matmul(x.t()).sum();
//   y.backward();
//   std::cout << x.grad();
//
// Copying a Tensor aliases it (as with torch::Tensor); clone() copies data.
// Views (reshape, transpose, permute, narrow, expand, ...) share storage.
// The methods that compute (every op, backward(), printing) are defined in the
// autograd layer; tether/ops.h documents them as free functions.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "tether/device.h"
#include "tether/dtype.h"
#include "tether/scalar.h"
#include "tether/shape.h"
#include "tether/storage.h"

namespace tether {

namespace autograd {
class Node;
struct GradHooks;
}  // namespace autograd
struct ValuesAndIndices;  // sort's and topk's result (tether/ops.h)

/// What Tensor::register_hook and register_post_accumulate_grad_hook return:
/// remove() takes the hook away (torch's RemovableHandle). Dropping the handle
/// keeps the hook; remove() after the tensor is gone, or twice, does nothing.
class HookHandle {
 public:
  HookHandle() = default;
  explicit HookHandle(std::function<void()> remover) : remover_(std::move(remover)) {}
  void remove() {
    if (remover_) std::exchange(remover_, nullptr)();
  }

 private:
  std::function<void()> remover_;
};

namespace detail {
/// Throws ValueError: `op` was given an undefined tensor.
[[noreturn]] void fail_undefined(const char* op);
}  // namespace detail

/// What a factory makes: dtype, device and whether the result requires grad.
/// Converts implicitly from a DType or a Device: zeros({2}, DType::f64).
/// Without a dtype, a factory takes default_float_dtype, or the dtype its
/// arguments imply where it infers one (arange(5, Device::cuda()) is i64).
struct TensorOptions {
  std::optional<DType> dtype;
  Device device = Device::cpu();
  bool requires_grad = false;

  TensorOptions() = default;
  TensorOptions(DType dtype) : dtype(dtype) {}
  TensorOptions(Device device) : device(device) {}
  /// The dtype asked for, or `inferred` when none was.
  DType dtype_or(DType inferred = default_float_dtype) const { return dtype.value_or(inferred); }
  TensorOptions with_dtype(DType d) const {
    auto o = *this;
    o.dtype = d;
    return o;
  }
  TensorOptions with_device(Device d) const {
    auto o = *this;
    o.device = d;
    return o;
  }
  TensorOptions with_requires_grad(bool r = true) const {
    auto o = *this;
    o.requires_grad = r;
    return o;
  }
};

/// The state behind a Tensor handle. Core code owns shape/strides/storage; the
/// autograd fields are opaque here and managed by autograd/.
struct TensorImpl {
  Shape shape;
  Strides strides;
  std::int64_t offset = 0;  ///< in elements, into storage
  DType dtype = DType::f32;
  std::shared_ptr<Storage> storage;

  bool requires_grad = false;
  std::uint32_t output_nr = 0;              ///< which output of grad_fn this is
  std::shared_ptr<autograd::Node> grad_fn;  ///< null for leaves
  std::weak_ptr<autograd::Node> grad_accumulator;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::GradHooks> hooks;  ///< a leaf's hooks (a non-leaf's are on grad_fn)

  TensorImpl(const Shape& shape, const Strides& strides, std::int64_t offset, DType dtype,
             std::shared_ptr<Storage> storage)
      : shape(shape), strides(strides), offset(offset), dtype(dtype), storage(std::move(storage)) {}
  TensorImpl(const TensorImpl&) = delete;
  TensorImpl& operator=(const TensorImpl&) = delete;
  /// Releases grad_fn without recursing down a long graph (see release.h).
  ~TensorImpl();
};

class Tensor {
 public:
  /// An undefined tensor (as returned by grad() before any backward).
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  /// A new, uninitialised, contiguous tensor: every tensor's memory but
  /// from_blob's is made here. Throws ShapeError naming `op` and the shape when an extent is
  /// negative or the element count or byte size overflows, and
  /// OutOfMemoryError when the device cannot provide the bytes.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu(),
                      const char* op = "empty");
  /// A view of `base`'s storage with its own shape, strides and offset. Throws
  /// ShapeError naming `op` for a shape whose element count overflows.
  static Tensor view_of(const Tensor& base, const Shape& shape, const Strides& strides,
                        std::int64_t offset, const char* op = "view");
  /// A contiguous tensor over `data`, CPU memory the caller owns, without a
  /// copy (tether::from_blob in ops.h). `deleter`, if given, is called with
  /// `data` once, when the last tensor or view of it dies. Throws ShapeError
  /// as empty() does, and ValueError for a null `data` with elements.
  static Tensor from_blob(void* data, const Shape& shape, DType dtype,
                          std::function<void(void*)> deleter, const char* op = "from_blob");

  /// Whether this handle refers to a tensor. Every other accessor and method
  /// throws ValueError naming itself (or the op) on an undefined handle.
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return state("shape").shape; }
  const Shape& sizes() const { return state("sizes").shape; }
  const Strides& strides() const { return state("strides").strides; }
  int dim() const { return state("dim").shape.size(); }
  /// Extent of dimension `d` (negative counts from the end).
  std::int64_t size(std::int64_t d) const {
    const Shape& extents = state("size").shape;
    return extents[wrap_dim("size", d, extents.size())];
  }
  std::int64_t stride(std::int64_t d) const;
  std::int64_t numel() const { return state("numel").shape.numel(); }
  DType dtype() const { return state("dtype").dtype; }
  Device device() const { return state("device").storage->device(); }
  /// This tensor's dtype and device, for tensors made to go with it (as
  /// libtorch's Tensor::options(); requires_grad is false).
  TensorOptions options() const {
    const TensorImpl& s = state("options");
    return TensorOptions(s.dtype).with_device(s.storage->device());
  }
  std::int64_t storage_offset() const { return state("storage_offset").offset; }
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(state("is_floating_point").dtype); }

  /// Pointer to the first element. Throws DTypeError if T does not match.
  template <class T>
  T* data_ptr() const {
    if (state("data_ptr").dtype != dtype_of<T>()) wrong_dtype(dtype_of<T>());
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const {
    const TensorImpl& s = state("raw_data");
    char* start = static_cast<char*>(s.storage->data());
    // Nothing is read through the pointer of a tensor without elements, and
    // its offset may lie past any storage (narrowing [0, 2^62] at 2^62 - 3),
    // where offset * element size would overflow: its start is the storage's.
    if (s.shape.numel() == 0) return start;
    return start + s.offset * static_cast<std::int64_t>(element_size(s.dtype));
  }

  const std::shared_ptr<Storage>& storage() const { return state("storage").storage; }
  /// The storage's version counter (see Storage::version).
  std::uint64_t version() const { return state("version").storage->version(); }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  /// Whether both handles refer to the same tensor (not merely equal values).
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  long use_count() const { return impl_.use_count(); }

  // ---- autograd state -------------------------------------------------------
  bool requires_grad() const { return state("requires_grad").requires_grad; }
  /// Marks a leaf as trainable. Throws for non-floating dtypes and non-leaves.
  Tensor& requires_grad_(bool requires_grad = true);
  /// Accumulated gradient of a leaf; undefined until a backward reaches it.
  Tensor grad() const;
  /// Replaces the accumulated gradient (an undefined tensor clears it).
  void set_grad(const Tensor& grad) const;
  bool is_leaf() const { return state("is_leaf").grad_fn == nullptr; }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return state("grad_fn").grad_fn; }

  // ---- defined in autograd/ (documented in tether/ops.h) --------------------
  /// Backpropagates from this tensor. Without `gradient` the tensor must have
  /// one element. retain_graph keeps saved tensors for another backward;
  /// create_graph records the backward itself for higher-order gradients.
  /// With create_graph a leaf's grad() holds a graph that refers back to the
  /// leaf (as in PyTorch): clear it with set_grad(Tensor()) when done, or use
  /// autograd::grad, which returns gradients without storing them.
  void backward(const Tensor& gradient = {}, bool retain_graph = false,
                bool create_graph = false) const;
  /// Same data, no history, requires_grad false.
  Tensor detach() const;
  /// Runs `hook(grad)` on each gradient computed for this tensor during
  /// backward or autograd::grad, before it flows on (for a leaf: before it is
  /// accumulated into grad()), as torch's Tensor.register_hook. The hook may
  /// return a replacement of the same shape and dtype, or nothing (void, or an
  /// undefined Tensor) to keep the gradient; hooks run in registration order,
  /// each on the previous one's result. Throws AutogradError unless this tensor
  /// requires grad.
  template <class Hook>
  HookHandle register_hook(Hook hook) const {
    if constexpr (std::is_void_v<std::invoke_result_t<Hook&, const Tensor&>>)
      return add_grad_hook([hook = std::move(hook)](const Tensor& grad) mutable {
        hook(grad);
        return Tensor();
      });
    else
      return add_grad_hook(std::move(hook));
  }
  /// Runs `hook(leaf)` once this leaf's grad() holds everything a backward
  /// accumulates into it, as torch 2.1's register_post_accumulate_grad_hook
  /// (autograd::grad, which accumulates nothing, does not run it). Throws
  /// AutogradError for a tensor that is not a leaf requiring grad.
  HookHandle register_post_accumulate_grad_hook(std::function<void(const Tensor& leaf)> hook) const;

  // The rule for the methods below: an op of tether/ops.h has a method of the
  // same name, taking the op's other arguments, exactly when torch.Tensor has
  // that method, except the binary element-wise ops and comparisons (add, sub,
  // mul, div, maximum, minimum, where, eq, ..., ge), which are written with
  // operators (a + b, a < b) or as free functions. So x.erf(), x.sum({1}),
  // x.tril(), a.matmul(b) and b.cholesky_solve(l) are methods, while the
  // factories, what torch keeps in torch.nn.functional or torch.linalg (gelu,
  // softplus, leaky_relu, normalize, linear, solve_triangular), cat, stack,
  // slice and tether's own affine and sum_to_shape are free functions only.
  // Each method forwards to its free function (autograd/src/tensor_methods.cpp).

  /// The single element, converted to T (float, double, std::int64_t or
  /// bool, for which nonzero is true). Throws ValueError unless numel() == 1.
  template <class T>
  T item() const;
  /// All elements in row-major order, converted to T (float, double,
  /// std::int64_t or bool, for which nonzero is true; a mask reads as 0 and 1
  /// with std::int64_t).
  template <class T>
  std::vector<T> to_vector() const;

  /// tether::to(*this, dtype) (ops.h): floating to i64 saturates, NaN gives INT64_MIN.
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor clone() const;
  Tensor contiguous() const;

  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;
  Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;
  Tensor transpose(std::int64_t dim0, std::int64_t dim1) const;
  Tensor t() const;
  /// The transpose of the last two dims (each matrix of a batch), as torch's Tensor.mT.
  Tensor mT() const;
  Tensor permute(const Dims& dims) const;
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor expand(const Shape& shape) const;
  Tensor expand_as(const Tensor& other) const;
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  Tensor select(std::int64_t dim, std::int64_t index) const;
  Tensor index_select(std::int64_t dim, const Tensor& index) const;
  Tensor gather(std::int64_t dim, const Tensor& index) const;

  Tensor neg() const;
  Tensor reciprocal() const;
  Tensor pow(Scalar exponent) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor log1p() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor abs() const;
  Tensor sign() const;
  Tensor sin() const;
  Tensor cos() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor erf() const;
  Tensor erfc() const;
  Tensor lgamma() const;
  Tensor digamma() const;
  Tensor polygamma(std::int64_t n) const;
  Tensor expm1() const;
  Tensor atan() const;
  Tensor erfinv() const;
  Tensor relu() const;
  Tensor clamp(std::optional<Scalar> min, std::optional<Scalar> max) const;
  Tensor isnan() const;
  Tensor isinf() const;
  Tensor isfinite() const;
  Tensor logical_not() const;
  Tensor masked_fill(const Tensor& mask, Scalar value) const;
  Tensor masked_fill(const Tensor& mask, const Tensor& value) const;
  Tensor masked_select(const Tensor& mask) const;

  Tensor sum(const Dims& dims = {}, bool keepdim = false) const;
  Tensor mean(const Dims& dims = {}, bool keepdim = false) const;
  Tensor var(const Dims& dims = {}, std::int64_t correction = 1, bool keepdim = false) const;
  Tensor amax(const Dims& dims = {}, bool keepdim = false) const;
  Tensor amin(const Dims& dims = {}, bool keepdim = false) const;
  Tensor logsumexp(const Dims& dims, bool keepdim = false) const;
  Tensor norm(const Dims& dims = {}, bool keepdim = false) const;
  Tensor argmax(std::int64_t dim, bool keepdim = false) const;
  Tensor any(const Dims& dims = {}, bool keepdim = false) const;
  Tensor all(const Dims& dims = {}, bool keepdim = false) const;
  Tensor argmin(std::int64_t dim, bool keepdim = false) const;
  Tensor softmax(std::int64_t dim) const;
  Tensor log_softmax(std::int64_t dim) const;

  Tensor multinomial(std::int64_t num_samples, bool replacement = false) const;
  Tensor bernoulli() const;

  Tensor matmul(const Tensor& other) const;
  Tensor mm(const Tensor& other) const;
  Tensor mv(const Tensor& vec) const;
  Tensor dot(const Tensor& other) const;
  Tensor outer(const Tensor& other) const;

  Tensor matrix_exp() const;
  Tensor cholesky(bool upper = false) const;
  /// tether::cholesky_solve(*this, l, upper): this is b, l the Cholesky factor.
  Tensor cholesky_solve(const Tensor& l, bool upper = false) const;
  Tensor logdet() const;
  Tensor tril(std::int64_t diagonal = 0) const;
  Tensor triu(std::int64_t diagonal = 0) const;
  Tensor diagonal(std::int64_t offset = 0) const;

  ValuesAndIndices sort(std::int64_t dim = -1, bool descending = false, bool stable = false) const;
  Tensor argsort(std::int64_t dim = -1, bool descending = false, bool stable = false) const;
  ValuesAndIndices topk(std::int64_t k, std::int64_t dim = -1, bool largest = true,
                        bool sorted = true) const;
  ValuesAndIndices max(std::int64_t dim, bool keepdim = false) const;
  ValuesAndIndices min(std::int64_t dim, bool keepdim = false) const;
  std::vector<Tensor> split(std::int64_t split_size, std::int64_t dim = 0) const;
  std::vector<Tensor> split(const std::vector<std::int64_t>& sections, std::int64_t dim = 0) const;
  std::vector<Tensor> chunk(std::int64_t chunks, std::int64_t dim = 0) const;
  std::vector<Tensor> unbind(std::int64_t dim = 0) const;
  Tensor cumsum(std::int64_t dim) const;
  Tensor cumprod(std::int64_t dim) const;
  Tensor flip(const Dims& dims) const;
  Tensor roll(const Dims& shifts, const Dims& dims = {}) const;
  Tensor repeat(const Shape& repeats) const;
  Tensor bmm(const Tensor& other) const;
  /// tether::baddbmm(*this, a, b, beta, alpha): beta * this + alpha * bmm(a, b).
  Tensor baddbmm(const Tensor& a, const Tensor& b, Scalar beta = 1, Scalar alpha = 1) const;

  /// In-place writes bump the storage version. They throw AutogradError while
  /// grad mode is on and this tensor (or the operand) requires grad. The
  /// arithmetic ones compute in the operands' result_type and write it back
  /// into this tensor's dtype; a floating result for an i64 tensor
  /// (arange(3).add_(0.5), .div_(2)) is a DTypeError, as in PyTorch.
  Tensor& add_(const Tensor& other, Scalar alpha = 1);
  Tensor& add_(Scalar value);
  Tensor& sub_(const Tensor& other, Scalar alpha = 1);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(Scalar value);
  Tensor& div_(Scalar value);
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(double value);
  Tensor& zero_();

 private:
  /// register_hook with the hook in one form (defined in autograd/src/hooks.cpp).
  HookHandle add_grad_hook(std::function<Tensor(const Tensor& grad)> hook) const;
  /// The state behind this handle; throws ValueError naming `accessor` when undefined.
  TensorImpl& state(const char* accessor) const {
    if (!impl_) [[unlikely]]
      detail::fail_undefined(accessor);
    return *impl_;
  }
  [[noreturn]] void wrong_dtype(DType requested) const;

  std::shared_ptr<TensorImpl> impl_;
};

template <>
bool Tensor::item<bool>() const;

/// Throws ValueError naming `op` unless x is defined: the check every op makes
/// of each tensor argument before it reads it.
inline void check_defined(const char* op, const Tensor& x) {
  if (!x.defined()) [[unlikely]]
    detail::fail_undefined(op);
}

/// Prints like PyTorch: tensor([[1.0000, 2.0000], ...], dtype=f64, requires_grad=True).
std::ostream& operator<<(std::ostream& os, const Tensor& tensor);

}  // namespace tether
