#include "tether/nn/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace tether::nn {

namespace {

using json = nlohmann::json;

// Tensor bytes go to and from the file as they are in memory.
static_assert(std::endian::native == std::endian::little,
              "the safetensors format is little-endian, and so must the host be");

/// The header length field that precedes the JSON.
constexpr std::uint64_t kLengthBytes = 8;

/// A 16-bit IEEE-style binary format: f16 (5 exponent bits, 10 fraction
/// bits) or bf16 (8 and 7).
struct HalfLayout {
  int fraction_bits;
  int bias;

  /// The exponent field of inf and NaN: all ones.
  constexpr int special_exponent() const { return (1 << (15 - fraction_bits)) - 1; }
};
constexpr HalfLayout kF16{10, 15};
constexpr HalfLayout kBF16{7, 127};

/// The value of the half `bits`, exactly (every half value is an f32 value).
float half_value(std::uint16_t bits, HalfLayout layout) {
  const int exponent_field = bits >> layout.fraction_bits & layout.special_exponent();
  const int fraction = bits & ((1 << layout.fraction_bits) - 1);
  float magnitude;
  if (exponent_field == layout.special_exponent())
    magnitude =
        fraction ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  else if (exponent_field == 0)  // subnormal: no implicit leading 1
    magnitude = std::ldexp(static_cast<float>(fraction), 1 - layout.bias - layout.fraction_bits);
  else
    magnitude = std::ldexp(static_cast<float>(fraction + (1 << layout.fraction_bits)),
                           exponent_field - layout.bias - layout.fraction_bits);
  return bits & 0x8000 ? -magnitude : magnitude;
}

/// `value` rounded to the nearest half, ties to even, in one rounding from
/// the exact value (an f64 rounded through f32 could round twice).
std::uint16_t round_to_half(double value, HalfLayout layout) {
  const std::uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  const auto infinity =
      static_cast<std::uint16_t>(sign | layout.special_exponent() << layout.fraction_bits);
  if (std::isnan(value))  // quiet, with the sign kept
    return static_cast<std::uint16_t>(infinity | 1 << (layout.fraction_bits - 1));
  const double magnitude = std::fabs(value);
  if (magnitude == 0.0) return sign;
  if (std::isinf(magnitude)) return infinity;
  // The spacing of halves around `magnitude` (subnormals share the smallest
  // normal exponent's), so that rounding to a multiple of it is the rounding
  // to a half; nearbyint rounds ties to even in the default rounding mode.
  const int min_exponent = 1 - layout.bias;
  const int exponent = std::max(std::ilogb(magnitude), min_exponent);
  const double units =
      std::nearbyint(std::ldexp(magnitude, layout.fraction_bits - exponent));  // <= 2^(f+1)
  if (units == 0.0) return sign;
  // Rounding up may carry into the next binade.
  const int carried = units >= std::ldexp(1.0, layout.fraction_bits + 1) ? 1 : 0;
  if (exponent + carried > layout.bias) return infinity;
  const auto significand = static_cast<std::uint32_t>(units) >> carried;
  const bool normal = significand >= (1u << layout.fraction_bits);
  const int exponent_field = normal ? exponent + carried + layout.bias : 0;
  return static_cast<std::uint16_t>(sign | exponent_field << layout.fraction_bits |
                                    (significand & ((1u << layout.fraction_bits) - 1)));
}

/// A dtype of the format: how its elements are stored, and the tether dtype
/// they are read into.
struct Format {
  std::string_view name;
  DType dtype;
  std::optional<HalfLayout> half;  ///< 2-byte elements read as f32

