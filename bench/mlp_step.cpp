// One Adam training step of an MLP 64-256-256-10 with ReLU on the digits data:
// zero_grad, forward, cross_entropy, backward, step (lr 1e-3). Variants:
//   plain  every weight a raw parameter
//   sn     the first layer's weight spectrally normalised, so each step also
//          runs one power iteration and differentiates through the norm
// The data are cut in order into --batch rows per batch (rows repeat when a
// batch is larger than the data set), sliced and moved to the device once,
// then cycled in order. bench.h's calibration is the warm-up.
//
// Figures: time per step (median over samples), the step's floating-point
// work (2 B (64*256 + 256*256 + 256*10) forward, twice that backward) and, on
// the CPU, the time that work takes at this core's peak, measured by
// peak_fma.h in the same run: issue 14 asks for a step within 1.5x of that
// bound eager and 1.25x captured, the sn variant within 5% of plain.
// On CUDA a sample ends by reading the last loss on the host, which waits for
// the device's stream, so the clock sees every step's kernels finish.
#include <digits.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench.h"
#include "peak_fma.h"

namespace {

using namespace tether;

struct Mlp : nn::Module {
  std::shared_ptr<nn::Linear> fc1, fc2, fc3;
  Mlp() {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(64, 256));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(256, 256));
    fc3 = register_module("fc3", std::make_shared<nn::Linear>(256, 10));
  }
  Tensor operator()(const Tensor& x) { return (*fc3)(relu((*fc2)(relu((*fc1)(x))))); }
};

struct Batch {
  Tensor images, labels;
};

/// max(1, rows / batch) batches of `batch` rows, taken in order and wrapping around.
std::vector<Batch> slice_batches(const examples::Digits& digits, std::int64_t batch,
                                 Device device) {
  const std::int64_t rows = digits.labels.size(0);
  std::vector<Batch> batches;
  for (std::int64_t first = 0; first == 0 || first + batch <= rows; first += batch) {
    std::vector<double> indices(static_cast<std::size_t>(batch));
    for (std::int64_t i = 0; i < batch; ++i) indices[i] = static_cast<double>((first + i) % rows);
    const Tensor index = tensor(indices, {batch}, DType::i64);
    batches.push_back({digits.images.index_select(0, index).to(device),
                       digits.labels.index_select(0, index).to(device)});
  }
  return batches;
}

class Training {
 public:
  Training(bool spectral, const std::vector<Batch>& batches, Device device) : batches_(batches) {
    manual_seed(0);
    if (spectral) model_.fc1->weight = spectrally_normalize(model_.fc1->weight);
    model_.to(device);
    adam_ = std::make_unique<optim::Adam>(model_.parameters(), optim::AdamOptions{.lr = 1e-3});
  }

  /// One training step on the next batch; returns its loss.
  Tensor step() {
    const Batch& batch = batches_[next_++ % batches_.size()];
    adam_->zero_grad();
    const Tensor loss = nn::cross_entropy(model_(batch.images), batch.labels);
    loss.backward();
    adam_->step();
    return loss;
  }

 private:
  Mlp model_;
  std::unique_ptr<optim::Adam> adam_;
  const std::vector<Batch>& batches_;
  std::size_t next_ = 0;
};

/// The same training with its step captured (tether/capture.h): a Training
/// over one batch of its own, the static input each replay copies the next
/// batch into.
class CapturedTraining {
 public:
  CapturedTraining(bool spectral, const std::vector<Batch>& batches, Device device)
      : batches_(batches),
        input_{{batches[0].images.clone(), batches[0].labels.clone()}},
        training_(spectral, input_, device),
        step_(capture({input_[0].images, input_[0].labels}, [this] { return training_.step(); })) {}

  Tensor step() {
    const Batch& batch = batches_[next_++ % batches_.size()];
    return step_({batch.images, batch.labels});
  }

