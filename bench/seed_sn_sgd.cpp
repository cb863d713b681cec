// Time of the spectral-norm toy's 1,000-step SGD loop (examples/spectral_norm_sgd),
// the figure ../shared/peers/RESULTS.md gives for libtorch (53.1 ms, spectral
// norm by hand) and PyTorch (129 ms, parametrizations.spectral_norm).
#include "bench.h"
#include "spectral_norm_toy.h"

int main(int argc, char** argv) {
  using namespace tether;
  CLI::App app{"spectral-norm toy: 1,000 SGD steps of a spectrally normalised Linear(3, 4)"};
  bench::Options options{.samples = 7, .sample_ms = 1, .min_seconds = 0.2};
  options.add_flags(app);
  int steps = 1000;
  app.add_option("--steps", steps, "SGD steps per loop")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  double final_error = 0;
  const bench::Body loop = bench::repeat([&] {
    manual_seed(0);
    examples::SpectralNormToy toy(0.1, 20);
    for (int step = 0; step < steps; ++step) toy.step();
    final_error = abs(toy.weight_error()).amax().item<double>();
  });
  const bench::Measurement m = bench::measure({loop}, options).front();
  bench::figure("seed_sn_sgd.loop", m.median * 1e3, "ms");
  bench::figure("seed_sn_sgd.step", m.median * 1e6 / steps, "us");
  bench::figure("seed_sn_sgd.minflt", m.faults_per_call, "faults/loop");
  bench::figure("seed_sn_sgd.final_max_abs_error", final_error, "abs");
  bench::describe("seed_sn_sgd.loop", m, 1e3, "ms", "loop");
  bench::comment(
      "libtorch 1.13 reference (RESULTS.md, not this run): 53.1 ms; target <= 0.10 of "
      "libtorch's hand-written loop in the same run (scripts/bench with PEERS_DIR)");
  bench::figure("seed_sn_sgd.loop.vs_libtorch", m.median * 1e3 / 53.1, "ratio");

  // Captured (tether/capture.h): the same loop with the first step captured
  // and the others replayed; the capture's own cost is inside the loop.
  double captured_error = 0;
  const bench::Body captured_loop = bench::repeat([&] {
    manual_seed(0);
    examples::SpectralNormToy toy(0.1, 20);
    const CapturedStep step = capture([&] { return toy.step(); });
    for (int i = 1; i < steps; ++i) step();
    captured_error = abs(toy.weight_error()).amax().item<double>();
  });
  const bench::Measurement c = bench::measure({captured_loop}, options).front();
  bench::figure("seed_sn_sgd.captured.loop", c.median * 1e3, "ms");
  bench::figure("seed_sn_sgd.captured.step", c.median * 1e6 / steps, "us");
  bench::figure("seed_sn_sgd.captured.vs_eager", c.median / m.median, "ratio");
  bench::figure("seed_sn_sgd.captured.final_max_abs_error", captured_error, "abs");
  bench::describe("seed_sn_sgd.captured.loop", c, 1e3, "ms", "loop");
  bench::comment("target: captured loop <= 2 ms (2 us per step)");

  // The replays alone: one toy captured before the clock starts, each call a
  // replay (the loop above also builds the toy and captures its first step).
  manual_seed(0);
  examples::SpectralNormToy replayed(0.1, 20);
  const CapturedStep replay = capture([&] { return replayed.step(); });
  const bench::Measurement r = bench::measure({bench::repeat([&] { replay(); })}, options).front();
  bench::figure("seed_sn_sgd.captured.replay", r.median * 1e6, "us");
  bench::figure("seed_sn_sgd.captured.replay_calls", static_cast<double>(replay.size()),
                "calls/step");
  bench::describe("seed_sn_sgd.captured.replay", r, 1e6, "us", "replay");
  return 0;
}
