// A small convolutional network with spectrally normalised convolutions learns
// the UCI digits (8x8 images, examples/digits.h). The data are split once, by a
// fixed seed, into 1,437 training and 360 test images; Adam trains on shuffled
// minibatches from a data::DataLoader, its learning rate annealed by a cosine, and each epoch
// prints its mean training loss and the test accuracy. At the end the model is saved as a
// safetensors checkpoint, and
//   digits --eval-checkpoint digits.safetensors
// rebuilds the model in a fresh process, loads the checkpoint and prints the
// same test accuracy: the spectral norms' u and v and the batch norms' running
// statistics travel with the weights, so evaluation repeats exactly.
//
// With --ddp (a build with TETHER_MPI), it trains as one of several MPI
// processes (`mpirun -np 2 digits --ddp`): each rank takes a disjoint share
// of every epoch's images, a --batch / ranks part of each step's batch, and
// DistributedDataParallel averages the gradients, so the ranks train one
// model; rank 0 prints and saves it.
#include <digits.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#ifdef TETHER_DISTRIBUTED
#include <tether/distributed/ddp.h>
#include <tether/distributed/distributed.h>
#include <tether/distributed/sharding.h>
#endif

namespace {

using namespace tether;

/// The split does not depend on --seed, so that every run and every
/// --eval-checkpoint sees the same test images.
constexpr std::uint64_t kSplitSeed = 0;
constexpr std::int64_t kTestImages = 360;

struct Split {
  Tensor train_images, train_labels;  ///< [1437, 1, 8, 8], [1437]
  Tensor test_images, test_labels;    ///< [360, 1, 8, 8], [360]
};

/// 0 .. n - 1 in an order drawn from `engine`, as an i64 index tensor.
Tensor permutation(std::int64_t n, std::mt19937_64& engine) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), engine);
  return tensor(std::vector<double>(order.begin(), order.end()), {n}, DType::i64);
}

Split split_digits() {
  const auto [images, labels] = examples::load_digits();
  const std::int64_t rows = labels.size(0);
  std::mt19937_64 engine(kSplitSeed);
  const Tensor order = permutation(rows, engine);
  const Tensor train = order.narrow(0, 0, rows - kTestImages);
  const Tensor test = order.narrow(0, rows - kTestImages, kTestImages);
  const auto as_images = [&](const Tensor& index) {
    return images.index_select(0, index).reshape({-1, 1, 8, 8});
  };
  return {as_images(train), labels.index_select(0, train), as_images(test),
          labels.index_select(0, test)};
}

struct Accuracy {
  std::int64_t correct;
  std::int64_t total;
  double fraction() const { return static_cast<double>(correct) / static_cast<double>(total); }
};

/// The model's test accuracy in eval mode, with no graph.
Accuracy evaluate(nn::Sequential& model, const Split& data) {
  NoGradGuard no_grad;
  model.eval();
  const Tensor predicted = argmax(model(data.test_images), 1);
  const auto correct = sum(eq(predicted, data.test_labels)).item<std::int64_t>();
  return {correct, data.test_labels.size(0)};
}

/// "test accuracy 0.9806 (353/360)": the line the checkpoint test compares.
void print_accuracy(const Accuracy& accuracy) {
  std::printf("test accuracy %.4f (%lld/%lld)\n", accuracy.fraction(),
              static_cast<long long>(accuracy.correct), static_cast<long long>(accuracy.total));
}

struct Settings {
  int epochs = 10;
  std::int64_t batch = 32;
  double lr = 3e-3;
  std::uint64_t seed = 0;
  std::string checkpoint = "digits.safetensors";
  bool ddp = false;
};

/// The order of each epoch's training images: all of them shuffled, or with
/// --ddp this rank's shuffled share.
std::shared_ptr<const data::Sampler> epoch_sampler(const Settings& settings, std::int64_t rows) {
#ifdef TETHER_DISTRIBUTED
  if (settings.ddp)
    return std::make_shared<distributed::DistributedSampler>(
        rows, distributed::ShardOptions{.seed = settings.seed});
#endif
  return std::make_shared<data::RandomSampler>(rows, settings.seed);
}

/// The number of processes training together.
int ranks(const Settings& settings) {
#ifdef TETHER_DISTRIBUTED
  if (settings.ddp) return distributed::world_size();
#endif
  (void)settings;
  return 1;
}

