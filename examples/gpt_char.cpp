// A character-level decoder-only transformer (a small GPT) learns English
// words: the 63,875 lower-case words of SCOWL's American English list
// (examples/data/words.txt.gz, attribution in examples/data/README.md), one
// word a line. Every tenth word is held out for validation; each split's
// words are shuffled once by a fixed seed and joined by newlines into one
// text, so the model sees words in no particular order and must learn their
// spelling, not the list's alphabetical neighbours.
//
// The model: token embedding plus the sinusoidal position encoding, N
// pre-norm TransformerEncoderLayers (GELU, batch_first) under a causal mask,
// a final LayerNorm and a linear head to the 27 characters ('\n', a..z).
// AdamW trains it on random windows of the training text drawn by a
// data::DataLoader; every --log-every steps it prints the training loss (the
// mean since the last line) and the validation loss on fixed windows of the
// held-out text, beside the untrained baseline ln(27). At the end it samples
// words, writes the loss curves as an SVG, and saves a checkpoint;
//   gpt_char --eval-checkpoint gpt_char.safetensors
// rebuilds the model (give it the same model options), loads the checkpoint
// and prints the same validation loss.
//
// --sigma-reparam puts every linear layer inside the blocks under σReparam
// (Zhai et al., 2023: W -> gamma / sigma(W) * W; attention's packed
// in_proj_weight [3E, E] is normalised as one matrix, as torch's
// parametrizations would), and both modes print the mean entropy of each
// layer's attention weights on a validation batch: the quantity whose
// collapse σReparam is meant to prevent.
#include <svg.h>
#include <zlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace tether;

/// The characters the model reads and writes: code 0 is '\n' (the end of a
/// word), codes 1..26 are 'a'..'z'.
constexpr std::int64_t kVocab = 27;
/// The split and the shuffles do not depend on --seed, so every run and every
/// --eval-checkpoint sees the same validation text.
constexpr std::uint64_t kSplitSeed = 0;

char decode(std::int64_t code) {
  return code == 0 ? '\n' : static_cast<char>('a' + code - 1);
}

/// The training and validation texts as character codes.
struct Texts {
  std::vector<std::int64_t> train, validation;
};

