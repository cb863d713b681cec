// Differentiable ops, named as in libtorch. Each is defined once, in
// autograd/src/ops/<family>.cpp: argument checks, one kernel call, and its
// backward written with these same ops (so gradients of gradients work).
//
// Conventions: element-wise ops broadcast as NumPy does and promote dtypes as
// PyTorch does (result_type below; the table is docs/TYPE_PROMOTION.md): an
// i64 tensor with a floating operand computes in floating point, and a
// promoted input's gradient comes back in its own dtype. Operands must share
// a device. Dimension arguments may be negative. Reductions take a list of
// dims (empty = all) and keepdim.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tether/adam_step.h"
#include "tether/error.h"
#include "tether/tensor.h"

namespace tether {

// ---- factories (factories.cpp) ----------------------------------------------
// A value an i64 tensor cannot hold (NaN, an infinity, beyond +-2^63) throws
// ValueError naming the factory and the value, as in PyTorch; so does fill_.
Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
Tensor full_like(const Tensor& like, double value);
/// 0, 1, ..., end - 1. Unless options ask for a dtype, it is inferred as in
/// torch.arange: i64 for an integer end, default_float_dtype for a floating
/// one (arange(5) and arange(5, Device::cuda()) are i64, arange(5.0) f32).
Tensor arange(Scalar end, TensorOptions options = {});
/// start, start + step, ... while < end (or > end for negative step). Unless
/// options ask for a dtype: i64 when all three are integers, otherwise
/// default_float_dtype (arange(0, 1, 0.25) is f32, as in PyTorch).
Tensor arange(Scalar start, Scalar end, Scalar step, TensorOptions options = {});
/// `steps` evenly spaced values from start to end inclusive.
Tensor linspace(double start, double end, std::int64_t steps, TensorOptions options = {});
/// n x m identity (m defaults to n).
Tensor eye(std::int64_t n, std::optional<std::int64_t> m = std::nullopt,
           TensorOptions options = {});
/// Uniform on [0, 1), from the global generator (see manual_seed).
Tensor rand(const Shape& shape, TensorOptions options = {});
/// Standard normal, from the global generator.
Tensor randn(const Shape& shape, TensorOptions options = {});
/// A tensor holding `values` (row-major) with `shape`; throws ShapeError if
/// the counts differ.
Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions options = {});
/// A 1-d tensor holding `values`, as torch.tensor([...]): tensor({1.0, -0.5}),
/// tensor({1, 2}, DType::i64). With a braced second argument the call means
/// the overload above (tensor({1, 2, 3, 4}, {2, 2}) is 2 x 2); tensor({1.0},
/// {}) is ambiguous, use scalar_tensor for 0-d.
Tensor tensor(const std::vector<double>& values, TensorOptions options = {});
/// A 0-d tensor.
Tensor scalar_tensor(double value, TensorOptions options = {});
/// A tensor over `data`, CPU memory the caller owns, without a copy (as
/// torch::from_blob): writes through either side are seen by the other.
/// `deleter`, if given, is called with `data` once, when the last tensor or
/// view of the memory dies; without one the caller must keep the memory alive
/// as long as any tensor uses it. The tensor does not require grad.
Tensor from_blob(void* data, const Shape& shape, DType dtype,
                 std::function<void(void*)> deleter = {});

// ---- type promotion (promotion.cpp) -----------------------------------------
/// The dtype an element-wise op on a and b computes in and returns, as
/// torch.result_type. Operands rank in three groups: tensors with dims, 0-d
/// tensors, scalars. The highest group present decides, unless only a lower
/// one holds a floating operand; then the two promote (promote_types). So an
/// i64 tensor with 0.5 gives f32 and with an f64 0-d tensor f64, but an f32
/// tensor with an f64 0-d tensor stays f32. A floating scalar counts as
/// default_float_dtype, an integer one as i64.
DType result_type(const Tensor& a, const Tensor& b);
DType result_type(const Tensor& tensor, Scalar scalar);

// ---- element-wise (elementwise.cpp) -----------------------------------------
// Binary ops compute in result_type(a, b), except that div, the true division,
// turns an integer result type into default_float_dtype (arange(5) / 2 is f32).
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, Scalar b);
Tensor operator-(const Tensor& a, Scalar b);
Tensor operator*(const Tensor& a, Scalar b);
Tensor operator/(const Tensor& a, Scalar b);
Tensor operator+(Scalar a, const Tensor& b);
Tensor operator-(Scalar a, const Tensor& b);
Tensor operator*(Scalar a, const Tensor& b);
Tensor operator/(Scalar a, const Tensor& b);
Tensor operator-(const Tensor& a);

