// The norm of each slice along a dim, shared by weight_norm and the norm
// projections (project_max_norm, project_unit_norm).
#pragma once

#include "tether/ops.h"

namespace tether::detail {

/// The L2 norm of each slice of `t` along `dim` (over all its other dims),
/// keeping dims for broadcasting: |t| for a 1-d t. Throws naming `op` for a
/// dim out of range.
inline Tensor slice_norms(const char* op, const Tensor& t, std::int64_t dim) {
  const int d = wrap_dim(op, dim, t.dim());
  Dims others;
  for (int i = 0; i < t.dim(); ++i)
    if (i != d) others.push_back(i);
  return others.empty() ? abs(t) : norm(t, others, true);
}

}  // namespace tether::detail