  std::uint64_t stored_size() const { return half ? 2 : element_size(dtype); }
};

constexpr Format kFormats[] = {
    {"F32", DType::f32, std::nullopt}, {"F64", DType::f64, std::nullopt},
    {"I64", DType::i64, std::nullopt}, {"BOOL", DType::boolean, std::nullopt},
    {"F16", DType::f32, kF16},         {"BF16", DType::f32, kBF16}};

/// How a tensor of `dtype` is written.
const Format& format_of(DType dtype, FloatStorage floats) {
  const std::string_view name = dtype == DType::boolean        ? "BOOL"
                                : dtype == DType::i64          ? "I64"
                                : floats == FloatStorage::f16  ? "F16"
                                : floats == FloatStorage::bf16 ? "BF16"
                                : dtype == DType::f32          ? "F32"
                                                               : "F64";
  return *std::find_if(std::begin(kFormats), std::end(kFormats),
                       [name](const Format& format) { return format.name == name; });
}

template <class... Parts>
[[noreturn]] void fail_on(std::string_view function, const std::string& path,
                          const Parts&... parts) {
  fail<CheckpointError>(function, "(\"", path, "\"): ", parts...);
}

template <class... Parts>
[[noreturn]] void bad_file(const std::string& path, const Parts&... parts) {
  fail_on("load_safetensors", path, parts...);
}

template <class... Parts>
[[noreturn]] void bad_key(const std::string& path, const std::string& key, const Parts&... parts) {
  bad_file(path, "key \"", key, "\": ", parts...);
}

/// A new file beside `target` that replaces it on commit(). Destroyed before
/// that, it removes itself, so a failed save leaves `target` as it was.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& target) : target_(target) {
    // O_EXCL with a name no other writer uses: the process id, and a counter
    // for the threads of this one (and for a stale file a crash left behind).
    static std::atomic<unsigned> counter{0};
    do {
      temporary_ = target + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
      fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    } while (fd_ < 0 && errno == EEXIST);
    if (fd_ < 0) fail_errno("cannot create ", temporary_);
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temporary_.c_str());
  }

  void write(const void* data, std::size_t size) {
    const char* bytes = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t written = ::write(fd_, bytes, size);
      if (written < 0 && errno == EINTR) continue;
      if (written < 0) fail_errno("writing ", temporary_);
      bytes += written;
      size -= static_cast<std::size_t>(written);
    }
  }

  void commit() {
    // The data must be on disk before the rename is: otherwise a crash could
    // leave `target` naming a file whose blocks were never written.
    if (::fsync(fd_) != 0) fail_errno("flushing ", temporary_);
    if (::close(std::exchange(fd_, -1)) != 0) fail_errno("closing ", temporary_);
    if (::rename(temporary_.c_str(), target_.c_str()) != 0)
      fail_errno("renaming ", temporary_, " to ", target_);
    committed_ = true;
    // Makes the rename itself durable. Should this fail, either the old or the
    // new file is there after a crash, both complete, so it is not an error.
    const std::string directory = std::filesystem::path(target_).parent_path();
    const int directory_fd = ::open(directory.empty() ? "." : directory.c_str(), O_RDONLY);
    if (directory_fd >= 0) {
      ::fsync(directory_fd);
      ::close(directory_fd);
    }
  }

 private:
  template <class... Parts>
  [[noreturn]] void fail_errno(const Parts&... parts) {
    const int error = errno;
    fail_on("save_safetensors", target_, parts..., ": ", std::strerror(error));
  }

  std::string target_;
  std::string temporary_;
  int fd_ = -1;
  bool committed_ = false;
};

/// `value` as JSON text for a message. A hostile header may nest a million
/// levels deep, and dump() recurses once per level: so nested arrays and
/// objects are only named, and long text is cut.
std::string quoted(const json& value) {
  constexpr std::size_t kMaxQuoted = 100;
  const bool flat = std::all_of(value.begin(), value.end(),
                                [](const json& element) { return element.is_primitive(); });
  if (!flat) return std::string("a nested ") + value.type_name();
  std::string text = value.dump();
  if (text.size() > kMaxQuoted) text = text.substr(0, kMaxQuoted) + "...";
  return text;
}

/// One tensor's header entry, checked against the data area.
struct Entry {
  std::string key;
  Format format;
  Shape shape;
  std::uint64_t begin;
  std::uint64_t end;
};