// Unary ops of an i64 tensor, as in PyTorch: neg, abs, sign, relu and clamp
// (with integer bounds) stay i64; softplus, leaky_relu and gelu throw
// DTypeError; the others compute in default_float_dtype (exp(arange(3)) is f32).
// Of a bool tensor the same, except that neg, abs and relu throw DTypeError
// and sign returns the mask; subtracting from or of a mask is a DTypeError
// too (invert it with logical_not). Two masks add as "or" and multiply as "and".

/// scale * x + shift in one kernel, in the result type of x and both scalars
/// (the scalar arithmetic above uses it: arange(5) * 2 is i64, * 0.5 is f32).
Tensor affine(const Tensor& x, Scalar scale, Scalar shift);
Tensor neg(const Tensor& x);
Tensor reciprocal(const Tensor& x);
/// x ^ exponent in result_type(x, exponent): i64 for an i64 x and an integer
/// exponent (a negative one throws ValueError), floating otherwise.
Tensor pow(const Tensor& x, Scalar exponent);
Tensor pow(const Tensor& x, const Tensor& exponent);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
/// -1, 0 or 1; its gradient is zero.
Tensor sign(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
/// Exact GELU, x * Phi(x).
Tensor gelu(const Tensor& x);
/// log(1 + exp(x)), without overflow for large |x|.
Tensor softplus(const Tensor& x);
/// Limits x to [min, max]; a missing bound is not applied. The result has the
/// result type of x and both bounds (an i64 x with a bound 0.5 gives f32).
Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max);
/// Element-wise condition ? a : b for a bool condition (a mask, as from a
/// comparison); any other dtype is a DTypeError, as in PyTorch.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);

/// Comparisons compare in the operands' result_type and return bool tensors
/// (masks), with no gradient. A mask in arithmetic promotes as PyTorch's:
/// mask * x is x's dtype, mask * 2 is i64, mask * 0.5 default_float_dtype.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, Scalar b);
Tensor operator<=(const Tensor& a, Scalar b);
Tensor operator>(const Tensor& a, Scalar b);
Tensor operator>=(const Tensor& a, Scalar b);
Tensor operator<(Scalar a, const Tensor& b);
Tensor operator<=(Scalar a, const Tensor& b);
Tensor operator>(Scalar a, const Tensor& b);
Tensor operator>=(Scalar a, const Tensor& b);

// ---- special functions (elementwise.cpp) ------------------------------------
// For log densities (tether::distributions). Element-wise, floating only (an
// i64 tensor computes in default_float_dtype, as PyTorch's), with edge values
// as PyTorch 1.13's; differentiable to any order (each derivative is an op of
// this section or an expression of ops above).

/// log|Gamma(x)|; +inf at 0, the negative integers and +-inf.
Tensor lgamma(const Tensor& x);
/// d/dx lgamma(x); -inf at +0, +inf at -0, NaN at the negative integers.
Tensor digamma(const Tensor& x);
/// The n-th derivative of digamma (n = 0 is digamma, n = 1 trigamma), for any
/// n >= 0; a negative n throws ValueError.
Tensor polygamma(std::int64_t n, const Tensor& x);
/// 1 - erf(x), accurate where it is tiny (large x).
Tensor erfc(const Tensor& x);
/// x * log(y), with 0 where x == 0 (even where y is 0 or inf) unless y is NaN,
/// as torch.xlogy; broadcasts and computes in a floating result_type.
Tensor xlogy(const Tensor& x, const Tensor& y);
/// log of the standard normal CDF (torch.special.log_ndtr), accurate far into
/// both tails: log_ndtr(-40) = -804.6, log_ndtr(10) = -7.6e-24.
Tensor log_ndtr(const Tensor& x);
/// exp(x) - 1, accurate near 0 (expm1(1e-10) = 1e-10, where exp(x) - 1 is
/// 1.00000008e-10).
Tensor expm1(const Tensor& x);
/// The inverse tangent, in (-pi/2, pi/2).
Tensor atan(const Tensor& x);
/// The inverse of erf: finite on (-1, 1), +-inf at +-1, NaN outside, as
/// torch.erfinv; accurate in both tails.
Tensor erfinv(const Tensor& x);

