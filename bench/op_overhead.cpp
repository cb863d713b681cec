// Per-op framework overhead on tiny tensors, the cost that dominates small
// models: everything around the arithmetic (checks, allocation, graph
// recording, the backward engine).
//
//   add: c = a + b, a and b f32[4] requiring grad
//   mm:  c = A.mm(B), A and B f32[4, 4] requiring grad (B orthogonal, so a
//        long product chain stays well scaled)
//
// For each op:
//   <op>_fwd_grad           one op with graph recording; the result is dropped
//                           each time, so its node is freed again (us per op)
//   <op>_fwd_nograd         the same under NoGradGuard (us per op)
//   <op>_chain100_fwd       x = a; 100 times x = op(x, b) (us per chain)
//   <op>_chain100_fwdbwd    the chain, x.sum().backward(), then both grads reset
//                           to undefined (us per chain)
//
// The same cases as the peer program op_overhead.cpp in shared/peers, so the
// ratios to libtorch compare like with like. The libtorch figures come from
// the peers' reference run (RESULTS.md): another session, and not necessarily
// the same CPU (that run's was an AMD family 1Ah, Zen 5; scripts/bench prints
// this one's). With --libtorch they come instead from a file of the RESULT
// lines that the peer program printed in this session (scripts/bench does that
// when LIBTORCH_OP_OVERHEAD points to the built peer program). Prefer that on
// a machine shared with other work; the peers advise comparing minima then.
#include <tether/tether.h>

#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench.h"

