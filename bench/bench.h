// Timing, statistics and output shared by the benchmark programs.
//
// A benchmark is a set of bodies, each `void(long calls)` running `calls`
// back-to-back repetitions of the thing measured (see repeat()). measure()
// calibrates how many calls make one sample last --sample-ms, then takes
// samples from all bodies in turn (round-robin), so a disturbed period on this
// shared VM affects every body alike rather than one of them. Each body's
// figure is the median time per call over its samples; min and max go to a
// comment line.
//
// Output: one `name value unit` line per figure, `# ` before anything else.
// Wall-clock figures, as the peers measure; the process CPU time goes beside
// them, because this VM is often shared with builds and a CPU share below 1
// shows that a run was disturbed.
// Minor page faults (getrusage) are counted over the timed samples only and
// reported per call, because a page fault costs ~11 us on these VMs.
#pragma once

#include <sys/resource.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tether::bench {

using Body = std::function<void(long calls)>;

/// A body that calls `f()` `calls` times; the loop is compiled with f inlined,
/// so the indirect call through Body is paid once per sample, not per call.
template <class F>
Body repeat(F f) {
  return [f = std::move(f)](long calls) mutable {
    for (long i = 0; i < calls; ++i) f();
  };
}

struct Options {
  int samples = 11;          ///< at least this many samples per body
  double sample_ms = 5.0;    ///< each sample runs at least this long
  double min_seconds = 0.3;  ///< and all samples of one body at least this long together

  /// Registers --samples, --sample-ms and --min-time on `app`.
  void add_flags(CLI::App& app) {
    app.add_option("--samples", samples, "minimum number of samples per figure")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--sample-ms", sample_ms, "minimum duration of one sample (ms)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--min-time", min_seconds, "minimum total sampled time per figure (s)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
  }
};

/// Seconds per call: median, min and max over the samples (wall clock).
struct Measurement {
  double median = 0, min = 0, max = 0;
  /// Median CPU time of the process per call. Equal to `median` on a quiet
  /// machine with one thread; lower when other processes took the CPU.
  double cpu_median = 0;
  /// CPU time / wall time over all samples: about 1 per thread when nothing
  /// else ran on the pinned CPU.
  double cpu_share = 0;
  int samples = 0;
  long calls_per_sample = 0;
  double faults_per_call = 0;  ///< minor page faults during the timed samples
};

inline long minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

/// CPU time of the whole process (all threads), in seconds.
inline double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

struct Elapsed {
  double wall = 0, cpu = 0;  ///< seconds
};

/// Wall and CPU time that `calls` calls of `body` take.
inline Elapsed time_calls(const Body& body, long calls) {
  const double cpu_start = process_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  body(calls);
  const auto end = std::chrono::steady_clock::now();
  return {std::chrono::duration<double>(end - start).count(), process_cpu_seconds() - cpu_start};
}

