// The computing methods of Tensor, forwarding to the free functions in ops.h,
// plus reading values out (item, to_vector) and printing.
#include <cmath>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "ops/op_util.h"

namespace tether {

using namespace ops;

Tensor Tensor::detach() const {
  check_defined("detach", *this);
  return Tensor::view_of(*this, shape(), strides(), storage_offset());
}

Tensor Tensor::to(DType dtype) const {
  return tether::to(*this, dtype);
}

Tensor Tensor::to(Device device) const {
  check_defined("to", *this);
  if (device == this->device()) return *this;
  Tensor out = Tensor::empty(shape(), dtype(), device);  // throws for unavailable devices
  backend_of(device.is_cpu() ? *this : out).copy(*this, out);
  return out;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  check_defined("to_vector", *this);
  refuse_in_capture("a read of tensor data to the host (item(), to_vector, printing)");
  const Tensor host = contiguous_data(to(Device::cpu()).to(dtype_of<T>()));
  const T* data = host.data_ptr<T>();
  return std::vector<T>(data, data + host.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;
template std::vector<bool> Tensor::to_vector<bool>() const;

template <class T>
T Tensor::item() const {
  check_defined("item", *this);
  if (numel() != 1)
    fail<ValueError>("item: expected a tensor with one element, got shape ", shape());
  return to_vector<T>().front();
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template std::int64_t Tensor::item<std::int64_t>() const;
template <>
bool Tensor::item<bool>() const {
  return item<double>() != 0.0;  // NaN too: nonzero is true, as the conversion to bool
}

Tensor Tensor::clone() const {
  return tether::clone(*this);
}
Tensor Tensor::contiguous() const {
  return tether::contiguous(*this);
}
Tensor Tensor::reshape(const Shape& shape) const {
  return tether::reshape(*this, shape);
}
Tensor Tensor::view(const Shape& shape) const {
  return tether::view(*this, shape);
}
Tensor Tensor::flatten(std::int64_t start, std::int64_t end) const {
  return tether::flatten(*this, start, end);
}
Tensor Tensor::transpose(std::int64_t d0, std::int64_t d1) const {
  return tether::transpose(*this, d0, d1);
}
Tensor Tensor::t() const {
  check_defined("t", *this);
  if (dim() > 2) fail<ShapeError>("t: expected a tensor of rank <= 2, got shape ", shape());
  return tether::transpose(*this, 0, -1);
}
Tensor Tensor::mT() const {
  check_defined("mT", *this);
  if (dim() < 2) fail<ShapeError>("mT: expected a tensor of rank >= 2, got shape ", shape());
  return tether::transpose(*this, -2, -1);
}
Tensor Tensor::permute(const Dims& dims) const {
  return tether::permute(*this, dims);
}
Tensor Tensor::squeeze() const {
  return tether::squeeze(*this);
}
Tensor Tensor::squeeze(std::int64_t d) const {
  return tether::squeeze(*this, d);
}
Tensor Tensor::unsqueeze(std::int64_t d) const {
  return tether::unsqueeze(*this, d);
}
Tensor Tensor::expand(const Shape& shape) const {
  return tether::expand(*this, shape);
}
Tensor Tensor::expand_as(const Tensor& other) const {
  check_defined("expand_as", *this);
  check_defined("expand_as", other);
  return tether::expand(*this, other.shape());
}
Tensor Tensor::narrow(std::int64_t d, std::int64_t start, std::int64_t length) const {
  return tether::narrow(*this, d, start, length);
}
Tensor Tensor::select(std::int64_t d, std::int64_t index) const {
  return tether::select(*this, d, index);
}
Tensor Tensor::index_select(std::int64_t d, const Tensor& index) const {
  return tether::index_select(*this, d, index);
}
Tensor Tensor::gather(std::int64_t d, const Tensor& index) const {
  return tether::gather(*this, d, index);
}

Tensor Tensor::neg() const {
  return tether::neg(*this);
}
Tensor Tensor::reciprocal() const {
  return tether::reciprocal(*this);
}
Tensor Tensor::pow(Scalar exponent) const {
  return tether::pow(*this, exponent);
}
Tensor Tensor::pow(const Tensor& exponent) const {
  return tether::pow(*this, exponent);
}
Tensor Tensor::exp() const {
  return tether::exp(*this);
}
Tensor Tensor::log() const {
  return tether::log(*this);
}
Tensor Tensor::log1p() const {
  return tether::log1p(*this);
}
Tensor Tensor::sqrt() const {
  return tether::sqrt(*this);
}
Tensor Tensor::rsqrt() const {
  return tether::rsqrt(*this);
}
Tensor Tensor::abs() const {
  return tether::abs(*this);
}
Tensor Tensor::sign() const {
  return tether::sign(*this);
}
Tensor Tensor::sin() const {
  return tether::sin(*this);
}
Tensor Tensor::cos() const {
  return tether::cos(*this);
}
Tensor Tensor::tanh() const {
  return tether::tanh(*this);
}
Tensor Tensor::sigmoid() const {
  return tether::sigmoid(*this);
}
Tensor Tensor::erf() const {
  return tether::erf(*this);
}

Tensor Tensor::erfc() const {
  return tether::erfc(*this);
}

Tensor Tensor::lgamma() const {
  return tether::lgamma(*this);
}

Tensor Tensor::expm1() const {
  return tether::expm1(*this);
}

Tensor Tensor::atan() const {
  return tether::atan(*this);
}

Tensor Tensor::erfinv() const {
  return tether::erfinv(*this);
}

Tensor Tensor::digamma() const {
  return tether::digamma(*this);
}

Tensor Tensor::polygamma(std::int64_t n) const {
  return tether::polygamma(n, *this);
}
Tensor Tensor::relu() const {
  return tether::relu(*this);
}
Tensor Tensor::clamp(std::optional<Scalar> min, std::optional<Scalar> max) const {
  return tether::clamp(*this, min, max);
}
Tensor Tensor::isnan() const {
  return tether::isnan(*this);
}
Tensor Tensor::isinf() const {
  return tether::isinf(*this);
}
Tensor Tensor::isfinite() const {
  return tether::isfinite(*this);
}
Tensor Tensor::logical_not() const {
  return tether::logical_not(*this);
}
Tensor Tensor::masked_fill(const Tensor& mask, Scalar value) const {
  return tether::masked_fill(*this, mask, value);
}
Tensor Tensor::masked_fill(const Tensor& mask, const Tensor& value) const {
  return tether::masked_fill(*this, mask, value);
}
Tensor Tensor::masked_select(const Tensor& mask) const {
  return tether::masked_select(*this, mask);
}

Tensor Tensor::sum(const Dims& dims, bool keepdim) const {
  return tether::sum(*this, dims, keepdim);
}
Tensor Tensor::mean(const Dims& dims, bool keepdim) const {
  return tether::mean(*this, dims, keepdim);
}
Tensor Tensor::var(const Dims& dims, std::int64_t correction, bool keepdim) const {
  return tether::var(*this, dims, correction, keepdim);
}
Tensor Tensor::amax(const Dims& dims, bool keepdim) const {
  return tether::amax(*this, dims, keepdim);
}
Tensor Tensor::amin(const Dims& dims, bool keepdim) const {
  return tether::amin(*this, dims, keepdim);
}
Tensor Tensor::logsumexp(const Dims& dims, bool keepdim) const {
  return tether::logsumexp(*this, dims, keepdim);
}
Tensor Tensor::norm(const Dims& dims, bool keepdim) const {
  return tether::norm(*this, dims, keepdim);
}
Tensor Tensor::argmax(std::int64_t d, bool keepdim) const {
  return tether::argmax(*this, d, keepdim);
}
Tensor Tensor::any(const Dims& dims, bool keepdim) const {
  return tether::any(*this, dims, keepdim);
}
Tensor Tensor::all(const Dims& dims, bool keepdim) const {
  return tether::all(*this, dims, keepdim);
}

Tensor Tensor::argmin(std::int64_t d, bool keepdim) const {
  return tether::argmin(*this, d, keepdim);
}

Tensor Tensor::multinomial(std::int64_t num_samples, bool replacement) const {
  return tether::multinomial(*this, num_samples, replacement);
}

Tensor Tensor::bernoulli() const {
  return tether::bernoulli(*this);
}
Tensor Tensor::softmax(std::int64_t d) const {
  return tether::softmax(*this, d);
}
Tensor Tensor::log_softmax(std::int64_t d) const {
  return tether::log_softmax(*this, d);
}

Tensor Tensor::matmul(const Tensor& other) const {
  return tether::matmul(*this, other);
}
Tensor Tensor::mm(const Tensor& other) const {
  return tether::mm(*this, other);
}
Tensor Tensor::mv(const Tensor& vec) const {
  return tether::mv(*this, vec);
}
Tensor Tensor::dot(const Tensor& other) const {
  return tether::dot(*this, other);
}
Tensor Tensor::outer(const Tensor& other) const {
  return tether::outer(*this, other);
}

Tensor Tensor::matrix_exp() const {
  return tether::matrix_exp(*this);
}
Tensor Tensor::cholesky(bool upper) const {
  return tether::cholesky(*this, upper);
}
Tensor Tensor::cholesky_solve(const Tensor& l, bool upper) const {
  return tether::cholesky_solve(*this, l, upper);
}
Tensor Tensor::logdet() const {
  return tether::logdet(*this);
}
Tensor Tensor::tril(std::int64_t d) const {
  return tether::tril(*this, d);
}
Tensor Tensor::triu(std::int64_t d) const {
  return tether::triu(*this, d);
}
Tensor Tensor::diagonal(std::int64_t offset) const {
  return tether::diagonal(*this, offset);
}

ValuesAndIndices Tensor::sort(std::int64_t d, bool descending, bool stable) const {
  return tether::sort(*this, d, descending, stable);
}

Tensor Tensor::argsort(std::int64_t d, bool descending, bool stable) const {
  return tether::argsort(*this, d, descending, stable);
}

ValuesAndIndices Tensor::topk(std::int64_t k, std::int64_t d, bool largest, bool sorted) const {
  return tether::topk(*this, k, d, largest, sorted);
}

ValuesAndIndices Tensor::max(std::int64_t d, bool keepdim) const {
  return tether::max(*this, d, keepdim);
}

ValuesAndIndices Tensor::min(std::int64_t d, bool keepdim) const {
  return tether::min(*this, d, keepdim);
}

std::vector<Tensor> Tensor::split(std::int64_t split_size, std::int64_t d) const {
  return tether::split(*this, split_size, d);
}

std::vector<Tensor> Tensor::split(const std::vector<std::int64_t>& sections, std::int64_t d) const {
  return tether::split(*this, sections, d);
}

std::vector<Tensor> Tensor::chunk(std::int64_t chunks, std::int64_t d) const {
  return tether::chunk(*this, chunks, d);
}

std::vector<Tensor> Tensor::unbind(std::int64_t d) const {
  return tether::unbind(*this, d);
}

Tensor Tensor::cumsum(std::int64_t dim) const {
  return tether::cumsum(*this, dim);
}

Tensor Tensor::cumprod(std::int64_t dim) const {
  return tether::cumprod(*this, dim);
}

Tensor Tensor::flip(const Dims& dims) const {
  return tether::flip(*this, dims);
}

Tensor Tensor::roll(const Dims& shifts, const Dims& dims) const {
  return tether::roll(*this, shifts, dims);
}

Tensor Tensor::repeat(const Shape& repeats) const {
  return tether::repeat(*this, repeats);
}

Tensor Tensor::bmm(const Tensor& other) const {
  return tether::bmm(*this, other);
}

Tensor Tensor::baddbmm(const Tensor& a, const Tensor& b, Scalar beta, Scalar alpha) const {
  return tether::baddbmm(*this, a, b, beta, alpha);
}

// ---- printing ---------------------------------------------------------------

namespace {

/// Formats every element the same way, as PyTorch does: booleans as True and
/// False, integers plainly, floats with 4 decimals, or in scientific notation
/// when magnitudes are very large or small.
class ElementFormat {
 public:
  explicit ElementFormat(const std::vector<double>& values, DType dtype)
      : boolean_(dtype == DType::boolean), integral_(!is_floating(dtype)) {
    double largest = 0.0, smallest = INFINITY;
    for (double v : values) {
      if (!std::isfinite(v)) continue;
      largest = std::max(largest, std::abs(v));
      if (v != 0.0) smallest = std::min(smallest, std::abs(v));
    }
    scientific_ = !integral_ && (largest >= 1e8 || (smallest < 1e-4 && smallest != INFINITY));
    for (double v : values) width_ = std::max(width_, format(v).size());
  }

  std::string operator()(double v) const {
    std::string s = format(v);
    return std::string(width_ - s.size(), ' ') + s;
  }

 private:
  std::string format(double v) const {
    std::ostringstream os;
    if (boolean_)
      os << (v != 0.0 ? "True" : "False");
    else if (integral_)
      os << static_cast<std::int64_t>(v);
    else if (std::isnan(v))
      os << "nan";
    else if (std::isinf(v))
      os << (v < 0 ? "-inf" : "inf");
    else if (scientific_)
      os << std::scientific << std::setprecision(4) << v;
    else
      os << std::fixed << std::setprecision(4) << v;
    return os.str();
  }

  bool boolean_;
  bool integral_;
  bool scientific_ = false;
  std::size_t width_ = 0;
};

void print_nested(std::ostream& os, const std::vector<double>& values, const Shape& shape, int dim,
                  std::int64_t offset, const ElementFormat& format, int indent) {
  if (dim == shape.size()) {
    os << format(values[offset]);
    return;
  }
  // Unsigned, as Shape::numel: the trailing extents of a tensor without
  // elements may multiply beyond int64 ([3, 2^62, 4, 0]).
  std::uint64_t product = 1;
  for (int d = dim + 1; d < shape.size(); ++d) product *= static_cast<std::uint64_t>(shape[d]);
  const auto inner = static_cast<std::int64_t>(product);
  os << '[';
  for (std::int64_t i = 0; i < shape[dim]; ++i) {
    if (i > 0) {
      os << ',';
      if (dim + 1 == shape.size())
        os << ' ';
      else
        os << std::string(static_cast<std::size_t>(shape.size() - dim - 1), '\n')
           << std::string(static_cast<std::size_t>(indent + dim + 1), ' ');
    }
    print_nested(os, values, shape, dim + 1, offset + i * inner, format, indent);
  }
  os << ']';
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  const std::vector<double> values = t.detach().to_vector<double>();
  const ElementFormat format(values, t.dtype());
  os << "tensor(";
  // Without elements there is nothing to nest, and the extents may be huge
  // ([2, 2^62, 0]): PyTorch's form, the empty list and the shape.
  if (t.numel() == 0) {
    os << "[]";
    if (t.dim() != 1) os << ", size=" << t.shape();
  } else {
    print_nested(os, values, t.shape(), 0, 0, format, 7);
  }
  if (t.dtype() != DType::f32) os << ", dtype=" << t.dtype();
  if (!t.device().is_cpu()) os << ", device=" << t.device();
  if (t.grad_fn())
    os << ", grad_fn=<" << t.grad_fn()->name() << ">";
  else if (t.requires_grad())
    os << ", requires_grad=True";
  return os << ')';
}

}  // namespace tether
