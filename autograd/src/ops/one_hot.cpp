// one_hot, composed: an index equals its own class and no other.
#include "op_util.h"
#include "tether/grad_mode.h"

namespace tether {

using namespace ops;

Tensor one_hot(const Tensor& indices, std::int64_t num_classes) {
  check_defined("one_hot", indices);
  if (indices.dtype() != DType::i64)
    fail<DTypeError>("one_hot: expected i64 class indices, got ", indices.dtype());
  if (num_classes < -1)
    fail<ValueError>("one_hot: expected num_classes >= 0 or -1, got ", num_classes);
  NoGradGuard no_grad;
  const bool empty = indices.numel() == 0;
  if (num_classes == -1) {
    if (empty)
      fail<ValueError>("one_hot: cannot infer num_classes (-1) from indices without elements");
    num_classes = amax(indices).item<std::int64_t>() + 1;
  }
  if (!empty) {
    const std::int64_t lowest = amin(indices).item<std::int64_t>();
    const std::int64_t highest = amax(indices).item<std::int64_t>();
    if (lowest < 0 || highest >= num_classes)
      fail<ValueError>("one_hot: expected class indices in [0, ", num_classes, "), got ", lowest,
                       " to ", highest);
  }
  const Tensor classes =
      arange(num_classes, TensorOptions(DType::i64).with_device(indices.device()));
  return eq(indices.unsqueeze(-1), classes).to(DType::i64);
}

}  // namespace tether
