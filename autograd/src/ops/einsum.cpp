// einsum and the batched products bmm and baddbmm. All are compositions of
// differentiable ops (diagonal, sum, permute, reshape, expand, matmul), so
// their gradients, of any order, are those ops' own.
//
// einsum works on labelled operands: each dim carries a label, a letter or
// one of the dims an ellipsis stands for. A label repeated within an operand
// becomes one dim through diagonal; a label that no other operand and not the
// output needs is summed away at once; then the operands are contracted left
// to right, each pair by one matmul: labels both share and still need are its
// batch dims, labels both share and no longer need its inner dim, the others
// its rows and columns.
#include <algorithm>
#include <string>

#include "op_util.h"

namespace tether {

using namespace ops;

namespace {

/// A letter ('A'-'Z' are 0-25, 'a'-'z' 26-51, so that sorting by label sorts
/// alphabetically as torch does), or kEllipsis + k for the k-th of the dims
/// an ellipsis stands for, counted from the left of the widest one.
using Label = int;
constexpr Label kEllipsis = 52;
using Labels = std::vector<Label>;

/// A tensor whose dim d carries labels[d].
struct Labelled {
  Tensor tensor;
  Labels labels;
};

bool contains(const Labels& labels, Label label) {
  return std::find(labels.begin(), labels.end(), label) != labels.end();
}

std::string name_of(Label label) {
  if (label >= kEllipsis) return "...";
  return std::string(1, static_cast<char>(label < 26 ? 'A' + label : 'a' + label - 26));
}

/// One term of the equation: its letters, and where its ellipsis stands
/// (npos without one).
struct Term {
  Labels letters;
  std::size_t ellipsis = std::string::npos;
};

Term parse_term(const std::string& equation, std::size_t begin, std::size_t end) {
  Term term;
  for (std::size_t i = begin; i < end; ++i) {
    const char c = equation[i];
    if (c >= 'A' && c <= 'Z') {
      term.letters.push_back(c - 'A');
    } else if (c >= 'a' && c <= 'z') {
      term.letters.push_back(c - 'a' + 26);
    } else if (c == '.' && equation.compare(i, 3, "...") == 0 && i + 3 <= end &&
               term.ellipsis == std::string::npos) {
      term.ellipsis = term.letters.size();
      i += 2;
    } else {
      fail<ValueError>("einsum: invalid subscript '", c, "' at index ", i, " of \"", equation,
                       "\": subscripts are letters a-z, A-Z and one \"...\" per term");
    }
  }
  return term;
}

/// term's labels with its ellipsis standing for the last `count` of
/// `widest` ellipsis dims.
Labels expand_ellipsis(const Term& term, int count, int widest) {
  Labels labels(term.letters.begin(), term.letters.end());
  if (term.ellipsis != std::string::npos) {
    Labels dims;
    for (int k = widest - count; k < widest; ++k) dims.push_back(kEllipsis + k);
    labels.insert(labels.begin() + static_cast<std::ptrdiff_t>(term.ellipsis), dims.begin(),
                  dims.end());
  }
  return labels;
}

/// x with dims (wrapped) summed away; x itself when there are none (sum of
/// no dims would sum them all).
Tensor sum_dims(const Tensor& x, const Dims& dims) {
  return dims.empty() ? x : sum(x, dims);
}

/// Merges the dims of x that share a label into one, at the end, through
/// diagonal: "ii" becomes "i".
Labelled take_diagonals(const std::string& equation, Labelled x) {
  for (int p = 0; p < static_cast<int>(x.labels.size()); ++p) {
    const auto later = std::find(x.labels.begin() + p + 1, x.labels.end(), x.labels[p]);
    if (later == x.labels.end()) continue;
    const int q = static_cast<int>(later - x.labels.begin());
    if (x.tensor.size(p) != x.tensor.size(q))
      fail<ShapeError>("einsum: subscript ", name_of(x.labels[p]), " of \"", equation,
                       "\" is repeated in an operand of shape ", x.tensor.shape(),
                       " along dims of different sizes");
    Dims order;
    Labels labels;
    for (int d = 0; d < static_cast<int>(x.labels.size()); ++d) {
      if (d == p || d == q) continue;
      order.push_back(d);
      labels.push_back(x.labels[d]);
    }
    order.push_back(p);
    order.push_back(q);
    labels.push_back(x.labels[p]);
    x = {diagonal(permute(x.tensor, order)), labels};
    --p;  // the dim now at p has not been looked at
  }
  return x;
}

/// The labels of a and then of b.
Labels joined(Labels a, const Labels& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// x with the dims whose labels are not in `needed` summed away.
Labelled keep_only(const Labelled& x, const Labels& needed) {
  Dims summed;
  Labels kept;
  for (int d = 0; d < static_cast<int>(x.labels.size()); ++d) {
    if (contains(needed, x.labels[d]))
      kept.push_back(x.labels[d]);
    else
      summed.push_back(d);
  }
  return {sum_dims(x.tensor, summed), kept};
}

/// x's dims reordered and grouped as `groups`: consecutive runs of x's
/// labels, each run merged into one dim (an empty run is an extent of 1).
Tensor grouped(const Labelled& x, const std::vector<Labels>& groups) {
  Dims order;
  Shape shape;
  for (const auto& group : groups) {
    std::int64_t extent = 1;
    for (Label label : group) {
      const auto d = std::find(x.labels.begin(), x.labels.end(), label) - x.labels.begin();
      order.push_back(d);
      if (__builtin_mul_overflow(extent, x.tensor.size(d), &extent))
        fail<ShapeError>("einsum: an operand of shape ", x.tensor.shape(),
                         " has more than 2^63 elements along its contracted dims");
    }
    shape.push_back(extent);
  }
  return reshape(permute(x.tensor, order), shape);
}

/// The extent of `label` in x.
std::int64_t extent_of(const Labelled& x, Label label) {
  return x.tensor.size(std::find(x.labels.begin(), x.labels.end(), label) - x.labels.begin());
}

/// x with the dims labelled `labels` expanded to `extents` where they are 1.
Labelled broadcast_to(const Labelled& x, const Labels& labels, const Shape& extents) {
  Shape shape = x.tensor.shape();
  for (int i = 0; i < static_cast<int>(labels.size()); ++i)
    shape[std::find(x.labels.begin(), x.labels.end(), labels[i]) - x.labels.begin()] = extents[i];
  return {expand(x.tensor, shape), x.labels};
}

/// The product of a and b summed over the labels they share that `needed`
/// (the output's and the later operands' labels) lacks, by one matmul.
Labelled contract(Labelled a, Labelled b, const Labels& needed) {
  Labels batch, rows, inner, cols;
  for (Label label : a.labels) {
    if (!contains(b.labels, label))
      rows.push_back(label);
    else if (contains(needed, label))
      batch.push_back(label);
    else
      inner.push_back(label);
  }
  for (Label label : b.labels)
    if (!contains(a.labels, label)) cols.push_back(label);
  // A summed label of extent 1 on one side broadcasts against the other.
  Shape inner_extents;
  for (Label label : inner)
    inner_extents.push_back(std::max(extent_of(a, label), extent_of(b, label)));
  a = broadcast_to(a, inner, inner_extents);
  b = broadcast_to(b, inner, inner_extents);
  // Batch dims stay separate, so matmul broadcasts those of extent 1.
  std::vector<Labels> a_groups, b_groups;
  for (Label label : batch) {
    a_groups.push_back({label});
    b_groups.push_back({label});
  }
  a_groups.push_back(rows);
  a_groups.push_back(inner);
  b_groups.push_back(inner);
  b_groups.push_back(cols);
  const Tensor product = matmul(grouped(a, a_groups), grouped(b, b_groups));
  Shape shape;
  Labels labels;
  for (int i = 0; i < static_cast<int>(batch.size()); ++i) {
    shape.push_back(product.size(i));
    labels.push_back(batch[i]);
  }
  for (Label label : rows) {
    shape.push_back(extent_of(a, label));
    labels.push_back(label);
  }
  for (Label label : cols) {
    shape.push_back(extent_of(b, label));
    labels.push_back(label);
  }
  return {reshape(product, shape), labels};
}

/// Throws ShapeError unless every label has one extent across the operands,
/// or 1 (which broadcasts).
void check_extents(const std::string& equation, const std::vector<Labelled>& operands) {
  std::vector<std::int64_t> seen(kEllipsis + Shape::kMaxDims, 1);
  for (std::size_t i = 0; i < operands.size(); ++i) {
    const Labelled& x = operands[i];
    for (int d = 0; d < static_cast<int>(x.labels.size()); ++d) {
      std::int64_t& extent = seen[x.labels[d]];
      const std::int64_t size = x.tensor.size(d);
      if (size != 1 && extent != 1 && size != extent)
        fail<ShapeError>("einsum: subscript ", name_of(x.labels[d]), " of \"", equation,
                         "\" has size ", size, " in operand ", i, " of shape ", x.tensor.shape(),
                         ", which does not broadcast with size ", extent, " before it");
      if (size != 1) extent = size;
    }
  }
}

/// The output's labels: from the equation's right-hand side, or, without
/// one, the ellipsis dims and then the letters used once, in order.
Labels output_labels(const std::string& equation, std::size_t arrow,
                     const std::vector<Labels>& inputs, int widest) {
  if (arrow != std::string::npos) {
    const Term term = parse_term(equation, arrow + 2, equation.size());
    for (std::size_t i = 0; i < term.letters.size(); ++i) {
      const Label label = term.letters[i];
      if (std::count(term.letters.begin(), term.letters.end(), label) > 1)
        fail<ValueError>("einsum: output subscript ", name_of(label), " of \"", equation,
                         "\" appears more than once");
      const bool used = std::any_of(inputs.begin(), inputs.end(),
                                    [&](const Labels& in) { return contains(in, label); });
      if (!used)
        fail<ValueError>("einsum: output subscript ", name_of(label), " of \"", equation,
                         "\" appears in no operand's subscripts");
    }
    return expand_ellipsis(term, widest, widest);
  }
  Labels labels;
  for (int k = 0; k < widest; ++k) labels.push_back(kEllipsis + k);
  for (Label label = 0; label < kEllipsis; ++label) {
    std::ptrdiff_t uses = 0;
    for (const auto& in : inputs) uses += std::count(in.begin(), in.end(), label);
    if (uses == 1) labels.push_back(label);
  }
  return labels;
}

/// The operands labelled by the equation's left-hand side (up to `arrow`).
std::vector<Labelled> labelled_operands(const std::string& equation, std::size_t arrow,
                                        const std::vector<Tensor>& operands, int& widest) {
  std::vector<Term> terms;
  const std::size_t lhs_end = arrow == std::string::npos ? equation.size() : arrow;
  for (std::size_t begin = 0;;) {
    const std::size_t comma = std::min(equation.find(',', begin), lhs_end);
    terms.push_back(parse_term(equation, begin, comma));
    if (comma == lhs_end) break;
    begin = comma + 1;
  }
  if (terms.size() != operands.size())
    fail<ValueError>("einsum: \"", equation, "\" has subscripts for ", terms.size(),
                     " operands, but ", operands.size(), " were given");
  std::vector<int> ellipsis_dims;
  widest = 0;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    check_defined("einsum", operands[i]);
    check_same_dtype("einsum", operands[0], operands[i]);
    check_same_device("einsum", operands[0], operands[i]);
    const int named = static_cast<int>(terms[i].letters.size()), rank = operands[i].dim();
    const bool has_ellipsis = terms[i].ellipsis != std::string::npos;
    if (has_ellipsis ? rank < named : rank != named)
      fail<ShapeError>("einsum: operand ", i, " of shape ", operands[i].shape(), " has ", rank,
                       " dims, but its subscripts in \"", equation, "\" name ", named);
    ellipsis_dims.push_back(rank - named);
    widest = std::max(widest, rank - named);
  }
  std::vector<Labelled> labelled;
  for (std::size_t i = 0; i < terms.size(); ++i)
    labelled.push_back({operands[i], expand_ellipsis(terms[i], ellipsis_dims[i], widest)});
  return labelled;
}

/// The checks of bmm and baddbmm, naming `op`: a [b, n, k] and b [b, k, m]
/// of one dtype and device (matmul would broadcast or promote more).
void check_batched_product(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a);
  check_defined(op, b);
  check_same_dtype(op, a, b);
  check_same_device(op, a, b);
  if (a.dim() != 3 || b.dim() != 3 || a.size(0) != b.size(0) || a.size(2) != b.size(1))
    fail<ShapeError>(op, ": expected batches of matrices [b, n, k] and [b, k, m], got ", a.shape(),
                     " and ", b.shape());
}

}  // namespace

