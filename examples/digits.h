// The UCI handwritten digits (examples/data/digits.csv.gz; attribution in
// examples/data/README.md): 1,797 8x8 grey-level images of the digits 0..9.
// Shared by the examples, the benchmarks and the tests; link tether_digits.
//
//   const auto [images, labels] = tether::examples::load_digits();
//   const auto model = tether::examples::make_digits_cnn();  // examples/digits.cpp's CNN
#pragma once

#include <tether/tether.h>
#include <zlib.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace tether::examples {

struct Digits {
  Tensor images;  ///< [1797, 64] f32, row-major pixels scaled from 0..16 to [0, 1]
  Tensor labels;  ///< [1797] i64, 0..9
};

/// Reads the gzipped CSV at `path` (one image a line: 64 pixel values, then
/// the label). Throws ValueError naming the file (and line) when it cannot be
/// opened or a line is malformed.
inline Digits load_digits(const std::string& path = TETHER_DIGITS_PATH) {
  constexpr int kPixels = 64;
  const std::unique_ptr<gzFile_s, decltype(&gzclose)> file(gzopen(path.c_str(), "rb"), &gzclose);
  if (!file) fail<ValueError>("load_digits: cannot open ", path);
  std::vector<double> pixels, labels;
  char line[1024];  // a line is at most 64 * 3 + 2 characters
  for (int row = 1; gzgets(file.get(), line, sizeof line); ++row) {
    const char* cursor = line;
    for (int column = 0; column <= kPixels; ++column) {
      char* end = nullptr;
      const long value = std::strtol(cursor, &end, 10);
      const bool is_label = column == kPixels;
      const bool terminated = is_label ? (*end == '\n' || *end == '\0') : *end == ',';
      if (end == cursor || !terminated || value < 0 || value > (is_label ? 9 : 16))
        fail<ValueError>("load_digits: ", path, " line ", row, ": expected 64 pixels in 0..16 ",
                         "and a label in 0..9, comma-separated");
      (is_label ? labels : pixels).push_back(static_cast<double>(value));
      cursor = end + 1;
    }
  }
  const auto rows = static_cast<std::int64_t>(labels.size());
  return {tensor(pixels, {rows, kPixels}) / 16.0, tensor(labels, {rows}, DType::i64)};
}

/// A 3x3 convolution keeping the image size, its weight spectrally normalised
/// as an [out, in * 3 * 3] matrix (dim 0, as torch.nn.utils.spectral_norm for
/// a Conv2d).
inline std::shared_ptr<nn::Conv2d> normalised_conv(std::int64_t in, std::int64_t out) {
  auto conv = std::make_shared<nn::Conv2d>(in, out, 3, 1, 1);
  conv->weight = spectrally_normalize(conv->weight, 0);
  return conv;
}

/// The digits CNN of examples/digits.cpp (and bench/ddp_step), images
/// [N, 1, 8, 8] -> logits [N, 10]: two convolutions at 8x8, pooling to 4x4, a
/// third convolution, pooling to 2x2, then a linear layer.
inline std::shared_ptr<nn::Sequential> make_digits_cnn() {
  return std::make_shared<nn::Sequential>(nn::Sequential::Layers{
      normalised_conv(1, 32), std::make_shared<nn::BatchNorm2d>(32), std::make_shared<nn::ReLU>(),
      normalised_conv(32, 32), std::make_shared<nn::BatchNorm2d>(32), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::MaxPool2d>(2), normalised_conv(32, 64),
      std::make_shared<nn::BatchNorm2d>(64), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Dropout>(0.25), std::make_shared<nn::Linear>(64 * 2 * 2, 10)});
}

}  // namespace tether::examples