/// Reads the gzipped word list at `path`, holds out every tenth word, shuffles
/// each split and joins its words by '\n'. Throws ValueError naming the file
/// (and line) when it cannot be opened or a word is not lower-case a..z.
Texts load_words(const std::string& path = TETHER_WORDS_PATH) {
  const std::unique_ptr<gzFile_s, decltype(&gzclose)> file(gzopen(path.c_str(), "rb"), &gzclose);
  if (!file) fail<ValueError>("load_words: cannot open ", path);
  std::vector<std::string> train, validation;
  char line[256];
  for (int row = 1; gzgets(file.get(), line, sizeof line); ++row) {
    std::string word(line);
    if (!word.empty() && word.back() == '\n') word.pop_back();
    if (word.empty() ||
        !std::all_of(word.begin(), word.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
      fail<ValueError>("load_words: ", path, " line ", row, ": expected a word of a..z");
    (row % 10 == 0 ? validation : train).push_back(std::move(word));
  }
  std::mt19937_64 engine(kSplitSeed);
  const auto join = [&](std::vector<std::string>& words) {
    std::shuffle(words.begin(), words.end(), engine);
    std::vector<std::int64_t> codes;
    for (const std::string& word : words) {
      for (char c : word) codes.push_back(c - 'a' + 1);
      codes.push_back(0);
    }
    return codes;
  };
  return {join(train), join(validation)};
}

/// The windows of a text: example i is {text[i, i + context), text[i + 1,
/// i + context + 1)}, the input and its next characters. The DataLoader
/// draws the windows of each batch at random. `text` must outlive the windows.
class Windows : public data::Dataset {
 public:
  Windows(const std::vector<std::int64_t>& text, std::int64_t context)
      : text_(&text), context_(context) {}

  std::int64_t size() const override { return static_cast<std::int64_t>(text_->size()) - context_; }
  data::Example get(std::int64_t index) const override {
    const std::int64_t indices[] = {index};
    data::Batch batch = get_batch(indices);
    return {batch[0].squeeze(0), batch[1].squeeze(0)};
  }
  data::Batch get_batch(std::span<const std::int64_t> indices) const override {
    const auto rows = static_cast<std::int64_t>(indices.size());
    std::vector<double> codes;
    codes.reserve(static_cast<std::size_t>(rows * (context_ + 1)));
    for (std::int64_t start : indices) {
      if (start < 0 || start >= size())
        fail<IndexError>("Windows::get_batch: window ", start, " outside [0, ", size(), ")");
      const auto first = text_->begin() + start;
      codes.insert(codes.end(), first, first + context_ + 1);
    }
    const Tensor windows = tensor(codes, {rows, context_ + 1}, DType::i64);
    return {windows.narrow(1, 0, context_), windows.narrow(1, 1, context_)};
  }

 private:
  const std::vector<std::int64_t>* text_;
  std::int64_t context_;
};

struct ModelOptions {
  std::int64_t layers = 3;
  std::int64_t d_model = 96;
  std::int64_t heads = 4;
  std::int64_t context = 64;
  double dropout = 0.0;
  bool sigma_reparam = false;
};

/// Embedding, causal pre-norm transformer blocks, LayerNorm, linear head.
class CharTransformer : public nn::Module {
 public:
  explicit CharTransformer(const ModelOptions& options)
      : positions_(nn::sinusoidal_position_encoding(options.context, options.d_model)),
        mask_(nn::generate_square_subsequent_mask(options.context)) {
    embedding =
        register_module("embedding", std::make_shared<nn::Embedding>(kVocab, options.d_model));
    nn::TransformerEncoderLayer block(options.d_model, options.heads,
                                      {.dim_feedforward = 4 * options.d_model,
                                       .dropout = options.dropout,
                                       .activation = gelu,
                                       .batch_first = true,
                                       .norm_first = true});
    encoder =
        register_module("encoder", std::make_shared<nn::TransformerEncoder>(block, options.layers));
    if (options.sigma_reparam)
      for (const auto& layer : encoder->layers) {
        auto& attention = *layer->self_attn;
        attention.in_proj_weight = sigma_reparameterize(attention.in_proj_weight);
        attention.out_proj->weight = sigma_reparameterize(attention.out_proj->weight);
        layer->linear1->weight = sigma_reparameterize(layer->linear1->weight);
        layer->linear2->weight = sigma_reparameterize(layer->linear2->weight);
      }
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(Shape{options.d_model}));
    head = register_module("head", std::make_shared<nn::Linear>(options.d_model, kVocab));
  }

  /// The blocks' input for codes [N, L] (L <= context): [N, L, d_model].
  Tensor embed(const Tensor& codes) {
    return embedding->forward(codes) + positions_.narrow(0, 0, codes.size(1));
  }
  /// The causal mask [L, L] for sequences of length L.
  Tensor mask(std::int64_t length) const { return mask_.narrow(0, 0, length).narrow(1, 0, length); }
  /// codes [N, L] -> logits [N, L, 27] of each next character.
  Tensor forward(const Tensor& codes) {
    return head->forward(norm->forward(encoder->forward(embed(codes), mask(codes.size(1)))));
  }

  std::shared_ptr<nn::Embedding> embedding;
  std::shared_ptr<nn::TransformerEncoder> encoder;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> head;

 private:
  Tensor positions_;  ///< [context, d_model], fixed
  Tensor mask_;       ///< [context, context], additive
};

/// Mean cross-entropy of the next character over `windows`' inputs and
/// targets, in eval mode, with no graph, in batches of 64 windows.
double mean_loss(CharTransformer& model, const data::Batch& windows) {
  NoGradGuard no_grad;
  model.eval();
  const std::int64_t rows = windows[0].size(0);
  double total = 0;
  for (std::int64_t start = 0; start < rows; start += 64) {
    const std::int64_t count = std::min<std::int64_t>(64, rows - start);
    const Tensor logits = model.forward(windows[0].narrow(0, start, count));
    const Tensor loss = nn::cross_entropy(logits.reshape({-1, kVocab}),
                                          windows[1].narrow(0, start, count).reshape({-1}));
    total += loss.item<double>() * static_cast<double>(count);
  }
  return total / static_cast<double>(rows);
}

/// "validation loss 1.834512 (untrained baseline ln(27) = 3.295837)": the line
/// the checkpoint test compares.
void print_validation(double loss) {
  std::printf("validation loss %.6f (untrained baseline ln(27) = %.6f)\n", loss,
              std::log(static_cast<double>(kVocab)));
}

/// The mean entropy (in nats) of each layer's attention weights per head and
/// query over `codes` [N, L], in eval mode: ln(L)-ish when attention is
/// spread, near 0 when each query attends to one key.
std::vector<double> attention_entropy(CharTransformer& model, const Tensor& codes) {
  NoGradGuard no_grad;
  model.eval();
  const Tensor mask = model.mask(codes.size(1));
  Tensor x = model.embed(codes);
  std::vector<double> entropies;
  for (const auto& layer : model.encoder->layers) {
    // norm_first: the attention reads norm1 of the block's input.
    const Tensor normed = layer->norm1->forward(x);
    const Tensor weights = layer->self_attn
                               ->forward(normed, normed, normed, {}, /*need_weights=*/true, mask,
                                         /*average_attn_weights=*/false)
                               .weights;  // [N, heads, L, L], 0 above the diagonal
    entropies.push_back(-mean(sum(xlogy(weights, weights), {-1})).item<double>());
    x = layer->forward(x, mask);
  }
  return entropies;
}

/// Prints attention_entropy over the first 64 validation windows.
void print_entropy(CharTransformer& model, const data::Batch& validation) {
  std::printf("attention entropy per layer (nats):");
  const std::int64_t rows = std::min<std::int64_t>(64, validation[0].size(0));
  for (double entropy : attention_entropy(model, validation[0].narrow(0, 0, rows)))
    std::printf(" %.4f", entropy);
  std::printf("\n");
}

/// `count` characters drawn one at a time from the model's next-character
/// distribution at `temperature`, starting after a newline.
std::string sample(CharTransformer& model, std::int64_t context, int count, double temperature) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<double> codes = {0};
  std::string text;
  for (int i = 0; i < count; ++i) {
    const auto length = std::min<std::int64_t>(context, static_cast<std::int64_t>(codes.size()));
    const std::vector<double> window(codes.end() - length, codes.end());
    const Tensor logits = model.forward(tensor(window, {1, length}, DType::i64));
    const Tensor last = logits.select(1, length - 1).squeeze(0);
    const auto next = multinomial(softmax(last / temperature, 0), 1).item<std::int64_t>();
    codes.push_back(static_cast<double>(next));
    text += decode(next);
  }
  return text;
}

