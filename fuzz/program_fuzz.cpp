// libFuzzer target for the op and constraint surface: runs each input as a
// short program of tensor ops and constraint calls (program.h). A
// tether::Error is the expected answer to a bad call; anything else is a
// finding: a crash, a sanitizer report, another exception (a Finding when the
// interpreter saw an invariant break: a silent NaN, a gradient of the wrong
// shape, ...), a leak. Run it with scripts/fuzz; TETHER_FUZZ_TRACE=1 prints
// each instruction of an input run by hand (build-fuzz/fuzz/program_fuzz FILE).
#include <cstdint>
#include <cstdlib>
#include <iostream>

#include "program.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::ostream* const trace = std::getenv("TETHER_FUZZ_TRACE") ? &std::cerr : nullptr;
  tether::fuzz::run_program({data, size}, trace);
  return 0;
}
