// A small SVG plot writer for the examples: scatter points, polylines and
// shaded bands on shared axes, written as one self-contained .svg file.
//
//   examples::SvgPlot plot("GP regression", "x", "y");
//   plot.band(xs, lower, upper, "#9ecae1");
//   plot.line(xs, mean, "#08519c");
//   plot.points(train_x, train_y, "#d62728");
//   plot.save("gp.svg");
//
// The axes cover everything drawn, with a small margin; nothing is drawn until
// save(), so the order of the calls is the order of the layers.
#pragma once

#include <tether/tether.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace tether::examples {

class SvgPlot {
 public:
  SvgPlot(std::string title, std::string x_label, std::string y_label)
      : title_(std::move(title)), x_label_(std::move(x_label)), y_label_(std::move(y_label)) {}

  /// Dots of `radius` pixels at (xs[i], ys[i]).
  void points(const std::vector<double>& xs, const std::vector<double>& ys, std::string color,
              double radius = 2.0, double opacity = 0.6) {
    layers_.push_back({Kind::points, xs, ys, {}, std::move(color), radius, opacity});
    extend(xs, ys);
  }
  /// A polyline through (xs[i], ys[i]) in the order given.
  void line(const std::vector<double>& xs, const std::vector<double>& ys, std::string color) {
    layers_.push_back({Kind::line, xs, ys, {}, std::move(color), 2.0, 1.0});
    extend(xs, ys);
  }
  /// The region between lower[i] and upper[i] over xs (sorted ascending).
  void band(const std::vector<double>& xs, const std::vector<double>& lower,
            const std::vector<double>& upper, std::string color, double opacity = 0.4) {
    layers_.push_back({Kind::band, xs, lower, upper, std::move(color), 0.0, opacity});
    extend(xs, lower);
    extend(xs, upper);
  }

  /// Writes the plot to `path`; throws ValueError when the file cannot be written.
  void save(const std::string& path) const {
    std::ofstream out(path);
    out << render();
    if (!out.flush()) fail<ValueError>("SvgPlot::save: cannot write ", path);
  }

  /// Writes `plots` side by side, left to right, into one SVG file at `path`.
  static void save_side_by_side(const std::vector<SvgPlot>& plots, const std::string& path) {
    std::ofstream out(path);
    out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth * plots.size()
        << "\" height=\"" << kHeight << "\">\n";
    for (std::size_t i = 0; i < plots.size(); ++i)
      out << "<g transform=\"translate(" << kWidth * i << ", 0)\">\n"
          << plots[i].render() << "</g>\n";
    out << "</svg>\n";
    if (!out.flush()) fail<ValueError>("SvgPlot::save_side_by_side: cannot write ", path);
  }

  /// The SVG document.
  std::string render() const {
    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\""
        << kHeight << "\" font-family=\"sans-serif\" font-size=\"13\">\n"
        << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        << "<text x=\"" << kWidth / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"16\">"
        << title_ << "</text>\n";
    for (const Layer& layer : layers_) draw(svg, layer);
    svg << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << kWidth - kLeft - kRight
        << "\" height=\"" << kHeight - kTop - kBottom << "\" fill=\"none\" stroke=\"black\"/>\n"
        << "<text x=\"" << kWidth / 2 << "\" y=\"" << kHeight - 8 << "\" text-anchor=\"middle\">"
        << x_label_ << "</text>\n"
        << "<text x=\"16\" y=\"" << kHeight / 2
        << "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " << kHeight / 2 << ")\">"
        << y_label_ << "</text>\n";
    draw_ticks(svg);
    svg << "</svg>\n";
    return svg.str();
  }

 private:
  enum class Kind { points, line, band };
  struct Layer {
    Kind kind;
    std::vector<double> xs, ys, upper;
    std::string color;
    double radius, opacity;
  };
  static constexpr double kWidth = 640, kHeight = 480;
  static constexpr double kLeft = 60, kRight = 20, kTop = 36, kBottom = 48;

  void extend(const std::vector<double>& xs, const std::vector<double>& ys) {
    for (double x : xs) x_min_ = std::min(x_min_, x), x_max_ = std::max(x_max_, x);
    for (double y : ys) y_min_ = std::min(y_min_, y), y_max_ = std::max(y_max_, y);
  }
  /// The data range [lo, hi] widened by 5% on each side (1 when it is empty).
  static std::pair<double, double> padded(double lo, double hi) {
    const double span = hi > lo ? hi - lo : 1.0;
    return {lo - 0.05 * span, hi + 0.05 * span};
  }
  double px(double x) const {
    const auto [lo, hi] = padded(x_min_, x_max_);
    return kLeft + (x - lo) / (hi - lo) * (kWidth - kLeft - kRight);
  }
  double py(double y) const {
    const auto [lo, hi] = padded(y_min_, y_max_);
    return kHeight - kBottom - (y - lo) / (hi - lo) * (kHeight - kTop - kBottom);
  }

  void draw(std::ostringstream& svg, const Layer& layer) const {
    const std::string paint =
        "fill=\"" + layer.color + "\" fill-opacity=\"" + std::to_string(layer.opacity) + "\"";
    switch (layer.kind) {
      case Kind::points:
        for (std::size_t i = 0; i < layer.xs.size(); ++i)
          svg << "<circle cx=\"" << px(layer.xs[i]) << "\" cy=\"" << py(layer.ys[i]) << "\" r=\""
              << layer.radius << "\" " << paint << "/>\n";
        break;
      case Kind::line:
        svg << "<polyline fill=\"none\" stroke=\"" << layer.color
            << "\" stroke-width=\"2\" points=\"";
        for (std::size_t i = 0; i < layer.xs.size(); ++i)
          svg << px(layer.xs[i]) << ',' << py(layer.ys[i]) << ' ';
        svg << "\"/>\n";
        break;
      case Kind::band:
        svg << "<polygon " << paint << " points=\"";
        for (std::size_t i = 0; i < layer.xs.size(); ++i)
          svg << px(layer.xs[i]) << ',' << py(layer.ys[i]) << ' ';
        for (std::size_t i = layer.xs.size(); i-- > 0;)
          svg << px(layer.xs[i]) << ',' << py(layer.upper[i]) << ' ';
        svg << "\"/>\n";
        break;
    }
  }

  /// Five labelled ticks on each axis, at evenly spaced data values.
  void draw_ticks(std::ostringstream& svg) const {
    constexpr int kTicks = 5;
    for (int i = 0; i < kTicks; ++i) {
      const double x = x_min_ + (x_max_ - x_min_) * i / (kTicks - 1);
      const double y = y_min_ + (y_max_ - y_min_) * i / (kTicks - 1);
      svg << "<text x=\"" << px(x) << "\" y=\"" << kHeight - kBottom + 16
          << "\" text-anchor=\"middle\" font-size=\"11\">" << tick_label(x) << "</text>\n"
          << "<text x=\"" << kLeft - 6 << "\" y=\"" << py(y) + 4
          << "\" text-anchor=\"end\" font-size=\"11\">" << tick_label(y) << "</text>\n";
    }
  }
  static std::string tick_label(double value) {
    std::ostringstream label;
    label.precision(3);
    label << (std::abs(value) < 1e-12 ? 0.0 : value);
    return label.str();
  }

  std::string title_, x_label_, y_label_;
  std::vector<Layer> layers_;
  double x_min_ = std::numeric_limits<double>::infinity(), x_max_ = -x_min_;
  double y_min_ = x_min_, y_max_ = -x_min_;
};

}  // namespace tether::examples
