// Square matrix product throughput, C = A B, f32 and f64, for tether::matmul
// and, in the same run, the libraries it routes products to:
//
//   tether    c = tether::matmul(a, b), inputs preallocated, result dropped each
//             call (so it includes tether's allocation and dispatch), on the
//             route tether chose for this machine (printed beside it)
//   openblas  cblas_?gemm into a preallocated C
//   eigen     Eigen's own product, C.noalias() = A * B, compiled for this CPU,
//             preallocated C
//
// GFLOP/s = 2 n^3 / median time per call. The three are sampled in turn (see
// bench.h), and their results are compared with each other once.
//
// BLIS (Debian's libblis-dev 0.9.0) is not among them: it does not know Zen 5,
// falls back to its generic kernels (BLIS_ARCH_TYPE cannot choose another:
// only the generic configuration is built) and measured 32-43 GFLOP/s f32 and
// 14-21 f64 on that core, a quarter of Eigen's figures.
#include <cblas.h>
#include <tether/backend/backend.h>
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
using tether::backend::GemmRoute;

template <class T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A row-major n x n tensor's data as an Eigen matrix expression.
template <class T>
Eigen::Map<const RowMajorMatrix<T>> as_eigen(const Tensor& t) {
  return {t.data_ptr<T>(), t.size(0), t.size(1)};
}

std::string env_or_unset(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "unset";
}

void blas_gemm(int n, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
}
void blas_gemm(int n, const double* a, const double* b, double* c) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
}

struct Product {
  std::string impl;
  bench::Body body;
};

template <class T>
void run_size(std::int64_t n, const bench::Options& options) {
  const tether::DType dtype = std::is_same_v<T, float> ? tether::DType::f32 : tether::DType::f64;
  const std::string label = (dtype == tether::DType::f32 ? "f32.n" : "f64.n") + std::to_string(n);
  const Tensor a = tether::rand({n, n}, dtype) * 2.0 - 1.0;
  const Tensor b = tether::rand({n, n}, dtype) * 2.0 - 1.0;
  const Tensor blas_c = tether::empty({n, n}, dtype);  // 64-byte aligned, like a and b
  const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> eigen_a = as_eigen<T>(a),
                                                         eigen_b = as_eigen<T>(b);
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> eigen_c(n, n);
  Tensor tether_c;

  const int dim = static_cast<int>(n);
  const T *blas_a = a.data_ptr<T>(), *blas_b = b.data_ptr<T>();
  T* const blas_out = blas_c.data_ptr<T>();
  const std::vector<Product> products = {
      {"tether", bench::repeat([&] { tether_c = tether::matmul(a, b); })},
      {"openblas", bench::repeat([=] { blas_gemm(dim, blas_a, blas_b, blas_out); })},
      {"eigen", bench::repeat([&] { eigen_c.noalias() = eigen_a * eigen_b; })},
  };
  std::vector<bench::Body> bodies;
  for (const auto& p : products) bodies.push_back(p.body);
  const auto measured = bench::measure(bodies, options);

  // The three results agree to rounding (relative to the largest entry).
  const RowMajorMatrix<T> reference = as_eigen<T>(blas_c);
  const T scale = reference.cwiseAbs().maxCoeff();
  const T tether_error = (as_eigen<T>(tether_c) - reference).cwiseAbs().maxCoeff() / scale;
  const T eigen_error = (RowMajorMatrix<T>(eigen_c) - reference).cwiseAbs().maxCoeff() / scale;
  const GemmRoute route = tether::backend::cpu_gemm_route(dtype, n, n, n);
  const char* const route_name = route == GemmRoute::eigen      ? "eigen"
                                 : route == GemmRoute::openblas ? "openblas"
                                                                : "native";
  bench::comment(label + ": tether's route " + route_name +
                 "; max |C - C_openblas| / max |C_openblas|: tether " +
                 bench::format_value(tether_error) + ", eigen " + bench::format_value(eigen_error));
  if (!(tether_error < 1e-4 && eigen_error < 1e-4))
    throw std::runtime_error("results differ at " + label);

  const double flop =
      2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  double best_baseline = 0;
  for (std::size_t i = 0; i < products.size(); ++i) {
    const auto& m = measured[i];
    const std::string name = "gemm." + products[i].impl + "." + label;
    bench::figure(name, flop / m.median * 1e-9, "GFLOP/s");
    bench::figure(name + ".minflt", m.faults_per_call, "faults/call");
    bench::describe(name, m, 1e3, "ms");
    if (i > 0) best_baseline = std::max(best_baseline, flop / m.median * 1e-9);
  }
  bench::figure("gemm.tether_vs_best." + label, flop / measured[0].median * 1e-9 / best_baseline,
                "ratio");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"square matrix product, f32 and f64: tether::matmul against OpenBLAS and Eigen"};
  // Short samples, many of them: on a shared machine the median then stays
  // near the undisturbed time.
  bench::Options options{.samples = 15, .sample_ms = 0.5, .min_seconds = 0.3};
  options.add_flags(app);
  int threads = 1;
  app.add_option("--threads", threads, "OpenBLAS threads")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  std::vector<std::int64_t> sizes = {64, 128, 256, 512, 1024, 2048};
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
                 " (auto: the faster of Eigen and OpenBLAS per size class, measured on this "
                 "machine on the class's first product; backends/cpu/matmul.cpp)");
  bench::comment(
      "gemm: figures are GFLOP/s at the median time per call; ratio = tether / the "
      "faster of openblas and eigen at that n");
  try {
    tether::manual_seed(0);
    for (const auto n : sizes) {
      run_size<float>(n, options);
      run_size<double>(n, options);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gemm: %s\n", e.what());
    return 1;
  }
  return 0;
}
