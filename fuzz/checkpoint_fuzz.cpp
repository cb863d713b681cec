// libFuzzer target for the safetensors loader: parses each input as a
// checkpoint file and loads what parses into a small fixed module, optimizer
// and scheduler (checkpoint_target.h). A tether::Error is the expected answer
// to bad bytes; anything else is a finding: a crash, a sanitizer report,
// another exception (which includes a failed load that changed the target),
// an allocation beyond -malloc_limit_mb, a leak. Run it with scripts/fuzz.
#include <cstdint>

#include "checkpoint_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tether;
  static fuzz::CheckpointTarget target;
  nn::Checkpoint checkpoint;
  try {
    checkpoint = nn::parse_safetensors({reinterpret_cast<const char*>(data), size}, "input");
  } catch (const Error&) {
    return 0;
  }
  target.load(checkpoint);
  return 0;
}
