// Checkpoints: the safetensors bytes tether writes, round trips through
// Module::save/load, atomic writes, and hostile files written by hand.
#include <signal.h>
#include <sys/resource.h>

#include <tether/tether.h>
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>

#include "scratch_directory.h"
#include "state_dict_check.h"

using namespace tether;
using Catch::Matchers::Contains;
using testing::snapshot;

namespace {

/// A scratch directory of this file's own.
struct ScratchDirectory : testing::ScratchDirectory {
  ScratchDirectory() : testing::ScratchDirectory("tether_nn_checkpoint_test") {}
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

/// The 8-byte little-endian length and then `header`.
std::string with_length(const std::string& header) {
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>(header.size() >> (8 * i) & 0xff));
  return bytes + header;
}

/// Linear(3, 4) in f64 with a spectrally normalised weight, after a forward
/// pass in training mode has moved u and v.
std::shared_ptr<nn::Linear> spectral_linear(std::uint64_t seed) {
  auto linear = testing::spectral_linear(seed);
  (*linear)(randn({2, 3}, DType::f64));
  return linear;
}

}  // namespace

TEST_CASE("a module saved and loaded into a fresh one computes the same weight") {
  ScratchDirectory directory;
  const auto saved = spectral_linear(1);
  saved->save(directory / "linear.safetensors");

  const auto loaded = spectral_linear(2);
  loaded->load(directory / "linear.safetensors");

  const auto state = loaded->state_dict();
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : state) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"bias", "weight.raw", "weight.u", "weight.v"});
  CHECK(snapshot(state) == snapshot(saved->state_dict()));
  saved->eval();
  loaded->eval();
  CHECK(loaded->weight->value().to_vector<double>() == saved->weight->value().to_vector<double>());
}

TEST_CASE("save_safetensors writes the documented bytes, widest elements first") {
  ScratchDirectory directory;
  const std::string path = directory / "tiny.safetensors";
  nn::save_safetensors(path,
                       {{"a", tensor({1.0, -2.0}, {2})}, {"n", scalar_tensor(7, DType::i64)}});

  // Keys sorted, padded with spaces to 8 bytes; "n" (i64) before "a" (f32).
  const std::string header = R"({"a":{"data_offsets":[8,16],"dtype":"F32","shape":[2]},)"
                             R"("n":{"data_offsets":[0,8],"dtype":"I64","shape":[]}}     )";
  const std::string data(
      "\x07\0\0\0\0\0\0\0"
      "\x00\x00\x80\x3f"
      "\x00\x00\x00\xc0",
      16);
  CHECK(read_bytes(path) == with_length(header) + data);

  const auto state = nn::load_safetensors(path);
  CHECK(state.at("a").to_vector<double>() == std::vector<double>{1.0, -2.0});
  CHECK(state.at("n").dtype() == DType::i64);
  CHECK(state.at("n").dim() == 0);
  CHECK(state.at("n").item<std::int64_t>() == 7);
}

TEST_CASE("loading accepts metadata and empty tensors") {
  ScratchDirectory directory;
  const std::string path = directory / "extra.safetensors";
  write_bytes(path, with_length(R"({"__metadata__":{"format":"pt"},)"
                                R"("e":{"dtype":"F64","shape":[0,3],"data_offsets":[4,4]},)"
                                R"("x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})") +
                        std::string("\0\0\x80\x3f", 4));
  const auto state = nn::load_safetensors(path);
  CHECK(state.at("e").shape() == Shape{0, 3});
  CHECK(state.at("x").item<double>() == 1.0);
  CHECK(state.size() == 2);
}

TEST_CASE("every hostile header is a CheckpointError naming the file, the key and the problem") {
  struct Case {
    std::string header;
    std::size_t data_bytes;
    std::string key;  // empty for a problem of the file as a whole
    std::string problem;
  };
  // A header with the one tensor "w", from its fields' JSON.
  const auto w = [](const std::string& dtype, const std::string& shape,
                    const std::string& offsets) {
    return R"({"w":{"dtype":)" + dtype + R"(,"shape":)" + shape + R"(,"data_offsets":)" + offsets +
           "}}";
  };
  const std::string two_tensors = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  const std::vector<Case> cases = {
      {R"({"w":)", 0, "", "not valid JSON"},
      {"[1, 2]", 0, "", "not a JSON object"},
      {R"({"w": 3})", 0, "w", "not an object"},
      {R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4, "w", "no \"dtype\""},
      {R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4, "w", "no \"shape\""},
      {R"({"w":{"dtype":"F32","shape":[1]}})", 4, "w", "no \"data_offsets\""},
      {w(R"("F8_E4M3")", "[1]", "[0,1]"), 1, "w", "dtype \"F8_E4M3\" is none of"},
      {w(R"("F16")", "[3]", "[0,4]"), 4, "w", "hold 4 bytes, shape [3] of F16 needs 6"},
      {w("7", "[1]", "[0,4]"), 4, "w", "dtype 7 is none of"},
      {w(R"("F32")", "[2,-3]", "[0,0]"), 0, "w", "[2,-3] has an extent that is not a non-negative"},
      {w(R"("F32")", "[1.5]", "[0,0]"), 0, "w", "[1.5] has an extent that is not a non-negative"},
      {w(R"("F32")", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), 4, "w", "at most 8 extents"},
      {w(R"("F64")", "[4294967296,4294967296]", "[0,0]"), 0, "w", "more bytes than a file can"},
      {w(R"("F32")", "[0,4294967296,4294967296]", "[0,0]"), 0, "w", "more bytes than a file can"},
      {w(R"("F32")", "[1]", "[4,0]"), 4, "w", "not two ascending"},
      {w(R"("F32")", "[1]", "[0]"), 4, "w", "not two ascending"},
      {w(R"("F32")", "[1]", "[-4,0]"), 4, "w", "not two ascending"},
      {w(R"("F32")", "[1]", R"([0,"4"])"), 4, "w", "not two ascending"},
      {w(R"("F32")", "[1000000000]", "[0,4000000000]"), 4, "w", "past the data area of 4 bytes"},
      {w(R"("F32")", "[2]", "[0,4]"), 4, "w", "hold 4 bytes, shape [2] of F32 needs 8"},
      {two_tensors, 8, "b", "[4, 8] overlap key \"a\"'s [0, 8]"},
      {w(R"("F32")", "[1]", "[4,8]"), 8, "", "bytes [0, 4) of the data area belong to no tensor"},
      {w(R"("F32")", "[1]", "[0,4]"), 8, "", "4 bytes after the last tensor"},
      {R"({"__metadata__":{"format":1}})", 0, "__metadata__", "not a map from strings"},
  };
  ScratchDirectory directory;
  const std::string path = directory / "hostile.safetensors";
  for (const Case& c : cases) {
    INFO(c.header);
    write_bytes(path, with_length(c.header) + std::string(c.data_bytes, '\0'));
    CHECK_THROWS_AS(nn::load_safetensors(path), nn::CheckpointError);
    const std::string where = c.key.empty() ? "" : "key \"" + c.key + "\": ";
    CHECK_THROWS_WITH(
        nn::load_safetensors(path),
        Contains("load_safetensors(\"" + path + "\"): " + where) && Contains(c.problem));
  }
}

