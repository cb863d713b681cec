// One AdamW training step of a tiny GPT: the workload of the peers'
// transformer_step (../shared/peers/transformer_step.cpp defines it in its
// header), so the two programs time the same arithmetic. A character-level
// decoder-only transformer in f32: vocabulary 65, context 64, d_model 128, 4
// heads, 4 pre-norm layers (attention with a causal mask, then a GELU MLP of
// width 4 d_model), learned token and position embeddings, a final LayerNorm
// and an untied head. Batches of 16 random token sequences (4 of them, made
// once and cycled); one step is zero_grad, forward, cross_entropy over the
// B T positions, backward and AdamW (lr 3e-4, weight decay 0.1). Variants:
//   plain          every weight a raw parameter
//   sigma_reparam  sigmaReparam (Zhai et al., 2023) on every Linear inside the
//                  blocks: the packed q/k/v projection, out_proj, linear1 and
//                  linear2, through constraints::sigma_reparameterize
// The blocks are nn::TransformerEncoderLayer (norm_first, batch_first, GELU,
// no dropout), which computes what the peer's hand-written block does.
//
// Figures: time per step (median over samples), the step's matmul work as the
// peer counts it (2 P_mm B T 3 + 2 2 B T T C L 3 FLOP), and the time that
// work takes at this core's FMA peak, measured by peak_fma.h in the same run.
#include <tether/tether.h>

#include <memory>
#include <string>
#include <vector>

#include "bench.h"
#include "peak_fma.h"

namespace {

using namespace tether;

constexpr std::int64_t kVocab = 65, kContext = 64, kDim = 128, kHeads = 4, kLayers = 4;
constexpr std::int64_t kBatch = 16, kBatches = 4;

class TinyGpt : public nn::Module {
 public:
  explicit TinyGpt(bool sigma_reparam)
      : mask_(nn::generate_square_subsequent_mask(kContext)),
        positions_(arange(kContext).unsqueeze(0)) {
    tokens = register_module("tok_emb", std::make_shared<nn::Embedding>(kVocab, kDim));
    position = register_module("pos_emb", std::make_shared<nn::Embedding>(kContext, kDim));
    nn::TransformerEncoderLayer block(kDim, kHeads,
                                      {.dim_feedforward = 4 * kDim,
                                       .dropout = 0.0,
                                       .activation = gelu,
                                       .batch_first = true,
                                       .norm_first = true});
    blocks = register_module("blocks", std::make_shared<nn::TransformerEncoder>(block, kLayers));
    if (sigma_reparam)
      for (const auto& layer : blocks->layers) {
        nn::MultiheadAttention& attention = *layer->self_attn;
        attention.in_proj_weight = sigma_reparameterize(attention.in_proj_weight);
        attention.out_proj->weight = sigma_reparameterize(attention.out_proj->weight);
        layer->linear1->weight = sigma_reparameterize(layer->linear1->weight);
        layer->linear2->weight = sigma_reparameterize(layer->linear2->weight);
      }
    norm = register_module("ln_f", std::make_shared<nn::LayerNorm>(Shape{kDim}));
    head = register_module("head", std::make_shared<nn::Linear>(kDim, kVocab));
  }

  /// Token ids [B, T] -> logits [B, T, vocabulary].
  Tensor forward(const Tensor& ids) {
    const Tensor x = tokens->forward(ids) + position->forward(positions_);
    return head->forward(norm->forward(blocks->forward(x, mask_)));
  }

  std::shared_ptr<nn::Embedding> tokens, position;
  std::shared_ptr<nn::TransformerEncoder> blocks;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> head;

 private:
  Tensor mask_;       ///< [T, T], additive and causal
  Tensor positions_;  ///< [1, T]: 0, 1, ..., T - 1
};

struct Batch {
  Tensor inputs, targets;  ///< ids [B, T] and the next ids [B, T]
};

class Training {
 public:
  Training(bool sigma_reparam, const std::vector<Batch>& batches) : batches_(batches) {
    manual_seed(0);  // each variant starts from the same draws, as the peer's
    model_ = std::make_unique<TinyGpt>(sigma_reparam);
    model_->train();
    adamw_ = std::make_unique<optim::AdamW>(model_->parameters(),
                                            optim::AdamOptions{.lr = 3e-4, .weight_decay = 0.1});
  }