struct Settings {
  ModelOptions model;
  int steps = 2000;
  int log_every = 100;
  std::int64_t batch = 32;
  double lr = 3e-3;
  double weight_decay = 0.01;
  std::int64_t validation_windows = 256;
  std::uint64_t seed = 0;
  int sample_chars = 300;
  double temperature = 0.8;
  std::string checkpoint = "gpt_char.safetensors";
  std::string svg = "gpt_char.svg";
};

/// Non-overlapping windows from the start of the validation text: the same
/// in every run, so that validation losses compare.
data::Batch validation_batch(const Settings& settings, const Texts& texts) {
  const Windows windows(texts.validation, settings.model.context);
  const std::int64_t available = windows.size() / settings.model.context;
  std::vector<std::int64_t> starts;
  for (std::int64_t i = 0; i < std::min(settings.validation_windows, available); ++i)
    starts.push_back(i * settings.model.context);
  return windows.get_batch(starts);
}

void write_svg(const Settings& settings, const std::vector<double>& steps,
               const std::vector<double>& train, const std::vector<double>& validation) {
  examples::SvgPlot plot("gpt_char: cross-entropy per character (blue train, orange validation)",
                         "step", "loss (nats)");
  const double baseline = std::log(static_cast<double>(kVocab));
  plot.line({steps.front(), steps.back()}, {baseline, baseline}, "#999999");
  plot.line(steps, train, "#1f77b4");
  plot.line(steps, validation, "#ff7f0e");
  plot.save(settings.svg);
  std::printf("wrote %s\n", settings.svg.c_str());
}

