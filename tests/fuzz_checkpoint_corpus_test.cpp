// Replays the checkpoint fuzzer's findings and corpus (tests/data/checkpoint_corpus/)
// through the file loader. Each file's name starts with what loading it does:
// "unreadable-" (read_safetensors throws CheckpointError), or after parsing,
// "module-", "training-", "both-" or "neither-" (see fuzz/checkpoint_target.h,
// which also checks that a failed load changes nothing).
#include <tether/tether.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "../fuzz/checkpoint_target.h"
#include "corpus_files.h"

using namespace tether;

namespace {

namespace fs = std::filesystem;

const fs::path corpus = testing::source_tree() / "tests" / "data" / "checkpoint_corpus";

std::vector<fs::path> corpus_files() {
  return testing::corpus_files(corpus);
}

/// What loading the file at `path` does, as its name says it.
std::string outcome(fuzz::CheckpointTarget& target, const fs::path& path) {
  nn::Checkpoint checkpoint;
  try {
    checkpoint = nn::read_safetensors(path);
  } catch (const nn::CheckpointError& e) {
    CHECK_THAT(e.what(), Catch::Contains(path.string()));
    return "unreadable";
  }
  return target.load(checkpoint);
}

}  // namespace

TEST_CASE("every file of the checkpoint fuzzing corpus loads as its name says") {
  fuzz::CheckpointTarget target;
  const std::vector<fs::path> files = corpus_files();
  REQUIRE(files.size() >= 20);
  for (const fs::path& file : files) {
    INFO(file.filename().string());
    const std::string name = file.filename();
    CHECK(name.substr(0, name.find('-')) == outcome(target, file));
  }
}

TEST_CASE("the corpus holds valid checkpoints of the fuzz target, not only broken ones") {
  std::vector<std::string> kinds;
  for (const fs::path& file : corpus_files()) {
    const std::string name = file.filename();
    kinds.push_back(name.substr(0, name.find('-')));
  }
  for (const char* kind : {"unreadable", "neither", "module", "training"}) {
    INFO(kind);
    CHECK(std::count(kinds.begin(), kinds.end(), kind) >= 1);
  }
}

TEST_CASE("a header value nested half a million levels deep is a CheckpointError") {
  // Found by reading, not by the fuzzer, whose inputs are too short to nest this
  // deep: quoting such a value in the message recursed once per level and
  // overflowed the stack.
  const std::string nested = std::string(500'000, '[') + std::string(500'000, ']');
  std::string header = R"({"a":{"dtype":)" + nested + R"(,"shape":[],"data_offsets":[0,0]}})";
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(header.size() >> (8 * i) & 0xff);
  CHECK_THROWS_WITH(nn::parse_safetensors(bytes + header, "deep"),
                    Catch::Contains("key \"a\": dtype a nested array is none of tether's"));
}