  /// One training step on the next batch; returns its loss.
  Tensor step() {
    const Batch& batch = batches_[next_++ % batches_.size()];
    adamw_->zero_grad();
    const Tensor logits = model_->forward(batch.inputs);
    const Tensor loss =
        nn::cross_entropy(logits.reshape({-1, kVocab}), batch.targets.reshape({-1}));
    loss.backward();
    adamw_->step();
    return loss;
  }

 private:
  const std::vector<Batch>& batches_;
  std::unique_ptr<TinyGpt> model_;
  std::unique_ptr<optim::AdamW> adamw_;
  std::size_t next_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"transformer_step: one AdamW step of a 4-layer, d_model 128 character GPT"};
  bench::Options options;
  options.add_flags(app);
  std::string libtorch_results;
  app.add_option("--libtorch", libtorch_results,
                 "file with the RESULT lines of the peers' libtorch transformer_step, run in this "
                 "session (scripts/bench does it when LIBTORCH_TRANSFORMER_STEP is set)");
  CLI11_PARSE(app, argc, argv);

  manual_seed(0);
  std::vector<Batch> batches;
  for (std::int64_t i = 0; i < kBatches; ++i) {
    const Tensor ids = randint(0, kVocab, {kBatch, kContext + 1});
    batches.push_back(
        {ids.narrow(1, 0, kContext).contiguous(), ids.narrow(1, 1, kContext).contiguous()});
  }
  const std::vector<std::string> variants = {"plain", "sigma_reparam"};
  std::vector<std::unique_ptr<Training>> runs;
  std::vector<bench::Body> bodies;
  std::vector<float> last_loss(variants.size());
  for (std::size_t v = 0; v < variants.size(); ++v) {
    runs.push_back(std::make_unique<Training>(variants[v] == "sigma_reparam", batches));
    bodies.push_back([&training = *runs.back(), &loss = last_loss[v]](long calls) {
      Tensor last;
      for (long i = 0; i < calls; ++i) last = training.step();
      loss = last.item<float>();
    });
  }
  const std::vector<bench::Measurement> measured = bench::measure(bodies, options);

  for (std::size_t v = 0; v < variants.size(); ++v) {
    const std::string name = "transformer_step_" + variants[v];
    bench::figure(name, measured[v].median * 1e6, "us");
    bench::describe(name, measured[v], 1e6, "us", "step");
    bench::comment(name + ": loss after the last step " + bench::format_value(last_loss[v]));
  }
  if (!libtorch_results.empty())
    for (auto& peer : bench::read_libtorch_results(libtorch_results, "transformer_step")) {
      const std::size_t v = peer["variant"] == "plain" ? 0 : 1;
      bench::figure("transformer_step_" + variants[v] + ".vs_libtorch",
                    measured[v].median * 1e6 / std::stod(peer["median"]), "ratio");
    }
  bench::figure("transformer_step_sigma_reparam.vs_plain", measured[1].median / measured[0].median,
                "ratio");
  const double rows = static_cast<double>(kBatch * kContext);
  const double matmul_weights = static_cast<double>(kLayers * 12 * kDim * kDim + kDim * kVocab);
  const double flop = 2 * matmul_weights * rows * 3 +
                      2.0 * 2 * rows * static_cast<double>(kContext * kDim * kLayers) * 3;
  bench::figure("transformer_step_flop", flop * 1e-9, "GFLOP");
  const double peak = bench::print_peak_fma("transformer_step");
  if (peak > 0) {
    bench::figure("transformer_step_cpu_bound", flop / (peak * 1e9) * 1e6, "us");
    bench::figure("transformer_step_plain.vs_bound", measured[0].median / (flop / (peak * 1e9)),
                  "ratio");
  }
  return 0;
}