// ---- reductions (reduction.cpp) ---------------------------------------------
Tensor sum(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
/// Variance with Bessel's correction by default (correction = 1).
Tensor var(const Tensor& x, const Dims& dims = {}, std::int64_t correction = 1,
           bool keepdim = false);
/// Largest element; the gradient is shared equally among ties.
Tensor amax(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim = false);
/// Euclidean (L2) norm over dims.
Tensor norm(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
/// Index of the largest element along dim (i64, no gradient); the first one
/// among equals, and the first NaN if there is one (as in PyTorch).
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);
/// Index of the smallest element along dim, as argmax.
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);
/// x / max(||x||_2, eps) along dim, as torch.nn.functional.normalize.
Tensor normalize(const Tensor& x, std::int64_t dim = 1, double eps = 1e-12);
/// Sums `grad` down to `shape` over broadcast dimensions (the backward of broadcasting).
Tensor sum_to_shape(const Tensor& grad, const Shape& shape);

// ---- linear algebra (linalg.cpp) --------------------------------------------
/// As torch.matmul: 1-d x 1-d is a dot product, 2-d x 2-d a matrix product,
/// 1-d operands are promoted to matrices and the result squeezed, and batch
/// dimensions broadcast. Operands share a dtype; i64 products (and mm, mv,
/// dot of i64) are exact, wrap on overflow as PyTorch's, have no gradient,
/// and run on the CPU only (a DTypeError on CUDA, as in PyTorch).
Tensor matmul(const Tensor& a, const Tensor& b);
/// [n, k] x [k, m] -> [n, m].
Tensor mm(const Tensor& a, const Tensor& b);
/// [n, k] x [k] -> [n].
Tensor mv(const Tensor& matrix, const Tensor& vec);
/// [n] . [n] -> scalar.
Tensor dot(const Tensor& a, const Tensor& b);
/// [n] x [m] -> [n, m].
Tensor outer(const Tensor& a, const Tensor& b);
/// x @ weight^T + bias, as torch.nn.functional.linear: x [..., in], weight
/// [out, in], bias [out] or undefined. One node for a batch of rows [N, in];
/// x [..., in] runs as the rows [N, in] (a view where the strides allow), so
/// the weight's gradient is one product over all N rows.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

// ---- matrix functions (matrix_functions.cpp) --------------------------------
/// The matrix exponential sum_k A^k / k! of a square matrix [n, n] or of each
/// matrix in a batch [..., n, n] (f32 or f64), by scaling and squaring a
/// Taylor polynomial to about f64 round-off. Throws ShapeError for other
/// shapes and DTypeError for integer tensors.
Tensor matrix_exp(const Tensor& a);

// ---- decompositions and triangular solves (decompositions.cpp) --------------
// As torch.linalg. Matrices are the last two dims; leading dims are a batch,
// which broadcasts between the operands of the solves. Floating dtypes only:
// an integer tensor is a DTypeError, a shape that is not a matrix (or not
// square where one must be) a ShapeError.

/// The Cholesky factor of each symmetric positive definite matrix in a [..., n, n]:
/// lower triangular L with a = L L^T and a positive diagonal (or upper U = L^T,
/// a = U^T U). Only a's lower triangle is read. Throws LinAlgError naming the
/// batch element and the order of the first leading minor that is not positive
/// definite. The gradient is symmetric, as a is.
Tensor cholesky(const Tensor& a, bool upper = false);
/// X with a X = b (left) or X a = b, for triangular a [..., n, n] of which only
/// the upper or lower triangle is read (with ones taken for its diagonal when
/// unitriangular); b is [..., n, k] (left) or [..., k, n]. A zero on a's
/// diagonal gives infinities or NaNs, as in torch.
Tensor solve_triangular(const Tensor& a, const Tensor& b, bool upper, bool left = true,
                        bool unitriangular = false);
