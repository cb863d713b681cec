// libtorch twin of bench/conv_step.cpp: one Adam training step (lr 3e-3) of
// the digits CNN of examples/digits.h, batch 64, in training mode:
//
//   conv 3x3 1->32 pad 1 (spectrally normalised), batch norm, relu,
//   conv 3x3 32->32 pad 1 (sn), batch norm, relu, max pool 2,
//   conv 3x3 32->64 pad 1 (sn), batch norm, relu, max pool 2,
//   flatten, dropout 0.25, linear 256->10; cross entropy.
//
// The C++ frontend has no spectral_norm, so each convolution divides its
// weight by sigma = u . (W v) of W as an [out, in * 3 * 3] matrix after one
// power iteration (no grad) per training forward, as tether's
// spectrally_normalize(weight, 0) and torch.nn.utils.spectral_norm do.
//
// Built outside the project's build (bench/libtorch/CMakeLists.txt; scripts/bench
// builds it when LIBTORCH=1). Prints `# ` context lines and one
//   RESULT bench=conv_step impl=libtorch ... unit=us median= min= max= ...
// line, with the parameters' shapes and the shape after each layer, which
// bench/conv_step checks against its own network.
#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace F = torch::nn::functional;

namespace {

/// A 3x3 convolution keeping the image size, its weight spectrally normalised.
struct SnConvImpl : torch::nn::Module {
  torch::nn::Conv2d conv{nullptr};
  torch::Tensor u, v;
  static constexpr double kEps = 1e-12;

  SnConvImpl(std::int64_t in, std::int64_t out) {
    conv =
        register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1)));
    const torch::NoGradGuard no_grad;
    u = register_buffer("u", F::normalize(torch::randn({out}), unit()));
    v = register_buffer("v", F::normalize(torch::randn({in * 9}), unit()));
    for (int i = 0; i < 15; ++i) power_iteration();
  }
  static F::NormalizeFuncOptions unit() { return F::NormalizeFuncOptions().dim(0).eps(kEps); }
  torch::Tensor matrix() { return conv->weight.reshape({conv->weight.size(0), -1}); }
  void power_iteration() {
    const torch::NoGradGuard no_grad;
    const torch::Tensor w = matrix();
    u.copy_(F::normalize(torch::mv(w, v), unit()));
    v.copy_(F::normalize(torch::mv(w.t(), u), unit()));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    if (is_training()) power_iteration();
    const torch::Tensor sigma = torch::dot(u, torch::mv(matrix(), v));
    return F::conv2d(x, conv->weight / sigma, F::Conv2dFuncOptions().bias(conv->bias).padding(1));
  }
};
TORCH_MODULE(SnConv);

struct CnnImpl : torch::nn::Module {
  SnConv conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear fc{nullptr};

  CnnImpl() {
    conv1 = register_module("conv1", SnConv(1, 32));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(32));
    conv2 = register_module("conv2", SnConv(32, 32));
    bn2 = register_module("bn2", torch::nn::BatchNorm2d(32));
    conv3 = register_module("conv3", SnConv(32, 64));
    bn3 = register_module("bn3", torch::nn::BatchNorm2d(64));
    dropout = register_module("dropout", torch::nn::Dropout(0.25));
    fc = register_module("fc", torch::nn::Linear(256, 10));
  }

  /// The logits; `shapes`, when given, gets the shape after each layer.
  torch::Tensor forward(torch::Tensor x, std::vector<std::vector<std::int64_t>>* shapes = nullptr) {
    const auto after = [&](torch::Tensor y) {
      if (shapes) shapes->push_back(y.sizes().vec());
      return y;
    };
    x = after(torch::relu(after(bn1(after(conv1(x))))));
    x = after(torch::relu(after(bn2(after(conv2(x))))));
    x = after(F::max_pool2d(x, F::MaxPool2dFuncOptions(2)));
    x = after(torch::relu(after(bn3(after(conv3(x))))));
    x = after(F::max_pool2d(x, F::MaxPool2dFuncOptions(2)));
    x = after(dropout(after(x.flatten(1))));
    return after(fc(x));
  }
};
TORCH_MODULE(Cnn);