const json& field(const std::string& path, const std::string& key, const json& entry,
                  const char* name) {
  const auto it = entry.find(name);
  if (it == entry.end()) bad_key(path, key, "has no \"", name, "\"");
  return *it;
}

const Format& parse_dtype(const std::string& path, const std::string& key, const json& dtype,
                          const ReadOptions& options) {
  for (const Format& format : kFormats) {
    if (!dtype.is_string() || dtype.get_ref<const std::string&>() != format.name) continue;
    if (format.half && options.half == HalfPrecision::refuse)
      bad_key(path, key, "dtype ", quoted(dtype),
              " is half precision, which HalfPrecision::refuse refuses (HalfPrecision::to_f32 "
              "reads it as f32)");
    return format;
  }
  bad_key(
      path, key, "dtype ", quoted(dtype),
      " is none of tether's \"F32\", \"F64\", \"I64\", \"BOOL\" nor the half-precision \"F16\", "
      "\"BF16\"");
}

/// Throws unless every byte of the BOOL tensor `mask` is 0 or 1: any other
/// byte is no bool value (reading it as one would be undefined).
void check_truth_values(const std::string& path, const std::string& key, const Tensor& mask) {
  const auto* bytes = static_cast<const unsigned char*>(mask.raw_data());
  const auto* end = bytes + mask.numel();
  const auto* bad = std::find_if(bytes, end, [](unsigned char b) { return b > 1; });
  if (bad != end)
    bad_key(path, key, "BOOL element ", bad - bytes, " holds the byte ", int{*bad},
            ", which is neither 0 nor 1");
}

/// The shape, and the byte count it needs, which must fit into the data area.
std::pair<Shape, std::uint64_t> parse_shape(const std::string& path, const std::string& key,
                                            const json& extents, const Format& format) {
  if (!extents.is_array() || extents.size() > Shape::kMaxDims)
    bad_key(path, key, "shape ", quoted(extents), " is not a list of at most ", Shape::kMaxDims,
            " extents");
  Shape shape;
  // Strides are products of the nonzero extents, so those must not overflow
  // even when a zero extent makes the tensor empty.
  std::uint64_t capacity =
      std::max<std::uint64_t>(format.stored_size(), element_size(format.dtype));
  constexpr auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  for (const json& extent : extents) {
    if (!extent.is_number_unsigned())
      bad_key(path, key, "shape ", quoted(extents),
              " has an extent that is not a non-negative integer");
    const auto n = extent.get<std::uint64_t>();
    if (n > 1 && capacity > limit / n)
      bad_key(path, key, "shape ", quoted(extents), " holds more bytes than a file can");
    capacity *= std::max<std::uint64_t>(n, 1);
    shape.push_back(static_cast<std::int64_t>(n));
  }
  return {shape, static_cast<std::uint64_t>(shape.numel()) * format.stored_size()};
}

Entry parse_entry(const std::string& path, const std::string& key, const json& entry,
                  std::uint64_t data_size, const ReadOptions& options) {
  if (!entry.is_object()) bad_key(path, key, "entry ", quoted(entry), " is not an object");
  const Format& format = parse_dtype(path, key, field(path, key, entry, "dtype"), options);
  const auto [shape, bytes] = parse_shape(path, key, field(path, key, entry, "shape"), format);
  const json& offsets = field(path, key, entry, "data_offsets");
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned() || offsets[0] > offsets[1])
    bad_key(path, key, "data_offsets ", quoted(offsets),
            " are not two ascending non-negative integers [begin, end]");
  const auto begin = offsets[0].get<std::uint64_t>();
  const auto end = offsets[1].get<std::uint64_t>();
  if (end > data_size)
    bad_key(path, key, "data_offsets ", quoted(offsets), " reach past the data area of ", data_size,
            " bytes");
  if (end - begin != bytes)
    bad_key(path, key, "data_offsets ", quoted(offsets), " hold ", end - begin, " bytes, shape ",
            shape, " of ", format.name, " needs ", bytes);
  return {key, format, shape, begin, end};
}