/// X with (L L^T) X = b, from the Cholesky factor l [..., n, n] (U^T U when
/// upper) and b [..., n, k], as torch.cholesky_solve (note: b comes first).
Tensor cholesky_solve(const Tensor& b, const Tensor& l, bool upper = false);
/// log(det(a)) of each symmetric positive definite matrix in a [..., n, n],
/// as 2 * sum(log(diagonal(cholesky(a)))); shape [...]. Unlike torch.logdet it
/// accepts only positive definite matrices (others throw LinAlgError as
/// cholesky does).
Tensor logdet(const Tensor& a);
/// The lower triangle of each matrix in x [..., m, n]: elements with
/// col - row <= diagonal, others zero (diagonal 0: main diagonal included, -1:
/// strictly lower). Any dtype.
Tensor tril(const Tensor& x, std::int64_t diagonal = 0);
/// The upper triangle: elements with col - row >= diagonal, others zero.
Tensor triu(const Tensor& x, std::int64_t diagonal = 0);
/// The diagonal `offset` (above the main one when positive, below when
/// negative) of each matrix in x [..., m, n], as a view [..., length], as
/// torch.diagonal(x, offset, -2, -1).
Tensor diagonal(const Tensor& x, std::int64_t offset = 0);

// ---- shape and indexing (shape.cpp) -----------------------------------------
/// x itself when the shape is unchanged, else a view when the strides allow
/// it, a copy otherwise. One extent may be -1.
Tensor reshape(const Tensor& x, const Shape& shape);
/// Like reshape, but throws ShapeError when a view is impossible.
Tensor view(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1);
Tensor permute(const Tensor& x, const Dims& dims);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, std::int64_t dim);
Tensor unsqueeze(const Tensor& x, std::int64_t dim);
/// A broadcast view; -1 keeps an extent.
Tensor expand(const Tensor& x, const Shape& shape);
/// Elements [start, start + length) along dim, as a view.
Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length);
/// Elements start, start + step, ... < end along dim, as a view (Python's x[start:end:step]).
Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end,
             std::int64_t step = 1);
/// The sub-tensor at `index` along dim, without that dim, as a view.
Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
/// Joins tensors along dim; mixed dtypes promote (result_type), as in torch.cat.
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
/// Rows (slices along dim) picked by a 1-d i64 index.
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);
/// out[i][j] = x[index[i][j]][j] for dim 0 (and so on), index i64 of out's shape.
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);
/// Converts dtype; differentiable between floating dtypes. Floating to i64
/// truncates toward zero and saturates: values beyond the range give INT64_MIN
/// or INT64_MAX, and NaN gives INT64_MIN (what PyTorch gives on x86, where its
/// result is implementation-defined). The same holds for copy_ into i64.
Tensor to(const Tensor& x, DType dtype);

// ---- attention (attention.cpp) ---------------------------------------------
/// softmax(query key^T * scale + mask) value, as
/// torch.nn.functional.scaled_dot_product_attention, in one node whose
/// backward is its own: it keeps q, k, v and the probabilities P (and the
/// dropout mask when there is one), no other [..., L, S] tensor. query is
/// [..., L, E], key [..., S, E], value [..., S, Ev]; the batch dims broadcast
/// and the result is [..., L, Ev]. scale defaults to 1 / sqrt(E).
///
/// attn_mask (optional), broadcastable to [..., L, S], is either a bool mask
/// (true = attend, as torch's) or added to the scores: a floating tensor of
/// query's dtype, -inf where a query must not see a key (differentiable).
/// is_causal masks every key after the query's own position (col > row,
/// aligned top-left as torch's tril mask); it excludes
/// attn_mask (ValueError). A row with every key masked gives NaN, as in torch.
/// dropout_p in [0, 1] drops attention weights with that probability and
/// scales the kept ones by 1 / (1 - dropout_p), drawn from the global
/// generator; it applies whenever dropout_p > 0, so a layer passes 0 in eval
/// mode (MultiheadAttention does). Throws DTypeError for integer or mixed
/// dtypes, ShapeError for ranks below 2 or mismatched E, S or mask shape.
Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask = {}, double dropout_p = 0.0,
                                    bool is_causal = false,
                                    std::optional<double> scale = std::nullopt);
// ---- sorting and selection (sort.cpp) --------------------------------------
// As torch.sort, topk, max and min over a dim: the values are differentiable
// (each element's gradient goes back to the position it came from), the
// indices are i64 positions along dim, without gradient. sort, argsort and
// topk count NaN as larger than any number; max, min, argmax and argmin
// propagate it (a slice with a NaN has the NaN as its max and its min).
// Equal elements keep their order (every sort is stable), so the indices are
// the ones PyTorch's stable sort gives.

