// The two maps that saving and restoring are made of, shared by the layers
// that fill them (a module's tensors, an optimizer's state and options, a
// scheduler's epoch) and by the checkpoint files that hold them all.
#pragma once

#include <map>
#include <string>

#include "tether/tensor.h"

namespace tether {

/// Tensors by dotted name: Module::state_dict(), Optimizer::state_dict(), a
/// safetensors file's tensors.
using StateDict = std::map<std::string, Tensor>;

/// Text by name, for what is not a tensor (an optimizer's options, a
/// scheduler's epoch): a safetensors file's "__metadata__".
using Metadata = std::map<std::string, std::string>;

}  // namespace tether
