// Replays the program fuzzer's corpus through its interpreter (fuzz/program.h):
// the seeds (fuzz/corpus/program/) and the regression corpus
// (tests/data/program_corpus/): inputs of the fuzzer's own corpus
// ("corpus-<sha1>"), and its findings, each added once its bug was fixed and
// named for it. Every program must run to its end with only values and
// tether::Errors; a crash fails the whole test program, as it fails the fuzzer.
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "../fuzz/program.h"
#include "corpus_files.h"

using namespace tether;

namespace {

namespace fs = std::filesystem;

/// How many programs of `directory` ran, checking each.
int replay(const fs::path& directory) {
  int programs = 0;
  for (const fs::path& file : testing::corpus_files(directory)) {
    INFO(file.filename().string() << " (trace it: TETHER_FUZZ_TRACE=1 build-fuzz/fuzz/program_fuzz "
                                  << file.string() << ")");
    const std::vector<std::uint8_t> program = testing::file_bytes(file);
    CHECK_NOTHROW(fuzz::run_program(program));
    ++programs;
  }
  return programs;
}

std::string trace(const std::vector<std::uint8_t>& program) {
  std::ostringstream os;
  fuzz::run_program(program, &os);
  return os.str();
}

}  // namespace

TEST_CASE(
    "every program of the fuzzing corpus runs to its end with only values or tether::Errors") {
  CHECK(replay(testing::source_tree() / "fuzz" / "corpus" / "program") >= 10);
  CHECK(replay(testing::source_tree() / "tests" / "data" / "program_corpus") >= 20);
}

TEST_CASE("a program's bytes decode to the same instructions in every build") {
  // Header 0 (the whole table), then zeros(rank 2: [2, 3], f32) into r1 and
  // add(r1, r0) into r3.
  CHECK(trace({0, 0, 1, 2, 2, 3, 0, 35, 3, 1, 0}) ==
        "zeros([2, 3], f32) -> r1 = f32[2, 3]\n"
        "add(r1 f32[2, 3], r0 f32[2, 3]) -> r3 = f32[2, 3]\n");
}

TEST_CASE("a program's header byte limits it to the instructions it was written for") {
  // With a table of one instruction, every opcode is zeros.
  CHECK(trace({1, 35, 0, 0, 0}) == "zeros([], f32) -> r0 = f32[]\n");
}

TEST_CASE("a program stops after 64 instructions and when its bytes run out") {
  const std::vector<std::uint8_t> long_program(1000, 1);
  CHECK(fuzz::run_program(long_program).instructions == 64);
  CHECK(fuzz::run_program(std::vector<std::uint8_t>{0}).instructions == 0);
}