/// Values and their indices, as libtorch's std::tuple<Tensor, Tensor>: auto
/// [values, indices] = sort(x);
struct ValuesAndIndices {
  Tensor values;
  Tensor indices;
};

/// x sorted along dim. `stable` is accepted for PyTorch's signature; the sort
/// is always stable.
ValuesAndIndices sort(const Tensor& x, std::int64_t dim = -1, bool descending = false,
                      bool stable = false);
/// sort(x, dim, descending, stable).indices.
Tensor argsort(const Tensor& x, std::int64_t dim = -1, bool descending = false,
               bool stable = false);
/// The k largest (or smallest) elements along dim; throws IndexError naming
/// topk unless 0 <= k <= x.size(dim). They come sorted whether or not `sorted`
/// asks for it (PyTorch leaves the order open then).
ValuesAndIndices topk(const Tensor& x, std::int64_t k, std::int64_t dim = -1, bool largest = true,
                      bool sorted = true);
/// The largest element along dim and its index (the first among equals); the
/// gradient goes to that one element, as in PyTorch (amax shares it).
ValuesAndIndices max(const Tensor& x, std::int64_t dim, bool keepdim = false);
ValuesAndIndices min(const Tensor& x, std::int64_t dim, bool keepdim = false);

// ---- splitting (split.cpp) --------------------------------------------------
// Views of x's parts along dim, recorded as one node with an output per part
// (not a node per part): the backward joins the parts' gradients in one cat,
// so splitting a sequence into T steps costs O(T) in backward.

/// Parts of `split_size` along dim, the last one smaller if the size is not a
/// multiple (torch.split with an int); throws ValueError naming split for a
/// split_size < 1 (0 is allowed only for an empty dim, as in PyTorch).
std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim = 0);
/// Parts of the given sizes along dim; throws ValueError naming split unless
/// they are >= 0 and sum to x.size(dim).
std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sections,
                          std::int64_t dim = 0);
/// At most `chunks` parts of ceil(size / chunks) along dim, as torch.chunk
/// (so fewer parts when the size is not a multiple); throws ValueError naming
/// chunk for chunks < 1.
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim = 0);
/// The slices of x along dim, each without that dim, as torch.unbind.
std::vector<Tensor> unbind(const Tensor& x, std::int64_t dim = 0);
// ---- scans and layout (scan.cpp) -------------------------------------------
// As torch's: dim may be negative, and a 0-d tensor counts as one element
// along dim 0 (or -1). Any dtype; i64 sums and products wrap around.

/// out_k = x_0 + ... + x_k along dim.
Tensor cumsum(const Tensor& x, std::int64_t dim);
/// out_k = x_0 * ... * x_k along dim. The gradient is exact where x has zeros
/// (no division by x there), as torch's; its second derivative too, at the
/// cost of an n x n intermediate per line of n elements (only when the
/// backward itself is recorded: create_graph).
Tensor cumprod(const Tensor& x, std::int64_t dim);
/// x with the order of its elements reversed along each of dims (a copy).
/// A dim named twice throws ValueError.
Tensor flip(const Tensor& x, const Dims& dims);
/// x with its elements shifted by shifts[i] along dims[i], those past the end
/// wrapping around to the front (a copy). With no dims, x is rolled as if
/// flattened (shifts then holds one shift). shifts and dims of different
/// lengths throw ValueError.
Tensor roll(const Tensor& x, const Dims& shifts, const Dims& dims = {});
/// x tiled repeats[i] times along dim i, as torch.Tensor.repeat (a copy, not
/// expand's view): repeats has at least x.dim() entries, and the leading
/// ones add dims. [2, 3] repeated {2, 1, 2} is [2, 2, 6].
Tensor repeat(const Tensor& x, const Shape& repeats);

// ---- contractions (einsum.cpp) ----------------------------------------------
/// torch.einsum: the operands' subscripts and optionally the output's,
/// "bij,bjk->bik", letters a-z and A-Z, one "..." per term for the dims it
/// does not name. Without "->" the output is "..." and then the letters that
/// appear once, in alphabetical order. A letter named twice in one term takes
/// a diagonal ("ii->i"); a letter absent from the output is summed over.
/// Extents of 1 broadcast. Built from permute, diagonal, sum, reshape and
/// matmul, so it is differentiable to any order. A malformed equation, a
/// wrong number of operands or sizes that differ throw naming einsum.
Tensor einsum(const std::string& equation, const std::vector<Tensor>& operands);
/// [b, n, k] x [b, k, m] -> [b, n, m], as torch.bmm (no broadcasting).
Tensor bmm(const Tensor& a, const Tensor& b);
/// beta * c + alpha * bmm(a, b), as torch.baddbmm; c broadcasts to [b, n, m]
/// and is not read when beta is 0 (a NaN in it does not reach the result).
Tensor baddbmm(const Tensor& c, const Tensor& a, const Tensor& b, Scalar beta = 1,
               Scalar alpha = 1);