/// The entries of a parsed header, sorted by offset, after checking that they
/// tile the data area as the format requires: a hole could hide data (a
/// duplicate key the JSON parser dropped, or a second file in a polyglot), an
/// overlap would alias two tensors. The metadata goes to `metadata`.
std::vector<Entry> parse_header(const std::string& path, const json& header,
                                std::uint64_t data_size, const ReadOptions& options,
                                Metadata& metadata) {
  if (!header.is_object()) bad_file(path, "the header is not a JSON object");
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key != "__metadata__") {
      entries.push_back(parse_entry(path, key, value, data_size, options));
      continue;
    }
    if (!value.is_object() ||
        std::any_of(value.begin(), value.end(), [](const json& v) { return !v.is_string(); }))
      bad_key(path, key, "is not a map from strings to strings");
    metadata = value.get<Metadata>();
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
  });
  const Entry* previous = nullptr;
  for (const Entry& entry : entries) {
    const std::uint64_t covered = previous ? previous->end : 0;
    if (entry.begin < covered)
      bad_key(path, entry.key, "data_offsets [", entry.begin, ", ", entry.end, "] overlap key \"",
              previous->key, "\"'s [", previous->begin, ", ", previous->end, "]");
    if (entry.begin > covered)
      bad_file(path, "bytes [", covered, ", ", entry.begin,
               ") of the data area belong to no tensor");
    previous = &entry;
  }
  const std::uint64_t covered = previous ? previous->end : 0;
  if (covered != data_size)
    bad_file(path, "the data area has ", data_size - covered, " bytes after the last tensor");
  return entries;
}

/// Widens the halves read into the front of f32 `tensor`'s buffer to fill
/// it. Back to front, so that each half is read before its f32 overwrites it:
/// f32 i starts at byte 4i, past the halves before i, which end by byte 2i.
void widen_in_place(Tensor& tensor, HalfLayout layout) {
  auto* bytes = static_cast<unsigned char*>(tensor.raw_data());
  for (std::int64_t i = tensor.numel() - 1; i >= 0; --i) {
    std::uint16_t bits;
    std::memcpy(&bits, bytes + 2 * i, sizeof bits);
    const float value = half_value(bits, layout);
    std::memcpy(bytes + 4 * i, &value, sizeof value);
  }
}

/// `data`'s elements (contiguous, f32 or f64) as halves.
std::vector<std::uint16_t> as_halves(const Tensor& data, HalfLayout layout) {
  const Tensor wide = data.to(DType::f64);  // exact for f32
  const double* values = wide.data_ptr<double>();
  std::vector<std::uint16_t> halves(static_cast<std::size_t>(data.numel()));
  for (std::size_t i = 0; i < halves.size(); ++i) halves[i] = round_to_half(values[i], layout);
  return halves;
}

/// The checkpoint in a file of `size` bytes whose bytes `read(into, count)`
/// delivers front to back: one parser for files and for bytes in memory.
template <class Read>
Checkpoint parse(const std::string& path, std::uint64_t size, const ReadOptions& options,
                 const Read& read) {
  if (size < kLengthBytes)
    bad_file(path, "the file has ", size, " bytes, fewer than the 8 of the header length");
  std::uint64_t header_length = 0;
  read(&header_length, sizeof header_length);
  if (header_length > kMaxSafetensorsHeader)
    bad_file(path, "header length ", header_length, " exceeds the limit of ",
             kMaxSafetensorsHeader);
  if (header_length > size - kLengthBytes)
    bad_file(path, "header length ", header_length, " reaches past the end of the file (", size,
             " bytes)");
  std::string text(header_length, '\0');
  read(text.data(), header_length);
  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
    bad_file(path, "the header is not valid JSON: ", e.what());
  }

  // Reading the tensors in offset order reads the data area front to back.
  Checkpoint checkpoint;
  for (const Entry& entry : parse_header(path, header, size - kLengthBytes - header_length, options,
                                         checkpoint.metadata)) {
    Tensor tensor = Tensor::empty(entry.shape, entry.format.dtype);
    read(tensor.raw_data(), entry.end - entry.begin);
    if (entry.format.half) widen_in_place(tensor, *entry.format.half);
    if (entry.format.dtype == DType::boolean) check_truth_values(path, entry.key, tensor);
    checkpoint.tensors.emplace(entry.key, std::move(tensor));
  }
  return checkpoint;
}

}  // namespace