Tensor einsum(const std::string& equation, const std::vector<Tensor>& operands) {
  std::string compact;
  for (char c : equation)
    if (c != ' ') compact += c;
  if (operands.empty()) fail<ValueError>("einsum: expected at least one operand");
  const std::size_t arrow = compact.find("->");
  int widest = 0;
  std::vector<Labelled> inputs = labelled_operands(compact, arrow, operands, widest);
  std::vector<Labels> input_labels;
  for (const auto& x : inputs) input_labels.push_back(x.labels);
  const Labels output = output_labels(compact, arrow, input_labels, widest);
  for (auto& x : inputs) x = take_diagonals(compact, x);
  check_extents(compact, inputs);

  // Before operand i joins, each side keeps what the other side, the output
  // or a later operand needs; the pair's product keeps the latter two.
  Labelled result = inputs[0];
  for (std::size_t i = 1; i < inputs.size(); ++i) {
    Labels needed = output;
    for (std::size_t j = i + 1; j < inputs.size(); ++j)
      needed.insert(needed.end(), inputs[j].labels.begin(), inputs[j].labels.end());
    const Labelled left = keep_only(result, joined(needed, inputs[i].labels));
    result = contract(left, keep_only(inputs[i], joined(needed, left.labels)), needed);
  }
  result = keep_only(result, output);
  Dims order;
  for (Label label : output)
    order.push_back(std::find(result.labels.begin(), result.labels.end(), label) -
                    result.labels.begin());
  return permute(result.tensor, order);
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_batched_product("bmm", a, b);
  return matmul(a, b);
}

Tensor baddbmm(const Tensor& c, const Tensor& a, const Tensor& b, Scalar beta, Scalar alpha) {
  check_defined("baddbmm", c);
  check_batched_product("baddbmm", a, b);
  Tensor product = matmul(a, b);
  check_same_dtype("baddbmm", c, product);
  check_same_device("baddbmm", c, product);
  if (!(broadcast_shapes("baddbmm", c.shape(), product.shape()) == product.shape()))
    fail<ShapeError>("baddbmm: the added tensor of shape ", c.shape(),
                     " does not broadcast to the product's ", product.shape());
  if (alpha.to_double() != 1.0) product = product * alpha;
  // With beta 0, c is not read (its NaNs stay out), yet gets its gradient,
  // zero, as in torch: where() picks the product everywhere.
  if (beta.to_double() == 0.0)
    return where(ones({}, product.options().with_dtype(DType::boolean)), product, c);
  return (beta.to_double() == 1.0 ? c : c * beta) + product;
}

}  // namespace tether
