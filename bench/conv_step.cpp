// One Adam training step of the digits CNN (examples/digits.h's
// make_digits_cnn, as examples/digits trains it): zero_grad, forward,
// cross_entropy, backward, step (lr 3e-3), batch 64 of the 8x8 images, in
// training mode (dropout and the batch norms' batch statistics, one power
// iteration per spectrally normalised convolution). The images are cut in
// order into batches of --batch once, then cycled; bench.h's calibration is
// the warm-up.
//
// bench/libtorch/conv_step.cpp is the same step in libtorch; with --libtorch
// (scripts/bench passes it when LIBTORCH=1) this program reads its RESULT
// line, checks that it ran the same network (the same parameter shapes and
// the same shape after every layer, which both programs print as `# ` lines)
// and prints the ratio of the two medians.
#include <digits.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench.h"

namespace {

using namespace tether;

struct Batch {
  Tensor images, labels;
};

std::string shape_text(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (int i = 0; i < shape.size(); ++i) out << (i ? "," : "") << shape[i];
  out << ']';
  return out.str();
}

/// The parameters' shapes (`;` between them) and the shape after each layer
/// for `input` (`>` between them), as the libtorch twin prints them: no
/// spaces, so that each fits one key=value field of a RESULT line.
std::pair<std::string, std::string> describe_network(nn::Sequential& model, const Tensor& input) {
  std::string parameters, shapes = shape_text(input.shape());
  for (const Tensor& p : model.parameters())
    parameters += (parameters.empty() ? "" : ";") + shape_text(p.shape());
  const NoGradGuard no_grad;
  Tensor x = input;
  for (std::size_t i = 0; i < model.size(); ++i) {
    x = (*model[i])(x);
    shapes += ">" + shape_text(x.shape());
  }
  return {parameters, shapes};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"conv_step: one Adam step of the digits CNN"};
  bench::Options options;
  options.add_flags(app);
  std::int64_t batch = 64;
  std::string libtorch_results;
  app.add_option("--batch", batch, "images per step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--libtorch", libtorch_results,
                 "file with the RESULT line of bench/libtorch/conv_step, run in this session "
                 "(scripts/bench does it when LIBTORCH=1)");
  CLI11_PARSE(app, argc, argv);

  const examples::Digits digits = examples::load_digits();
  const Tensor images = digits.images.reshape({-1, 1, 8, 8});
  std::vector<Batch> batches;
  for (std::int64_t first = 0; first + batch <= images.size(0); first += batch)
    batches.push_back({images.narrow(0, first, batch).contiguous(),
                       digits.labels.narrow(0, first, batch).contiguous()});
  if (batches.empty()) {
    std::fprintf(stderr, "conv_step: --batch %lld exceeds the %lld images\n",
                 static_cast<long long>(batch), static_cast<long long>(images.size(0)));
    return 2;
  }

  manual_seed(0);
  const auto model = examples::make_digits_cnn();
  optim::Adam adam(model->parameters(), {.lr = 3e-3});
  const auto [parameters, shapes] = describe_network(*model, batches[0].images);
  bench::comment("conv_step network: parameters " + parameters);
  bench::comment("conv_step network: shapes " + shapes);

  std::size_t next = 0;
  float last_loss = 0;
  const bench::Body step = [&](long calls) {
    Tensor loss;
    for (long i = 0; i < calls; ++i) {
      const Batch& b = batches[next++ % batches.size()];
      adam.zero_grad();
      loss = nn::cross_entropy((*model)(b.images), b.labels);
      loss.backward();
      adam.step();
    }
    last_loss = loss.item<float>();
  };
  const bench::Measurement m = bench::measure({step}, options)[0];

  const std::string name = "conv_step_b" + std::to_string(batch);
  bench::figure(name, m.median * 1e6, "us");
  bench::figure(name + ".min", m.min * 1e6, "us");
  bench::describe(name, m, 1e6, "us", "step");
  bench::figure(name + ".throughput", static_cast<double>(batch) / m.median, "images/s");
  bench::comment(name + ": loss after the last step " + bench::format_value(last_loss));
  if (!libtorch_results.empty()) {
    auto peer = bench::read_libtorch_results(libtorch_results, "conv_step").front();
    if (peer["parameters"] != parameters || peer["shapes"] != shapes ||
        peer["batch"] != std::to_string(batch)) {
      std::fprintf(stderr,
                   "conv_step: the libtorch twin ran another network (batch %s)\n"
                   "  parameters %s\n  vs        %s\n  shapes %s\n  vs     %s\n",
                   peer["batch"].c_str(), peer["parameters"].c_str(), parameters.c_str(),
                   peer["shapes"].c_str(), shapes.c_str());
      return 1;
    }
    bench::comment(name + ": the libtorch twin ran the same network (parameters and shapes match)");
    bench::figure(name + ".libtorch", std::stod(peer["median"]), "us");
    bench::figure(name + ".vs_libtorch", m.median * 1e6 / std::stod(peer["median"]), "ratio");
  }
  return 0;
}
