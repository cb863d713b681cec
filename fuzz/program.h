// The program fuzzer's interpreter (fuzz/program.cpp), shared by the libFuzzer
// target fuzz/program_fuzz.cpp and by tests/fuzz_program_corpus_test.cpp, which
// replays the regression corpus.
//
// Bytes are read as a short program of tensor ops and constraint calls over
// four tensor registers and two parameter slots, with small shapes (and now
// and then an overflowing one). The rule it checks is the library's promise:
// every op ends in a value or a tether::Error. A crash, a sanitizer report,
// any other exception, or a broken invariant (a Finding: a silent NaN, a
// gradient of the wrong shape, a failed assign that changed the parameter,
// ...) is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <span>
#include <stdexcept>

namespace tether::fuzz {

/// An invariant a program broke, thrown by the interpreter itself.
class Finding : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// What a program did.
struct ProgramRun {
  int instructions = 0;  ///< instructions run
  int errors = 0;        ///< of those, how many ended in a tether::Error
};

/// Runs `program`. An instruction that throws a tether::Error is counted and
/// the program goes on; a broken invariant throws Finding, and any other
/// exception escapes. With `trace`, prints one line per instruction: its
/// operands and what it gave (how to turn a finding into a C++ repro).
ProgramRun run_program(std::span<const std::uint8_t> program, std::ostream* trace = nullptr);

}  // namespace tether::fuzz
