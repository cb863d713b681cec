// A fresh directory for a test's files, removed with everything in it when the
// test ends. Named after the test file and the process, so tests running in
// parallel (ctest -j) never share one.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

namespace tether::testing {

struct ScratchDirectory {
  std::filesystem::path path;

  explicit ScratchDirectory(const std::string& prefix)
      : path(std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directory(path);
  }
  ~ScratchDirectory() { std::filesystem::remove_all(path); }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;

  /// The path of `name` inside the directory.
  std::string operator/(const std::string& name) const { return path / name; }
  /// The names of the files in it.
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path))
      names.push_back(entry.path().filename());
    return names;
  }
};

}  // namespace tether::testing
