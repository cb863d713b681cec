// Square f32 matrix product throughput, C = A B, for tether::matmul and, in
// the same run, the two baselines it is built on:
//
//   tether    c = tether::matmul(a, b), inputs preallocated, result dropped each
//             call (so it includes tether's allocation and dispatch)
//   openblas  cblas_sgemm into a preallocated C
//   eigen     Eigen's own product, C.noalias() = A * B, MatrixXf, preallocated C
//
// GFLOP/s = 2 n^3 / median time per call. The three are sampled in turn (see
// bench.h), and their results are compared with each other once.
#include <cblas.h>
#include <tether/tether.h>

#include <Eigen/Core>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench.h"

// Declared by OpenBLAS's cblas.h, but not by every cblas.h.
extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_corename(void);
}

namespace {

using tether::Tensor;
namespace bench = tether::bench;
using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A row-major n x n tensor's data as an Eigen matrix expression.
Eigen::Map<const RowMajorMatrix> as_eigen(const Tensor& t) {
  return {t.data_ptr<float>(), t.size(0), t.size(1)};
}

std::string env_or_unset(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "unset";
}

struct Product {
  std::string impl;
  bench::Body body;
};

void run_size(std::int64_t n, const bench::Options& options) {
  const Tensor a = tether::rand({n, n}) * 2.0 - 1.0, b = tether::rand({n, n}) * 2.0 - 1.0;
  const Tensor blas_c = tether::empty({n, n});  // 64-byte aligned, like a and b
  const Eigen::MatrixXf eigen_a = as_eigen(a), eigen_b = as_eigen(b);
  Eigen::MatrixXf eigen_c(n, n);
  Tensor tether_c;

  const int dim = static_cast<int>(n);
  const float *blas_a = a.data_ptr<float>(), *blas_b = b.data_ptr<float>();
  float* const blas_out = blas_c.data_ptr<float>();
  const std::vector<Product> products = {
      {"tether", bench::repeat([&] { tether_c = tether::matmul(a, b); })},
      {"openblas", bench::repeat([=] {
         cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, dim, dim, dim, 1.0f, blas_a, dim,
                     blas_b, dim, 0.0f, blas_out, dim);
       })},
      {"eigen", bench::repeat([&] { eigen_c.noalias() = eigen_a * eigen_b; })},
  };
  std::vector<bench::Body> bodies;
  for (const auto& p : products) bodies.push_back(p.body);
  const auto measured = bench::measure(bodies, options);

  // The three results agree to f32 rounding (relative to the largest entry).
  const RowMajorMatrix reference = as_eigen(blas_c);
  const float scale = reference.cwiseAbs().maxCoeff();
  const float tether_error = (as_eigen(tether_c) - reference).cwiseAbs().maxCoeff() / scale;
  const float eigen_error = (RowMajorMatrix(eigen_c) - reference).cwiseAbs().maxCoeff() / scale;
  bench::comment("n=" + std::to_string(n) + ": max |C - C_openblas| / max |C_openblas|: tether " +
                 bench::format_value(tether_error) + ", eigen " + bench::format_value(eigen_error));
  if (!(tether_error < 1e-4f && eigen_error < 1e-4f))
    throw std::runtime_error("results differ at n=" + std::to_string(n));

  const double flop =
      2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  double best_baseline = 0;
  for (std::size_t i = 0; i < products.size(); ++i) {
    const auto& m = measured[i];
    const std::string name = "gemm." + products[i].impl + ".n" + std::to_string(n);
    bench::figure(name, flop / m.median * 1e-9, "GFLOP/s");
    bench::figure(name + ".minflt", m.faults_per_call, "faults/call");
    bench::describe(name, m, 1e3, "ms");
    if (i > 0) best_baseline = std::max(best_baseline, flop / m.median * 1e-9);
  }
  bench::figure("gemm.tether_vs_best.n" + std::to_string(n),
                flop / measured[0].median * 1e-9 / best_baseline, "ratio");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"f32 square matrix product: tether::matmul against OpenBLAS and Eigen"};
  bench::Options options{.samples = 7, .sample_ms = 2, .min_seconds = 0.3};
  options.add_flags(app);
  int threads = 1;
  app.add_option("--threads", threads, "OpenBLAS threads (tether's large products use OpenBLAS)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  std::vector<std::int64_t> sizes = {64, 256, 1024};
  app.add_option("--sizes", sizes, "matrix sizes n")
      ->delimiter(',')
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  openblas_set_num_threads(threads);
  bench::comment("gemm: threads " + std::to_string(threads) + " (openblas_get_num_threads " +
                 std::to_string(openblas_get_num_threads()) + ", core " + openblas_get_corename() +
                 ", OPENBLAS_CORETYPE " + env_or_unset("OPENBLAS_CORETYPE") +
                 ", OPENBLAS_L2_SIZE " + env_or_unset("OPENBLAS_L2_SIZE") + ")");
  bench::comment(std::string("gemm: Eigen SIMD ") + Eigen::SimdInstructionSetsInUse() +
                 ", single-threaded (built without OpenMP); tether built with TETHER_MATMUL=" +
                 TETHER_BENCH_MATMUL +
                 " (auto picks Eigen or OpenBLAS by size: use_openblas in "
                 "backends/cpu/matmul.cpp)");
  bench::comment(
      "gemm: figures are GFLOP/s at the median time per call; ratio = tether / the "
      "faster of openblas and eigen at that n");
  try {
    tether::manual_seed(0);
    for (const auto n : sizes) run_size(n, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gemm: %s\n", e.what());
    return 1;
  }
  return 0;
}