// ---- optimizer steps (inplace.cpp) ------------------------------------------
/// One Adam step (see AdamStep) on param and its moments, in place and in one
/// pass (optim::Adam's update). param, exp_avg and exp_avg_sq must be
/// contiguous; all four tensors share dtype, device and shape. Like other
/// in-place writes, refused in grad mode when a tensor requires grad.
void adam_step_(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                const Tensor& exp_avg_sq, const AdamStep& step);

// ---- masks (mask.cpp) ----------------------------------------------------------
// Bool tensors as PyTorch's: the comparisons above and these ops make them;
// where, masked_fill and masked_select take them. The predicates and
// reductions below have no gradient; they take any dtype, nonzero being true.

/// Element-wise tests of floating values; false (isfinite: true) for i64 and bool.
Tensor isnan(const Tensor& x);
Tensor isinf(const Tensor& x);
Tensor isfinite(const Tensor& x);
Tensor logical_not(const Tensor& x);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);
/// ~mask, a & b, a | b, a ^ b: the logical ops for bool tensors only (tether
/// has no bitwise integer ops; any other dtype is a DTypeError).
Tensor operator~(const Tensor& mask);
Tensor operator&(const Tensor& a, const Tensor& b);
Tensor operator|(const Tensor& a, const Tensor& b);
Tensor operator^(const Tensor& a, const Tensor& b);
/// Whether any (all) element over dims is nonzero, as a bool tensor; over no
/// elements, false (true).
Tensor any(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor all(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
/// x with `value` where the bool `mask` (broadcast to x's shape) is true, in
/// x's dtype; differentiable in x, and in `value`, a 0-d tensor, when it is one.
Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value);
Tensor masked_fill(const Tensor& x, const Tensor& mask, const Tensor& value);
/// The elements of x where the bool `mask` is true, x and mask broadcast
/// together, as a 1-d tensor in row-major order; differentiable in x. Its
/// length depends on the mask's values, which are read on the host (a
/// synchronisation on a GPU, as in PyTorch).
Tensor masked_select(const Tensor& x, const Tensor& mask);
// ---- random draws (random.cpp) ----------------------------------------------
// From the global generator (manual_seed), as rand and randn; the numbers are
// drawn on the host, so a seed gives the same draws on every device. None has
// a gradient.
/// Integers uniform in [low, high), i64 unless options ask for another dtype.
/// Throws ValueError naming randint unless low < high.
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions options = {});
/// randint(0, high, shape).
Tensor randint(std::int64_t high, const Shape& shape, TensorOptions options = {});
/// 0, ..., n - 1 in a uniformly random order (i64 unless options ask).
/// Throws ValueError naming randperm for a negative n.
Tensor randperm(std::int64_t n, TensorOptions options = {});
/// num_samples category indices (i64) drawn from each row of probs, [C] or
/// [R, C] weights (floating, finite, non-negative, not necessarily normalised),
/// as torch.multinomial: [num_samples] or [R, num_samples]. Without
/// replacement a row's draws are distinct, so it needs num_samples positive
/// weights. Throws ValueError naming multinomial for a bad weight, a row
/// without a positive one, num_samples < 1 or too few categories.
Tensor multinomial(const Tensor& probs, std::int64_t num_samples, bool replacement = false);
/// 1 with probability p and 0 otherwise, element-wise, in p's (floating)
/// dtype, as torch.bernoulli. Throws ValueError naming bernoulli unless every
/// p is in [0, 1].
Tensor bernoulli(const Tensor& p);

