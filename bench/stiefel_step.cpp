// One training step of a [256, 256] orthogonal weight, two ways: a stiefel()
// parameter under RiemannianSGD (no constraint in the forward, a Cayley
// retraction in the step) against orthogonal()'s reparametrisation under SGD
// (matrix_exp in the forward and its backward). Both steps are forward,
// backward and update of the loss mean((x W)^2) over a batch x [64, 256].
#include <memory>

#include "bench.h"
#include "tether/tether.h"

int main(int argc, char** argv) {
  using namespace tether;
  CLI::App app{"step time of a [256, 256] orthogonal weight: Riemannian SGD vs orthogonal()"};
  bench::Options options{.samples = 7, .sample_ms = 20, .min_seconds = 0.5};
  options.add_flags(app);
  std::int64_t n = 256;
  app.add_option("--size", n, "the weight is [size, size]")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  manual_seed(0);
  const Tensor x = randn({64, n});
  const std::shared_ptr<Parameter> manifold = stiefel(make_parameter(randn({n, n})));
  const std::shared_ptr<Parameter> reparametrised =
      constrain(make_parameter(randn({n, n})), constraints::orthogonal());
  // Small steps, so that the retraction works as hard as in training.
  optim::RiemannianSGD riemannian({manifold->trainables()[0].second}, {.lr = 1e-3});
  optim::SGD sgd({reparametrised->trainables()[0].second}, {.lr = 1e-3});
  const auto step = [&x](Parameter& weight, optim::Optimizer& optimizer) {
    optimizer.zero_grad();
    matmul(x, weight.value()).pow(2.0).mean().backward();
    optimizer.step();
  };
  const std::vector<bench::Measurement> m =
      bench::measure({bench::repeat([&] { step(*manifold, riemannian); }),
                      bench::repeat([&] { step(*reparametrised, sgd); })},
                     options);
  const std::string size = std::to_string(n);
  bench::figure("stiefel_step.riemannian_sgd_cayley." + size, m[0].median * 1e3, "ms");
  bench::figure("stiefel_step.orthogonal_matrix_exp_sgd." + size, m[1].median * 1e3, "ms");
  bench::figure("stiefel_step.speedup." + size, m[1].median / m[0].median, "ratio");
  bench::describe("stiefel_step.riemannian_sgd_cayley." + size, m[0], 1e3, "ms", "step");
  bench::describe("stiefel_step.orthogonal_matrix_exp_sgd." + size, m[1], 1e3, "ms", "step");
  bench::comment("final violation max|W^T W - I|: " +
                 std::to_string(Stiefel().violation(manifold->value())));
  return 0;
}