void save_safetensors(const std::string& path, const StateDict& state, const Metadata& metadata,
                      const WriteOptions& options) {
  struct Stored {
    std::string key;
    Tensor tensor;
    const Format* format;
  };
  std::vector<Stored> entries;
  for (const auto& [key, tensor] : state) {
    if (!tensor.defined()) fail_on("save_safetensors", path, "key \"", key, "\" is undefined");
    if (key == "__metadata__")
      fail_on("save_safetensors", path, "key \"__metadata__\" is the format's, not a tensor's");
    entries.push_back({key, tensor, &format_of(tensor.dtype(), options.floats)});
  }
  // Widest elements first: as the header is padded to 8 bytes, every tensor
  // then starts at a multiple of its element size, and a reader that maps the
  // file can use the data in place.
  std::stable_sort(entries.begin(), entries.end(), [](const Stored& a, const Stored& b) {
    return a.format->stored_size() > b.format->stored_size();
  });

  json header = json::object();
  std::uint64_t offset = 0;
  for (const Stored& entry : entries) {
    const std::uint64_t bytes = entry.tensor.numel() * entry.format->stored_size();
    header[entry.key] = {{"dtype", entry.format->name},
                         {"shape", entry.tensor.shape().to_vector()},
                         {"data_offsets", json::array({offset, offset + bytes})}};
    offset += bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    fail_on("save_safetensors", path, "a key or metadata value is not valid UTF-8: ", e.what());
  }
  text.resize((text.size() + 7) / 8 * 8, ' ');  // JSON may end in white space

  AtomicFile file(path);
  const std::uint64_t length = text.size();
  file.write(&length, sizeof length);
  file.write(text.data(), text.size());
  for (const Stored& entry : entries) {
    // One CPU copy at a time, so a model on a GPU needs no second copy in host memory.
    const Tensor data = entry.tensor.to(Device::cpu()).contiguous();
    if (entry.format->half) {
      const std::vector<std::uint16_t> halves = as_halves(data, *entry.format->half);
      file.write(halves.data(), halves.size() * sizeof(std::uint16_t));
    } else {
      file.write(data.raw_data(), data.numel() * element_size(data.dtype()));
    }
  }
  file.commit();
}

Checkpoint read_safetensors(const std::string& path, const ReadOptions& options) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error) bad_file(path, "cannot open: ", error.message());
  if (!std::filesystem::is_regular_file(status)) bad_file(path, "not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) bad_file(path, "cannot open: ", std::strerror(errno));
  const std::uint64_t file_size = std::filesystem::file_size(path, error);
  if (error) bad_file(path, "cannot open: ", error.message());
  return parse(path, file_size, options, [&](void* into, std::uint64_t count) {
    in.read(static_cast<char*>(into), static_cast<std::streamsize>(count));
    if (!in) bad_file(path, "the file ended early; did it change while being read?");
  });
}

StateDict load_safetensors(const std::string& path, const ReadOptions& options) {
  return read_safetensors(path, options).tensors;
}

Checkpoint parse_safetensors(std::string_view bytes, const std::string& name,
                             const ReadOptions& options) {
  // parse() checks every count against bytes.size() before it asks for them.
  std::size_t position = 0;
  return parse(name, bytes.size(), options, [&](void* into, std::uint64_t count) {
    if (count == 0) return;  // an empty tensor may have no buffer to copy into
    std::memcpy(into, bytes.data() + position, count);
    position += count;
  });
}

}  // namespace tether::nn