/// Sorts `v` and returns its median.
inline double sort_and_median(std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Calls per sample so that one sample lasts at least `sample_seconds`. The
/// doubling also warms up caches, allocator pools and library thread pools.
inline long calibrate(const Body& body, double sample_seconds) {
  body(1);
  long calls = 1;
  while (calls < (1L << 30)) {
    const double t = time_calls(body, calls).wall;
    if (t >= sample_seconds) break;
    // Jump close to the target once the time is measurable, doubling before.
    const double factor = t > 1e-4 ? std::clamp(1.2 * sample_seconds / t, 1.0, 2.0) : 2.0;
    calls = std::max(calls + 1, static_cast<long>(static_cast<double>(calls) * factor));
  }
  return calls;
}

/// Measures `bodies`, interleaving their samples.
inline std::vector<Measurement> measure(const std::vector<Body>& bodies, const Options& options) {
  const std::size_t count = bodies.size();
  std::vector<long> calls(count);
  for (std::size_t i = 0; i < count; ++i) calls[i] = calibrate(bodies[i], options.sample_ms * 1e-3);

  std::vector<std::vector<double>> wall(count), cpu(count);
  std::vector<Elapsed> total(count);
  std::vector<long> faults(count, 0);
  double sampled = 0;
  constexpr int kMaxSamples = 1000;
  for (int round = 0; round < kMaxSamples; ++round) {
    if (round >= options.samples && sampled >= options.min_seconds * static_cast<double>(count))
      break;
    for (std::size_t i = 0; i < count; ++i) {
      const long faults_before = minor_faults();
      const Elapsed t = time_calls(bodies[i], calls[i]);
      faults[i] += minor_faults() - faults_before;
      sampled += t.wall;
      total[i].wall += t.wall;
      total[i].cpu += t.cpu;
      wall[i].push_back(t.wall / static_cast<double>(calls[i]));
      cpu[i].push_back(t.cpu / static_cast<double>(calls[i]));
    }
  }

  std::vector<Measurement> out(count);
  for (std::size_t i = 0; i < count; ++i) {
    Measurement& m = out[i];
    m.median = sort_and_median(wall[i]);
    m.min = wall[i].front();
    m.max = wall[i].back();
    m.cpu_median = sort_and_median(cpu[i]);
    m.cpu_share = total[i].cpu / total[i].wall;
    m.samples = static_cast<int>(wall[i].size());
    m.calls_per_sample = calls[i];
    m.faults_per_call = static_cast<double>(faults[i]) /
                        (static_cast<double>(m.samples) * static_cast<double>(calls[i]));
  }
  return out;
}

/// `value` with three significant digits and no exponent (1234 stays 1234).
inline std::string format_value(double value) {
  if (value == 0 || !std::isfinite(value)) return value == 0 ? "0" : std::to_string(value);
  const int magnitude = static_cast<int>(std::floor(std::log10(std::fabs(value))));
  const int decimals = std::clamp(2 - magnitude, 0, 9);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

/// Prints one figure: `name value unit`.
inline void figure(const std::string& name, double value, const std::string& unit) {
  std::printf("%s %s %s\n", name.c_str(), format_value(value).c_str(), unit.c_str());
  std::fflush(stdout);
}

/// Prints a context line: `# text`.
inline void comment(const std::string& text) {
  std::printf("# %s\n", text.c_str());
  std::fflush(stdout);
}

/// Prints the comment line that goes with a measurement (spread, CPU time,
/// sampling), times scaled by `scale` into `unit`, and a warning when other
/// processes took a noticeable share of the CPU while it was sampled.
inline void describe(const std::string& name, const Measurement& m, double scale,
                     const std::string& unit, const std::string& per = "call") {
  comment(name + ": min " + format_value(m.min * scale) + " max " + format_value(m.max * scale) +
          " " + unit + "; cpu time " + format_value(m.cpu_median * scale) + " " + unit +
          " (cpu/wall " + format_value(m.cpu_share) + "); " + std::to_string(m.samples) +
          " samples x " + std::to_string(m.calls_per_sample) + " " + per + "s");
  if (m.cpu_share < 0.9)
    comment("WARNING " + name + ": this process ran only " + format_value(100 * m.cpu_share) +
            "% of the sampled time; other load on the CPU inflates the wall-clock figure");
}

/// The key=value fields of every `RESULT bench=<name> impl=libtorch ...` line
/// in `path`: what the peers' programs print, one line per case. Throws
/// std::runtime_error when the file cannot be read or holds no such line.
inline std::vector<std::map<std::string, std::string>> read_libtorch_results(
    const std::string& path, const std::string& name) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<std::map<std::string, std::string>> results;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("RESULT ", 0) != 0) continue;
    std::map<std::string, std::string> fields;
    std::istringstream tokens(line.substr(7));
    for (std::string token; tokens >> token;)
      if (const auto eq = token.find('='); eq != std::string::npos)
        fields[token.substr(0, eq)] = token.substr(eq + 1);
    if (fields["bench"] == name && fields["impl"] == "libtorch") results.push_back(fields);
  }
  if (results.empty()) throw std::runtime_error("no libtorch " + name + " RESULT lines in " + path);
  return results;
}

}  // namespace tether::bench
