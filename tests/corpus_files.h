// Reading the fuzzers' corpora, for the tests that replay them: where the source tree
// is, the files of a corpus directory, and a file's bytes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

namespace tether::testing {

/// The top of the source tree.
inline std::filesystem::path source_tree() {
  return TETHER_SOURCE_DIR;
}

/// The files in `directory`, sorted by name.
inline std::vector<std::filesystem::path> corpus_files(const std::filesystem::path& directory) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory))
    if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

/// The bytes of the file at `path`.
inline std::vector<std::uint8_t> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace tether::testing
