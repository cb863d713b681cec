// Checkpoints in the safetensors format, so that a file tether writes opens in
// PyTorch (safetensors.torch.load_file), numpy or any other safetensors reader.
//
//   model.save("model.safetensors");   // save_safetensors(path, model.state_dict())
//   fresh.load("model.safetensors");   // fresh.load_state_dict(load_safetensors(path))
//
// Module::save and load also take PyTorch's parametrization key names
// (nn::Naming::pytorch, tether/nn/module.h) and half precision (below).
//
// The layout, all integers little-endian:
//
//   8 bytes   N, the header's length
//   N bytes   JSON: {"fc1.weight.raw": {"dtype": "F32", "shape": [16, 4],
//                                       "data_offsets": [0, 256]}, ...,
//                    "__metadata__": {"string": "string", ...}}   (optional)
//   the rest  the data area: each tensor's elements in row-major order at
//             [begin, end) counted from the end of the header. The tensors'
//             ranges tile the data area exactly: no gaps, no overlaps, nothing after.
//
// Half precision: tether has no f16 or bf16 dtype, so "F16" and "BF16" tensors
// are read as f32 (exactly: every half value is an f32 value) unless
// ReadOptions::half refuses them, and f32/f64 tensors are written as "F16" or
// "BF16" when WriteOptions::floats asks (rounded to nearest even, as torch's
// .half() and .bfloat16()).
//
// A file is read as hostile: every length and offset is checked against the
// file before anything is allocated, so memory use never exceeds the file's
// size (twice that for half-precision tensors, which widen to f32).
// fuzz/checkpoint_fuzz.cpp feeds parse_safetensors random bytes under the
// sanitizers (scripts/fuzz); what it found is kept in tests/data/checkpoint_corpus/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tether/error.h"
#include "tether/state_dict.h"

namespace tether::nn {

/// A checkpoint that cannot be written or read, or whose content is not a valid
/// safetensors file. The message names the file, the key when one is at fault,
/// and the problem.
class CheckpointError : public ValueError {
 public:
  using ValueError::ValueError;
};

/// Headers longer than this are refused before they are read (the reference
/// implementation's limit).
inline constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;

/// Everything a safetensors file holds: its tensors and its "__metadata__"
/// (tether/train/checkpoint.h keeps an optimizer's and a scheduler's there).
struct Checkpoint {
  StateDict tensors;
  Metadata metadata;
};

/// What reading does with "F16" and "BF16" tensors.
enum class HalfPrecision {
  to_f32,  ///< read them as f32 tensors, exactly
  refuse,  ///< a CheckpointError naming the key, for callers that must not widen
};

struct ReadOptions {
  HalfPrecision half = HalfPrecision::to_f32;
};

/// How save_safetensors stores floating-point (f32 and f64) tensors; i64 is
/// always "I64", bool "BOOL".
enum class FloatStorage {
  as_is,  ///< f32 as "F32", f64 as "F64"
  /// "F16": rounded to nearest even; magnitudes from 65520 up become inf, up to
  /// 2^-25 zero (keeping the sign); NaN stays NaN. As torch's .half() for f32;
  /// f64 is rounded once from its exact value, where torch rounds through f32
  /// (which can differ in the last bit on near-ties).
  f16,
  /// "BF16": f32's exponent range with 8 significant bits, rounded to nearest
  /// even; NaN stays NaN. As torch's .bfloat16() (f64 likewise rounded once).
  bf16,
};

struct WriteOptions {
  FloatStorage floats = FloatStorage::as_is;
};

/// Writes `state` (f32 as "F32", f64 as "F64", or both as options.floats says;
/// i64 as "I64", bool as "BOOL"; CUDA tensors as CPU copies) and `metadata` (as "__metadata__",
/// left out when empty) to `path` atomically: the bytes go to a temporary file in the same
/// directory, which is flushed to disk and then renamed over `path`. On any error (CheckpointError:
/// an undefined tensor, a key "__metadata__" or one that is not UTF-8, an I/O error) `path` keeps
/// its previous content and no temporary file is left behind.
void save_safetensors(const std::string& path, const StateDict& state,
                      const Metadata& metadata = {}, const WriteOptions& options = {});

/// Reads every tensor of the safetensors file at `path` into CPU tensors, and
/// its metadata ("F16" and "BF16" as f32, as options.half says). Throws
/// CheckpointError for an unreadable, truncated or malformed file, for dtypes
/// other than "F32", "F64", "I64", "BOOL", "F16" and "BF16" (and the half ones
/// under HalfPrecision::refuse), for a "BOOL" byte other than 0 and 1, and for "__metadata__" that
/// is not a map from strings to strings.
Checkpoint read_safetensors(const std::string& path, const ReadOptions& options = {});

/// read_safetensors(path, options).tensors.
StateDict load_safetensors(const std::string& path, const ReadOptions& options = {});

/// read_safetensors of a file's bytes in memory, with the same checks and
/// errors; `name` stands for the file in messages.
Checkpoint parse_safetensors(std::string_view bytes, const std::string& name,
                             const ReadOptions& options = {});

}  // namespace tether::nn