void train(const Settings& settings, const Texts& texts) {
  manual_seed(settings.seed);
  CharTransformer model(settings.model);
  const data::Batch validation = validation_batch(settings, texts);
  std::printf(
      "%s model: %lld layers, d_model %lld, %lld heads, context %lld\n",
      settings.model.sigma_reparam ? "sigma-reparam" : "plain",
      static_cast<long long>(settings.model.layers), static_cast<long long>(settings.model.d_model),
      static_cast<long long>(settings.model.heads), static_cast<long long>(settings.model.context));
  std::printf("untrained: ");
  print_validation(mean_loss(model, validation));
  optim::AdamW adamw(model.parameters(),
                     {.lr = settings.lr, .weight_decay = settings.weight_decay});
  optim::CosineAnnealingLR schedule(adamw, {.T_max = settings.steps});
  data::DataLoader loader(Windows(texts.train, settings.model.context),
                          {.batch_size = settings.batch,
                           .shuffle = true,
                           .seed = settings.seed,
                           .drop_last = true,
                           .prefetch = 2});
  std::vector<double> logged_steps, train_curve, validation_curve;
  const auto start = std::chrono::steady_clock::now();
  double loss_since_log = 0;  // summed over the steps since the last line
  int steps_since_log = 0;
  int step = 0;
  while (step < settings.steps) {
    for (const data::Batch& batch : loader) {
      model.train();
      adamw.zero_grad();
      const Tensor loss =
          nn::cross_entropy(model.forward(batch[0]).reshape({-1, kVocab}), batch[1].reshape({-1}));
      loss.backward();
      adamw.step();
      schedule.step();
      loss_since_log += loss.item<double>();
      ++steps_since_log;
      if (++step % settings.log_every == 0 || step == settings.steps) {
        logged_steps.push_back(step);
        train_curve.push_back(loss_since_log / steps_since_log);
        validation_curve.push_back(mean_loss(model, validation));
        loss_since_log = 0;
        steps_since_log = 0;
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("step %5d/%d  train loss %.4f  validation loss %.4f  %.1f s\n", step,
                    settings.steps, train_curve.back(), validation_curve.back(), seconds);
        std::fflush(stdout);
      }
      if (step == settings.steps) break;
    }
  }
  print_entropy(model, validation);
  std::printf(
      "sample (temperature %.2f):\n%s\n", settings.temperature,
      sample(model, settings.model.context, settings.sample_chars, settings.temperature).c_str());
  write_svg(settings, logged_steps, train_curve, validation_curve);
  model.save(settings.checkpoint);
  std::printf("saved %s\n", settings.checkpoint.c_str());
  print_validation(validation_curve.back());
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  ModelOptions& model = settings.model;
  std::string eval_checkpoint;
  CLI::App app("Train a character-level transformer on English words.");
  app.add_option("--layers", model.layers, "transformer blocks")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--d-model", model.d_model, "features per position")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--heads", model.heads, "attention heads (dividing --d-model)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--context", model.context, "characters the model sees")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--dropout", model.dropout, "dropout inside the blocks")->capture_default_str();
  app.add_flag("--sigma-reparam", model.sigma_reparam,
               "sigmaReparam on every linear layer inside the blocks");
  app.add_option("--steps", settings.steps, "AdamW steps")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--log-every", settings.log_every, "steps between loss lines")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--batch", settings.batch, "windows per step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--lr", settings.lr, "AdamW's peak learning rate (cosine to 0)")
      ->capture_default_str();
  app.add_option("--weight-decay", settings.weight_decay, "AdamW's decoupled weight decay")
      ->capture_default_str();
  app.add_option("--validation-windows", settings.validation_windows,
                 "held-out windows in each validation loss")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--seed", settings.seed, "seed of the weights, window order and samples")
      ->capture_default_str();
  app.add_option("--sample-chars", settings.sample_chars, "characters sampled at the end")
      ->capture_default_str();
  app.add_option("--temperature", settings.temperature, "sampling temperature")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--checkpoint", settings.checkpoint, "where the trained model is saved")
      ->capture_default_str();
  app.add_option("--svg", settings.svg, "where the loss curves are drawn")->capture_default_str();
  app.add_option("--eval-checkpoint", eval_checkpoint,
                 "instead of training, load this checkpoint (saved with the same model options) "
                 "and print its validation loss");
  CLI11_PARSE(app, argc, argv);

  const Texts texts = load_words();
  if (eval_checkpoint.empty()) {
    train(settings, texts);
    return 0;
  }
  CharTransformer loaded(model);
  loaded.load(eval_checkpoint);
  const data::Batch validation = validation_batch(settings, texts);
  print_entropy(loaded, validation);
  print_validation(mean_loss(loaded, validation));
  return 0;
}