 private:
  const std::vector<Batch>& batches_;
  std::vector<Batch> input_;
  Training training_;
  CapturedStep step_;
  std::size_t next_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mlp_step: one Adam step of an MLP 64-256-256-10 on the digits data"};
  bench::Options options;
  options.add_flags(app);
  std::int64_t batch = 128;
  std::string device_name = "cpu";
  app.add_option("--batch", batch, "rows per batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--device", device_name, "cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const bool cuda = device_name == "cuda";
  if (cuda && !cuda_is_available()) {
    bench::comment("mlp_step: no usable CUDA device; nothing measured");
    return 0;
  }
  const Device device = cuda ? Device::cuda() : Device::cpu();
  const std::vector<Batch> batches = slice_batches(examples::load_digits(), batch, device);
  const std::vector<std::string> variants = {"plain", "sn"};
  std::vector<std::unique_ptr<Training>> runs;
  std::vector<bench::Body> bodies;
  std::vector<float> last_loss(variants.size());
  for (std::size_t v = 0; v < variants.size(); ++v) {
    runs.push_back(std::make_unique<Training>(variants[v] == "sn", batches, device));
    bodies.push_back([&training = *runs.back(), &loss = last_loss[v]](long calls) {
      Tensor last;
      for (long i = 0; i < calls; ++i) last = training.step();
      loss = last.item<float>();  // on CUDA this waits for the steps' kernels
    });
  }
  const std::vector<bench::Measurement> measured = bench::measure(bodies, options);

  const std::string suffix = "_b" + std::to_string(batch);
  for (std::size_t v = 0; v < variants.size(); ++v) {
    const std::string name = "mlp_step_" + device_name + "_" + variants[v] + suffix;
    bench::figure(name, measured[v].median * 1e6, "us");
    bench::describe(name, measured[v], 1e6, "us", "step");
    bench::comment(name + ": loss after the last step " + bench::format_value(last_loss[v]));
  }
  const double flop = 3 * 2 * static_cast<double>(batch) * (64 * 256 + 256 * 256 + 256 * 10);
  bench::figure("mlp_step_flop" + suffix, flop * 1e-6, "MFLOP");
  if (!cuda) {
    const double peak = bench::print_peak_fma("mlp_step");
    if (peak > 0) {
      bench::figure("mlp_step_cpu_bound" + suffix, flop / (peak * 1e9) * 1e6, "us");
      bench::figure("mlp_step_cpu_plain" + suffix + ".vs_bound",
                    measured[0].median / (flop / (peak * 1e9)), "ratio");
    }
    bench::comment(
        "references, batch 128, one thread (../shared/peers/RESULTS.md, not this run, on an "
        "AVX-512 machine with a 206 GFLOP/s peak, bound 315 us): libtorch 1.13 980 us plain, "
        "1035 us sn (2825 with glibc's default malloc); PyTorch 1080 us plain, 1230 us sn");
    if (batch == 128)
      bench::figure("mlp_step_cpu_plain_b128.vs_libtorch", measured[0].median * 1e6 / 980, "ratio");
  }

  // Captured variants: the same steps replayed (tether/capture.h), measured
  // alternating with the eager ones again, so that their ratio is of one run.
  std::vector<std::unique_ptr<CapturedTraining>> captured_runs;
  std::vector<bench::Body> captured_bodies = bodies;
  for (std::size_t v = 0; v < variants.size(); ++v) {
    captured_runs.push_back(
        std::make_unique<CapturedTraining>(variants[v] == "sn", batches, device));
    captured_bodies.push_back(
        [&training = *captured_runs.back(), &loss = last_loss[v]](long calls) {
          Tensor last;
          for (long i = 0; i < calls; ++i) last = training.step();
          loss = last.item<float>();
        });
  }
  const std::vector<bench::Measurement> both = bench::measure(captured_bodies, options);
  const double peak = cuda ? 0 : bench::peak_fma_gflops();
  for (std::size_t v = 0; v < variants.size(); ++v) {
    const std::string name = "mlp_step_" + device_name + "_" + variants[v] + "_captured" + suffix;
    const bench::Measurement& eager = both[v];
    const bench::Measurement& captured = both[variants.size() + v];
    bench::figure(name, captured.median * 1e6, "us");
    bench::figure(name + ".eager_same_run", eager.median * 1e6, "us");
    bench::figure(name + ".vs_eager", captured.median / eager.median, "ratio");
    if (peak > 0)
      bench::figure(name + ".vs_bound", captured.median / (flop / (peak * 1e9)), "ratio");
    bench::describe(name, captured, 1e6, "us", "step");
  }
  return 0;
}