namespace {

using tether::Tensor;
namespace bench = tether::bench;

/// libtorch's time (us) for one case: the median and the minimum over samples.
struct LibtorchTime {
  double median = 0, min = 0;
};
/// libtorch's times per (op, variant, per) case.
using Reference = std::map<std::string, LibtorchTime>;

std::string reference_key(const std::string& op, const std::string& variant,
                          const std::string& per) {
  return op + "/" + variant + "/" + per;
}

/// libtorch 1.13.1 in the peers' reference run (RESULTS.md, results/20261127T130139Z, 1
/// thread, pinned to vCPU 0): the median of 3 rounds' medians and the minimum of all rounds.
Reference reference_run() {
  return {{"add/fwd_grad/op", {1.06, 1.02}},      {"add/fwd_nograd/op", {0.647, 0.628}},
          {"add/chain_fwd/chain100", {117, 112}}, {"add/chain_fwdbwd/chain100", {345, 328}},
          {"mm/fwd_grad/op", {1.34, 1.30}},       {"mm/fwd_nograd/op", {0.677, 0.663}},
          {"mm/chain_fwd/chain100", {158, 150}},  {"mm/chain_fwdbwd/chain100", {661, 614}}};
}

/// The times in the peer program's `RESULT bench=op_overhead ...` lines.
Reference read_peer_results(const std::string& path) {
  Reference reference;
  for (auto& fields : bench::read_libtorch_results(path, "op_overhead"))
    reference[reference_key(fields["op"], fields["variant"], fields["per"])] = {
        std::stod(fields["median"]), std::stod(fields["min"])};
  return reference;
}

/// A tiny binary op and the operands it is benchmarked on.
struct Op {
  std::string name;
  Tensor x0, w;
  Tensor (*apply)(const Tensor&, const Tensor&);
};

struct Case {
  std::string variant;  ///< the peer program's name for it
  std::string per;      ///< "op" or "chain<len>"
  bench::Body body;
};

bench::Body without_grad(bench::Body body) {
  return [body = std::move(body)](long calls) {
    tether::NoGradGuard no_grad;
    body(calls);
  };
}

Tensor run_chain(const Op& op, int length) {
  Tensor x = op.x0;
  for (int i = 0; i < length; ++i) x = op.apply(x, op.w);
  return x;
}

void run_chain_with_backward(const Op& op, int length) {
  run_chain(op, length).sum().backward();
  op.x0.set_grad(Tensor());
  op.w.set_grad(Tensor());
}

std::vector<Case> cases(const Op& op, int chain_length) {
  const std::string chain = "chain" + std::to_string(chain_length);
  const auto single = bench::repeat([&op, c = Tensor()]() mutable { c = op.apply(op.x0, op.w); });
  return {
      {"fwd_grad", "op", single},
      {"fwd_nograd", "op", without_grad(single)},
      {"chain_fwd", chain, bench::repeat([&op, chain_length] { run_chain(op, chain_length); })},
      {"chain_fwdbwd", chain,
       bench::repeat([&op, chain_length] { run_chain_with_backward(op, chain_length); })},
  };
}

/// Allocator requests per call of `body`, counted over `calls` calls.
std::string allocator_traffic(const bench::Body& body, long calls) {
  auto& allocator = tether::allocator(tether::Device::cpu());
  allocator.reset_stats();
  body(calls);
  const auto stats = allocator.stats();
  const auto per_call = [calls](std::uint64_t n) {
    return bench::format_value(static_cast<double>(n) / static_cast<double>(calls));
  };
  return "allocator " + per_call(stats.requests) + " requests (" + per_call(stats.system_allocs) +
         " from the system)";
}

/// Checks, outside the timing, that one chain with backward computes what it
/// should: for add, a.grad() is all ones and b.grad() all `length`.
void check_chain(const Op& op, int length) {
  run_chain(op, length).sum().backward();
  const auto ga = op.x0.grad().to_vector<float>(), gb = op.w.grad().to_vector<float>();
  op.x0.set_grad(Tensor());
  op.w.set_grad(Tensor());
  bool ok = true;
  for (float g : ga) ok = ok && std::isfinite(g) && (op.name != "add" || g == 1.0f);
  for (float g : gb) ok = ok && std::isfinite(g) && (op.name != "add" || g == float(length));
  if (!ok) throw std::runtime_error(op.name + " chain: unexpected gradients");
  bench::comment(op.name + " chain of " + std::to_string(length) + ": gradients check out (" +
                 (op.name == "add" ? "a.grad = 1, b.grad = " + std::to_string(length)
                                   : std::string("finite")) +
                 ")");
}

void run_op(const Op& op, int chain_length, const bench::Options& options,
            const Reference& reference, const std::string& reference_source) {
  check_chain(op, chain_length);
  const auto all = cases(op, chain_length);
  std::vector<bench::Body> bodies;
  for (const auto& c : all) bodies.push_back(c.body);
  const auto measured = bench::measure(bodies, options);

  for (std::size_t i = 0; i < all.size(); ++i) {
    const Case& c = all[i];
    const auto& m = measured[i];
    const std::string name =
        "op_overhead." + op.name + "_" +
        (c.per == "op" ? c.variant : c.per + c.variant.substr(c.variant.find('_')));
    bench::figure(name, m.median * 1e6, "us");
    bench::figure(name + ".minflt", m.faults_per_call, "faults/" + c.per);
    bench::describe(name, m, 1e6, "us", c.per);
    bench::comment(name + ": " + allocator_traffic(c.body, 200) + " per " + c.per);
    if (c.per != "op")
      bench::comment(name + ": " + bench::format_value(m.median * 1e6 / chain_length) +
                     " us per op of the chain");

    const auto ref = reference.find(reference_key(op.name, c.variant, c.per));
    if (ref == reference.end()) {
      bench::comment(name + ": no libtorch figure for this case in " + reference_source);
      continue;
    }
    const LibtorchTime& libtorch = ref->second;
    const double ratio = m.median * 1e6 / libtorch.median;
    bench::comment(
        name + ": libtorch median " + bench::format_value(libtorch.median) + " min " +
        bench::format_value(libtorch.min) + " us (" + reference_source + "); ratio of the minima " +
        bench::format_value(m.min * 1e6 / libtorch.min) +
        "; target ratio <= 0.333, i.e. median <= " + bench::format_value(libtorch.median / 3) +
        " us: " + (ratio <= 1.0 / 3 ? "met" : "MISSED"));
    bench::figure(name + ".vs_libtorch", ratio, "ratio");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tether per-op overhead on tiny tensors (compare: shared/peers/op_overhead.cpp)"};
  bench::Options options{.samples = 15, .sample_ms = 10, .min_seconds = 0.2};
  options.add_flags(app);
  int chain_length = 100;
  app.add_option("--chain-len", chain_length, "ops per chain")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  std::string libtorch_results;
  app.add_option("--libtorch", libtorch_results,
                 "file with the RESULT lines of the peer libtorch op_overhead, run in this "
                 "session (default: the figures of the peers' reference run)")
      ->check(CLI::ExistingFile);
  CLI11_PARSE(app, argc, argv);

  try {
    const bool same_session = !libtorch_results.empty();
    const Reference reference =
        same_session ? read_peer_results(libtorch_results) : reference_run();
    const std::string source =
        same_session
            ? "libtorch measured in this session, " + libtorch_results
            : "libtorch 1.13.1 in the peers' reference run (RESULTS.md), NOT measured in this "
              "run: another session, possibly another CPU";
    bench::comment(
        "tether op overhead, 1 thread; figures are medians over samples; ratio = "
        "tether / libtorch (" +
        source + ")");
    bench::comment(
        "targets (1/3 of libtorch's reference run): add_fwd_grad <= 0.35 us, "
        "add_chain100_fwdbwd <= 115 us");

    tether::manual_seed(0);
    const auto vector4 = [] { return tether::randn({4}).requires_grad_(); };
    // Block-diagonal rotations by 0.6 and 1.1 rad: orthogonal, so |x| neither
    // grows nor shrinks along a chain of products.
    const double c1 = std::cos(0.6), s1 = std::sin(0.6), c2 = std::cos(1.1), s2 = std::sin(1.1);
    Tensor rotation =
        tether::tensor({c1, -s1, 0, 0, s1, c1, 0, 0, 0, 0, c2, -s2, 0, 0, s2, c2}, {4, 4});
    const std::vector<Op> ops = {
        {"add", vector4(), vector4(), [](const Tensor& x, const Tensor& y) { return x + y; }},
        {"mm", tether::randn({4, 4}).requires_grad_(), rotation.requires_grad_(),
         [](const Tensor& x, const Tensor& y) { return x.mm(y); }},
    };
    for (const auto& op : ops) run_op(op, chain_length, options, reference, source);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "op_overhead: %s\n", e.what());
    return 1;
  }
  return 0;
}