TEST_CASE("a header length beyond the file or the limit is refused before it is read") {
  ScratchDirectory directory;
  const std::string path = directory / "long.safetensors";
  const std::string huge("\xff\xff\xff\xff\xff\xff\xff\x7f", 8);
  write_bytes(path, huge + "{}");
  CHECK_THROWS_WITH(nn::load_safetensors(path), Contains("exceeds the limit"));
  write_bytes(path, std::string("\x64\0\0\0\0\0\0\0", 8) + "{}");
  CHECK_THROWS_WITH(nn::load_safetensors(path),
                    Contains("header length 100 reaches past the end of the file (10 bytes)"));
  write_bytes(path, std::string("\x02\0\0", 3));
  CHECK_THROWS_WITH(nn::load_safetensors(path), Contains("3 bytes, fewer than the 8"));
  CHECK_THROWS_WITH(nn::load_safetensors(directory / "missing.safetensors"),
                    Contains("cannot open: No such file or directory"));
  CHECK_THROWS_WITH(nn::load_safetensors(directory.path), Contains("not a regular file"));
}

TEST_CASE("every truncation of a checkpoint is a CheckpointError") {
  ScratchDirectory directory;
  const std::string path = directory / "whole.safetensors";
  spectral_linear(1)->save(path);
  const std::string bytes = read_bytes(path);
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    INFO(length);
    write_bytes(path, bytes.substr(0, length));
    CHECK_THROWS_AS(nn::load_safetensors(path), nn::CheckpointError);
  }
}

TEST_CASE("a module that fails to load is unchanged") {
  ScratchDirectory directory;
  const auto module = spectral_linear(1);
  const auto before = snapshot(module->state_dict());

  write_bytes(directory / "corrupt.safetensors", with_length("{"));
  CHECK_THROWS_AS(module->load(directory / "corrupt.safetensors"), nn::CheckpointError);
  nn::save_safetensors(directory / "other.safetensors", {{"bias", zeros({4}, DType::f64)}});
  CHECK_THROWS_AS(module->load(directory / "other.safetensors"), ValueError);
  CHECK(snapshot(module->state_dict()) == before);
}

TEST_CASE("a save that fails half-way leaves the previous checkpoint and no temporary file") {
  ScratchDirectory directory;
  const std::string path = directory / "model.safetensors";
  const auto old = spectral_linear(1);
  old->save(path);

  // The kernel refuses writes past RLIMIT_FSIZE (with EFBIG once SIGXFSZ is
  // ignored): a disk that fills up in the middle of the tensor data.
  const auto big = std::make_shared<nn::Linear>(64, 64);
  struct rlimit saved_limit;
  ::getrlimit(RLIMIT_FSIZE, &saved_limit);
  const auto saved_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = saved_limit;
  small.rlim_cur = 4096;
  ::setrlimit(RLIMIT_FSIZE, &small);
  CHECK_THROWS_WITH(big->save(path), Contains("File too large"));
  ::setrlimit(RLIMIT_FSIZE, &saved_limit);
  ::signal(SIGXFSZ, saved_handler);

  CHECK(directory.files() == std::vector<std::string>{"model.safetensors"});
  const auto reloaded = spectral_linear(2);
  reloaded->load(path);
  CHECK(snapshot(reloaded->state_dict()) == snapshot(old->state_dict()));
}

TEST_CASE("a save into a missing directory is a CheckpointError and creates nothing") {
  ScratchDirectory directory;
  CHECK_THROWS_AS(spectral_linear(1)->save(directory / "missing/model.safetensors"),
                  nn::CheckpointError);
  CHECK(directory.files().empty());
}

TEST_CASE("a save replaces the previous checkpoint") {
  ScratchDirectory directory;
  const std::string path = directory / "model.safetensors";
  spectral_linear(1)->save(path);
  const auto newer = spectral_linear(2);
  newer->save(path);
  CHECK(snapshot(nn::load_safetensors(path)) == snapshot(newer->state_dict()));
  CHECK(directory.files() == std::vector<std::string>{"model.safetensors"});
}