std::string shape_text(torch::IntArrayRef shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? "," : "") << shape[i];
  out << ']';
  return out.str();
}

/// The digits as bench/conv_step reads them: 64 pixels in 0..16 and a label
/// per line of the gzipped CSV; images [N, 1, 8, 8] scaled to [0, 1].
void load_digits(const char* path, torch::Tensor& images, torch::Tensor& labels) {
  gzFile file = gzopen(path, "rb");
  if (!file) {
    std::fprintf(stderr, "conv_step: cannot open %s\n", path);
    std::exit(2);
  }
  std::vector<float> pixels;
  std::vector<std::int64_t> classes;
  char line[1024];
  while (gzgets(file, line, sizeof line)) {
    char* cursor = line;
    for (int column = 0; column < 65; ++column) {
      const long value = std::strtol(cursor, &cursor, 10);
      if (column < 64)
        pixels.push_back(static_cast<float>(value) / 16);
      else
        classes.push_back(value);
      ++cursor;  // the comma
    }
  }
  gzclose(file);
  const auto rows = static_cast<std::int64_t>(classes.size());
  images = torch::from_blob(pixels.data(), {rows, 1, 8, 8}).clone();
  labels = torch::from_blob(classes.data(), {rows}, torch::kInt64).clone();
}

/// The value after `--name` in argv, or `fallback`.
const char* option(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = std::atoi(option(argc, argv, "--threads", "1"));
  const std::int64_t batch = std::atol(option(argc, argv, "--batch", "64"));
  const int warmup = std::atoi(option(argc, argv, "--warmup", "30"));
  const int steps = std::atoi(option(argc, argv, "--steps", "300"));
  torch::set_num_threads(threads);
  at::set_num_interop_threads(1);
  std::printf("# libtorch %s, %d thread(s), mkldnn %s\n", TORCH_VERSION, torch::get_num_threads(),
              at::globalContext().userEnabledMkldnn() ? "enabled" : "disabled");

  torch::Tensor images, labels;
  load_digits(option(argc, argv, "--data", TETHER_DIGITS_PATH), images, labels);
  std::vector<std::pair<torch::Tensor, torch::Tensor>> batches;
  for (std::int64_t first = 0; first + batch <= images.size(0); first += batch)
    batches.emplace_back(images.narrow(0, first, batch).contiguous(),
                         labels.narrow(0, first, batch).contiguous());

  torch::manual_seed(0);
  Cnn model;
  model->train();
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(3e-3));
  std::string parameters, shapes = shape_text(batches[0].first.sizes());
  for (const torch::Tensor& p : model->parameters())
    parameters += (parameters.empty() ? "" : ";") + shape_text(p.sizes());
  {
    const torch::NoGradGuard no_grad;
    std::vector<std::vector<std::int64_t>> sizes;
    model->forward(batches[0].first, &sizes);
    for (const auto& size : sizes) shapes += ">" + shape_text(size);
  }
  std::printf("# conv_step network: parameters %s\n# conv_step network: shapes %s\n",
              parameters.c_str(), shapes.c_str());

  std::vector<double> micros;
  double loss = 0;
  for (int s = 0; s < warmup + steps; ++s) {
    const auto& [x, y] = batches[s % batches.size()];
    const auto start = std::chrono::steady_clock::now();
    adam.zero_grad();
    const torch::Tensor l = F::cross_entropy(model->forward(x), y);
    l.backward();
    adam.step();
    const auto end = std::chrono::steady_clock::now();
    if (s >= warmup)
      micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    if (s + 1 == warmup + steps) loss = l.item<double>();
  }
  std::sort(micros.begin(), micros.end());
  const double median = micros[micros.size() / 2];
  std::printf("# conv_step libtorch: loss after the last step %.3g\n", loss);
  std::printf(
      "RESULT bench=conv_step impl=libtorch threads=%d batch=%lld parameters=%s shapes=%s "
      "images_per_s=%.6g unit=us median=%.6g min=%.6g max=%.6g n=%zu\n",
      torch::get_num_threads(), static_cast<long long>(batch), parameters.c_str(), shapes.c_str(),
      static_cast<double>(batch) * 1e6 / median, median, micros.front(), micros.back(),
      micros.size());
  return 0;
}