/// Whether this process prints and saves: rank 0, or the only one.
bool leads(const Settings& settings) {
#ifdef TETHER_DISTRIBUTED
  if (settings.ddp) return distributed::rank() == 0;
#endif
  (void)settings;
  return true;
}

/// The mean of `value` over the processes training together.
double mean_over_ranks(const Settings& settings, double value) {
#ifdef TETHER_DISTRIBUTED
  if (settings.ddp) {
    const Tensor t = scalar_tensor(value, DType::f64);
    distributed::all_reduce(t, distributed::ReduceOp::mean);
    return t.item<double>();
  }
#endif
  (void)settings;
  return value;
}

void train(const Settings& settings, const Split& data) {
  manual_seed(settings.seed);
  const auto model = examples::make_digits_cnn();
#ifdef TETHER_DISTRIBUTED
  // Averages the ranks' gradients during each backward (rank 0's initial weights).
  std::optional<distributed::DistributedDataParallel> ddp;
  if (settings.ddp) ddp.emplace(model);
#endif
  optim::Adam adam(model->parameters(), {.lr = settings.lr});
  // The learning rate falls to 0 along a half cosine over the run, so the last
  // epochs settle instead of wandering between neighbouring minima.
  optim::CosineAnnealingLR schedule(adam, {.T_max = settings.epochs});
  // Batches in a new order each epoch (with --ddp, of this rank's share and a
  // --batch / ranks part of each step's batch); a background thread gathers
  // the next batches while the model trains on this one.
  const auto sampler = epoch_sampler(settings, data.train_labels.size(0));
  data::DataLoader loader(
      data::TensorDataset(data.train_images, data.train_labels),
      {.batch_size = std::max<std::int64_t>(1, settings.batch / ranks(settings)),
       .prefetch = 2,
       .sampler = sampler});
  const std::int64_t rows = sampler->size();
  Accuracy accuracy{0, 0};
  for (int epoch = 1; epoch <= settings.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    model->train();
    double total_loss = 0;
    for (const data::Batch& batch : loader) {
      const Tensor& images = batch[0];
      const Tensor& labels = batch[1];
      adam.zero_grad();
      const Tensor loss = nn::cross_entropy((*model)(images), labels);
      loss.backward();
      adam.step();
      total_loss += loss.item<double>() * static_cast<double>(labels.size(0));
    }
    schedule.step();
    accuracy = evaluate(*model, data);
    const double mean_loss = mean_over_ranks(settings, total_loss / static_cast<double>(rows));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (leads(settings))
      std::printf("epoch %2d  train loss %.4f  test accuracy %.4f  %.2f s\n", epoch, mean_loss,
                  accuracy.fraction(), seconds);
  }
  if (!leads(settings)) return;
  model->save(settings.checkpoint);
  std::printf("saved %s\n", settings.checkpoint.c_str());
  print_accuracy(accuracy);
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  std::string eval_checkpoint;
  CLI::App app("Train a CNN with spectrally normalised convolutions on the UCI digits.");
  app.add_option("--epochs", settings.epochs, "passes over the training images")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--batch", settings.batch, "images per Adam step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--lr", settings.lr, "Adam's learning rate")->capture_default_str();
  app.add_option("--seed", settings.seed, "seed of the initial weights, dropout and batch order")
      ->capture_default_str();
  app.add_option("--checkpoint", settings.checkpoint, "where the trained model is saved")
      ->capture_default_str();
  app.add_option("--eval-checkpoint", eval_checkpoint,
                 "instead of training, load this checkpoint and print its test accuracy");
#ifdef TETHER_DISTRIBUTED
  app.add_flag("--ddp", settings.ddp,
               "train as one of several MPI processes (mpirun -np 2 digits --ddp)");
#endif
  CLI11_PARSE(app, argc, argv);

  const Split data = split_digits();
  if (eval_checkpoint.empty()) {
#ifdef TETHER_DISTRIBUTED
    if (settings.ddp) distributed::init();
#endif
    train(settings, data);
#ifdef TETHER_DISTRIBUTED
    distributed::finalize();
#endif
    return 0;
  }
  const auto model = examples::make_digits_cnn();
  model->load(eval_checkpoint);
  print_accuracy(evaluate(*model, data));
  return 0;
}