// ---- encodings and comparisons (one_hot.cpp, allclose.cpp) -------------------
/// [..., num_classes] i64 with 1 at each index's class and 0 elsewhere, for
/// i64 indices [...], as torch.nn.functional.one_hot; num_classes -1 means
/// max(indices) + 1. Throws DTypeError, or ValueError for an index outside
/// [0, num_classes) (or -1 with no indices to count classes from).
Tensor one_hot(const Tensor& indices, std::int64_t num_classes = -1);
/// Whether |a - b| <= atol + rtol |b| everywhere (a and b broadcast), as
/// torch.allclose: equal infinities are close, NaNs only with equal_nan.
/// Throws DTypeError naming allclose when the dtypes differ.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8,
              bool equal_nan = false);

// ---- a convolution's patches (conv.cpp) ---------------------------------------
/// A 2-d convolution's sliding window: (height, width) pairs.
struct ConvWindow {
  std::array<std::int64_t, 2> kernel;
  std::array<std::int64_t, 2> stride = {1, 1};
  std::array<std::int64_t, 2> padding = {0, 0};
  std::array<std::int64_t, 2> dilation = {1, 1};
};
/// The windows of x [N, C, H, W] (floating) as the columns of a convolution's
/// matrix product: [C * kh * kw, N * L], L = H_out * W_out, H_out = (H + 2
/// padding - dilation (kh - 1) - 1) / stride + 1 (W_out likewise). Row (c * kh
/// + i) * kw + j holds tap (i, j) of channel c; column n * L + r * W_out + s the
/// window at output (r, s) of image n; taps in the padding read 0. So
/// weight.reshape({O, -1}) @ im2col(x, window) is the convolution, as [O, N * L].
/// Its gradient is col2im. Throws ValueError naming im2col for a non-positive
/// kernel, stride or dilation or a negative padding, ShapeError for x not 4-d
/// (N may be 0, C, H and W not, as torch's unfold) or smaller than the dilated
/// kernel after padding, DTypeError for integers.
Tensor im2col(const Tensor& x, const ConvWindow& window);
/// im2col's adjoint: each column of `columns` [C * kh * kw, N * L] added back
/// onto the pixels its taps read, giving [N, C, H, W] = `size` (padding taps
/// are dropped); the input's gradient of a convolution. Its gradient is
/// im2col. Throws as im2col, naming col2im, and ShapeError when columns is not
/// [C * kh * kw, N * L] for `size` and the window.
Tensor col2im(const Tensor& columns, const Shape& size, const ConvWindow& window);

// ---- convolution and max pooling (conv.cpp) -----------------------------------
/// The 2-d convolution of x [N, C, H, W] with weight [O, C / groups, kh, kw]
/// plus bias [O] (undefined: none), as torch.nn.functional.conv2d: [N, O,
/// H_out, W_out] (sizes as im2col's). One node whose CPU kernel works through
/// the batch a few images at a time; every derivative order is available.
/// Throws ValueError naming conv2d for a non-positive groups, stride or
/// dilation or a negative padding, ShapeError for operands of the wrong shape
/// (groups must divide C and O) or an input smaller than the dilated kernel
/// after padding, DTypeError for integer or mixed dtypes.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
              std::array<std::int64_t, 2> stride = {1, 1},
              std::array<std::int64_t, 2> padding = {0, 0},
              std::array<std::int64_t, 2> dilation = {1, 1}, std::int64_t groups = 1);
/// The largest element of each window of x [N, C, H, W] (floating), as
/// torch.nn.functional.max_pool2d with window.kernel, stride, padding and
/// dilation (the stride is the window's, not the kernel by default): [N, C,
/// H_out, W_out]. The gradient goes to the first largest element of each
/// window (a NaN counts as the largest). Throws as im2col, naming max_pool2d,
/// and ValueError for a padding over half the kernel.
Tensor max_pool2d(const Tensor& x, const ConvWindow& window);

// ---- batch normalization (batch_norm.cpp) -------------------------------------
/// Batch normalization of x [N, C, ...] (floating, at least 2-d) in training,
/// as torch.nn.functional.batch_norm with training=True: per channel, (x -
/// mean) / sqrt(var + eps) * weight + bias, with the mean and the biased
/// variance over every dim but 1 (weight and bias [C], each undefined: none).
/// One node with a fused kernel each way; every derivative order is
/// available. Returns {output, mean [C], var [C]}: the batch statistics, for
/// running averages, as values without gradient. Throws ShapeError naming
/// batch_norm for x under 2-d or weight or bias not [C], ValueError for a
/// batch with one value per channel, DTypeError for integer or mixed dtypes.
std::vector<Tensor> batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               double eps = 1e-5);

}  // namespace tether
