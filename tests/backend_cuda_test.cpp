// The CUDA backend against the CPU one: the whole op table (values in f64 and
// f32, first and second derivatives), transfers, the caching allocator, errors,
// and computed parameters on the GPU. Without a usable CUDA device (or a build
// without CUDA) each test prints the skip marker below, which ctest reports as
// skipped (SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt).
#include <catch2/catch.hpp>

#include <cmath>
#include <iostream>
#include <string>

#include "doubling.h"
#include "op_table.h"

namespace tether::op_table {
namespace {

constexpr Device kCuda = Device::cuda();

/// Prints the skip marker and returns true when no CUDA device is usable.
bool skip_without_cuda() {
  if (cuda_is_available()) return false;
  std::cout << "TETHER_TEST_SKIPPED: no usable CUDA device in this build or machine" << std::endl;
  return true;
}

/// Sets table_device() for a scope.
class TableDevice {
 public:
  explicit TableDevice(Device device) : previous_(table_device()) { table_device() = device; }
  ~TableDevice() { table_device() = previous_; }
  TableDevice(const TableDevice&) = delete;
  TableDevice& operator=(const TableDevice&) = delete;

 private:
  Device previous_;
};

/// `gpu` (on CUDA) has cpu's shape and dtype and its values to `tolerance`
/// (relative, or absolute near zero).
void check_matches(const Tensor& gpu, const Tensor& cpu, double tolerance) {
  CHECK(gpu.device() == kCuda);
  CHECK(gpu.dtype() == cpu.dtype());
  REQUIRE(gpu.shape() == cpu.shape());
  const std::vector<double> got = gpu.to_vector<double>(), want = cpu.to_vector<double>();
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i << ": CUDA " << got[i] << ", CPU " << want[i]);
    CHECK(got[i] == Approx(want[i]).epsilon(tolerance).margin(tolerance));
  }
}

/// Leaf copies of CPU inputs on CUDA, requiring grad like the originals.
Inputs leaves_on_cuda(const Inputs& inputs) {
  Inputs out;
  for (const auto& x : inputs) {
    Tensor leaf = x.detach().to(kCuda);
    if (x.requires_grad()) leaf.requires_grad_();
    out.push_back(leaf);
  }
  return out;
}

/// grads[i] on CUDA match cpu_grads[i] (both undefined where no gradient flows).
void check_gradients(const std::vector<Tensor>& grads, const std::vector<Tensor>& cpu_grads) {
  REQUIRE(grads.size() == cpu_grads.size());
  for (std::size_t i = 0; i < grads.size(); ++i) {
    INFO("gradient of input " << i);
    REQUIRE(grads[i].defined() == cpu_grads[i].defined());
    if (grads[i].defined()) check_matches(grads[i], cpu_grads[i], 1e-12);
  }
}

/// Values, gradients (with a random cotangent) and, for second-order entries,
/// the gradient of a random projection of those gradients: CUDA against CPU
/// (or, for an entry CUDA does not compute, its DTypeError).
void check_case_on_cuda(const OpCase& cpu_case, const OpCase& cuda_case) {
  if (!cpu_case.on_cuda) {
    const TableDevice on_cuda(kCuda);
    CHECK_THROWS_AS(cuda_case.f(cuda_case.value_inputs), DTypeError);
    return;
  }
  {
    INFO("f64 values");
    const Tensor want = cpu_case.f(cpu_case.value_inputs);
    const TableDevice on_cuda(kCuda);
    check_matches(cuda_case.f(cuda_case.value_inputs), want, 1e-12);
  }
  {
    INFO("f32 values");
    const Tensor want = cpu_case.f(to_f32(cpu_case.value_inputs));
    const TableDevice on_cuda(kCuda);
    check_matches(cuda_case.f(to_f32(cuda_case.value_inputs)), want, 1e-5);
  }
  if (!cpu_case.grad_inputs) return;
  manual_seed(20240607);
  const Inputs inputs = cpu_case.grad_inputs();
  const Inputs cuda_inputs = leaves_on_cuda(inputs);
  const bool second = cpu_case.second_order;
  const Tensor out = cpu_case.f(inputs);
  const Tensor cotangent = randn(out.shape(), DType::f64);
  const std::vector<Tensor> grads =
      autograd::grad({out}, inputs, {cotangent}, second, second, true);
  std::vector<Tensor> cuda_grads;
  {
    const TableDevice on_cuda(kCuda);
    const Tensor cuda_out = cuda_case.f(cuda_inputs);
    INFO("f64 values on random inputs");
    check_matches(cuda_out, out, 1e-12);
    cuda_grads =
        autograd::grad({cuda_out}, cuda_inputs, {cotangent.to(kCuda)}, second, second, true);
  }
  {
    INFO("first derivatives");
    check_gradients(cuda_grads, grads);
  }
  if (!second) return;
  // d/dx sum_i <grad_i, w_i> for random w: a Hessian-vector product.
  Tensor projection, cuda_projection;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined() || !grads[i].requires_grad()) continue;
    const Tensor w = randn(grads[i].shape(), DType::f64);
    const Tensor term = sum(grads[i] * w), cuda_term = sum(cuda_grads[i] * w.to(kCuda));
    projection = projection.defined() ? projection + term : term;
    cuda_projection = cuda_projection.defined() ? cuda_projection + cuda_term : cuda_term;
  }
  if (!projection.defined()) return;
  INFO("second derivatives");
  const TableDevice on_cuda(kCuda);
  check_gradients(autograd::grad({cuda_projection}, cuda_inputs, {}, false, false, true),
                  autograd::grad({projection}, inputs, {}, false, false, true));
}

void check_family_on_cuda(std::vector<OpCase> (*family)()) {
  if (skip_without_cuda()) return;
  const std::vector<OpCase> cpu_cases = family();
  std::vector<OpCase> cuda_cases;
  {
    const TableDevice on_cuda(kCuda);
    cuda_cases = family();
  }
  REQUIRE(cuda_cases.size() == cpu_cases.size());
  for (std::size_t i = 0; i < cpu_cases.size(); ++i) {
    DYNAMIC_SECTION("CUDA " << cpu_cases[i].op << " / " << cpu_cases[i].variant) {
      check_case_on_cuda(cpu_cases[i], cuda_cases[i]);
    }
  }
}

TEST_CASE("element-wise ops on CUDA match the CPU", "[cuda]") {
  check_family_on_cuda(elementwise_cases);
}

TEST_CASE("reductions on CUDA match the CPU", "[cuda]") {
  check_family_on_cuda(reduction_cases);
}

TEST_CASE("matrix products on CUDA match the CPU", "[cuda]") {
  check_family_on_cuda(linalg_cases);
}

TEST_CASE("shape and indexing ops on CUDA match the CPU", "[cuda]") {
  check_family_on_cuda(shape_cases);
}

TEST_CASE("attention on CUDA matches the CPU", "[cuda]") {
  check_family_on_cuda(attention_cases);
}

TEST_CASE("sorting, selection and splitting ops on CUDA match the CPU", "[cuda]") {
  check_family_on_cuda(sort_cases);
}

TEST_CASE("scans and layout ops on CUDA match the CPU", "[cuda]") {
  check_family_on_cuda(scan_cases);
}

TEST_CASE("einsum, bmm and baddbmm on CUDA match the CPU", "[cuda]") {
  check_family_on_cuda(einsum_cases);
}

TEST_CASE("im2col and col2im on CUDA match the CPU", "[cuda]") {
  check_family_on_cuda(conv_cases);
}

TEST_CASE("ops without a gradient on CUDA match the CPU", "[cuda]") {
  check_family_on_cuda(value_only_cases);
}

TEST_CASE("masked_fill and masked_select on CUDA match the CPU", "[cuda]") {
  check_family_on_cuda(mask_op_cases);
}

TEST_CASE("large reductions and products on CUDA match the CPU", "[cuda]") {
  if (skip_without_cuda()) return;
  // Few outputs over many elements take the split (two-launch) path.
  CHECK(ones({1 << 22}, TensorOptions().with_device(kCuda)).sum().item<float>() == 4194304.0f);
  const Tensor x = randn({1000, 300}, DType::f64);
  const Tensor g = x.to(kCuda);
  for (const auto& [name, f] : std::vector<std::pair<std::string, Tensor (*)(const Tensor&)>>{
           {"sum", [](const Tensor& t) { return sum(t); }},
           {"amax over dim 0", [](const Tensor& t) { return amax(t, {0}); }},
           {"amin over dim 1", [](const Tensor& t) { return amin(t, {1}); }},
           {"sum of a transpose over dim 1", [](const Tensor& t) { return sum(t.t(), {1}); }},
           {"argmax over dim 0", [](const Tensor& t) { return argmax(t, 0); }}}) {
    INFO(name);
    check_matches(f(g), f(x), 1e-12);
  }
  const Tensor a = randn({3, 65, 129}, DType::f64), b = randn({129, 33}, DType::f64);
  INFO("batched product with a shared right operand");
  check_matches(matmul(a.to(kCuda), b.to(kCuda)), matmul(a, b), 1e-12);
  INFO("transposed operands");
  check_matches(matmul(b.t().to(kCuda), a.to(kCuda).transpose(1, 2)),
                matmul(b.t(), a.transpose(1, 2)), 1e-12);
  INFO("f32");
  check_matches(matmul(a.to(DType::f32).to(kCuda), b.to(DType::f32).to(kCuda)),
                matmul(a.to(DType::f32), b.to(DType::f32)), 1e-5);
}

TEST_CASE("non-contiguous views round-trip between CPU and CUDA", "[cuda]") {
  if (skip_without_cuda()) return;
  const Tensor x = randn({3, 4, 5}, DType::f64);
  for (const auto& [name, view] : std::vector<std::pair<std::string, Tensor>>{
           {"permute", x.permute({2, 0, 1})},
           {"narrow", x.narrow(1, 1, 2)},
           {"expand", x.narrow(0, 0, 1).expand({6, 4, 5})},
           {"select of a transpose", x.transpose(0, 2).select(1, 3)}}) {
    INFO(name);
    const Tensor on_gpu = view.to(kCuda);
    CHECK(on_gpu.device() == kCuda);
    CHECK(on_gpu.to(Device::cpu()).to_vector<double>() == view.to_vector<double>());
    INFO("a view of a CUDA tensor, converted to f32 on the way back");
    check_matches(x.to(kCuda).permute({2, 0, 1}).to(DType::f32),
                  x.permute({2, 0, 1}).to(DType::f32), 0.0);
  }
}

TEST_CASE("factories with a CUDA device match their CPU values", "[cuda]") {
  if (skip_without_cuda()) return;
  const TensorOptions on_gpu = TensorOptions(DType::f64).with_device(kCuda);
  manual_seed(7);
  const Tensor cpu = randn({4, 5}, DType::f64);
  manual_seed(7);
  check_matches(randn({4, 5}, on_gpu), cpu, 0.0);
  check_matches(eye(3, 4, on_gpu), eye(3, 4, DType::f64), 0.0);
  check_matches(arange(0.0, 5.0, 0.5, on_gpu), arange(0.0, 5.0, 0.5, DType::f64), 0.0);
  check_matches(full({2, 3}, -2.5, on_gpu), full({2, 3}, -2.5, DType::f64), 0.0);
  check_matches(zeros({2, 3}, TensorOptions(DType::i64).with_device(kCuda)),
                zeros({2, 3}, DType::i64), 0.0);
}

TEST_CASE("a training loop on CUDA allocates from the system only in its first step", "[cuda]") {
  if (skip_without_cuda()) return;
  const TensorOptions on_gpu = TensorOptions().with_device(kCuda);
  Tensor w = randn({64, 32}, on_gpu).requires_grad_();
  const Tensor x = randn({16, 64}, on_gpu);
  Allocator& gpu_memory = allocator(kCuda);
  std::uint64_t after_first_step = 0;
  for (int step = 0; step < 5; ++step) {
    tanh(x.matmul(w)).sum().backward();
    {
      NoGradGuard no_grad;
      w.sub_(w.grad(), 0.1);
      w.set_grad(Tensor());
    }
    if (step == 0) after_first_step = gpu_memory.stats().system_allocs;
  }
  CHECK(gpu_memory.stats().system_allocs == after_first_step);
  CHECK(gpu_memory.stats().cache_hits > 0);
}

TEST_CASE("an op mixing CPU and CUDA tensors names both devices", "[cuda]") {
  if (skip_without_cuda()) return;
  const Tensor a = ones({2}), b = ones({2}, TensorOptions().with_device(kCuda));
  CHECK_THROWS_AS(a + b, DeviceError);
  CHECK_THROWS_WITH(a + b, Catch::Matchers::Contains("cpu") && Catch::Matchers::Contains("cuda:0"));
  CHECK_THROWS_AS(a.matmul(b), DeviceError);
}

TEST_CASE("CUDA kernels report bad indices and integers to negative powers", "[cuda]") {
  if (skip_without_cuda()) return;
  const TensorOptions ints_on_gpu = TensorOptions(DType::i64).with_device(kCuda);
  const Tensor x = ones({3, 2}, TensorOptions().with_device(kCuda));
  const Tensor bad_index = tensor({0, 3}, {2}, ints_on_gpu);
  CHECK_THROWS_AS(index_select(x, 0, bad_index), IndexError);
  CHECK_THROWS_WITH(index_select(x, 0, bad_index),
                    Catch::Matchers::Contains("index 3 is out of range"));
  CHECK_THROWS_AS(pow(tensor({2, 2}, {2}, ints_on_gpu), tensor({1, -1}, {2}, ints_on_gpu)),
                  ValueError);
  CHECK(pow(tensor({3, -2}, {2}, ints_on_gpu), tensor({2, 3}, {2}, ints_on_gpu))
            .to_vector<std::int64_t>() == std::vector<std::int64_t>{9, -8});
  // Division of integers is true division, as in PyTorch.
  const Tensor quotient = div(tensor({7, -7}, {2}, ints_on_gpu), tensor({2, 0}, {2}, ints_on_gpu));
  CHECK(quotient.dtype() == DType::f32);
  CHECK(quotient.to_vector<float>() == std::vector<float>{3.5f, -INFINITY});
}

TEST_CASE("moving a tensor to a missing CUDA device is a DeviceError that says so", "[cuda]") {
  const Tensor x = ones({2});
  const Device missing = Device::cuda(device_count(DeviceType::cuda));
  CHECK_THROWS_AS(x.to(missing), DeviceError);
  CHECK_THROWS_WITH(x.to(missing), Catch::Matchers::Contains("cuda"));
  CHECK(cuda_is_available() == (device_count(DeviceType::cuda) > 0));
}

void sgd_step(Tensor leaf, double lr) {
  NoGradGuard no_grad;
  leaf.sub_(leaf.grad(), lr);
  leaf.set_grad(Tensor());
}

TEST_CASE("a computed parameter on CUDA recomputes only after an optimizer step", "[cuda]") {
  if (skip_without_cuda()) return;
  const auto constraint = std::make_shared<testing::Doubling>();
  const Tensor raw = randn({2, 3}, TensorOptions(DType::f64).with_device(kCuda));
  ComputedParameter parameter(constraint, {raw});
  const Tensor value = parameter.value();
  CHECK(parameter.value().is_same(value));
  CHECK(constraint->calls == 1);
  CHECK(value.device() == kCuda);
  parameter.value().sum().backward();
  sgd_step(parameter.raw_inputs()[0], 0.1);
  parameter.value();
  parameter.value();
  CHECK(constraint->calls == 2);
}

TEST_CASE("spectral norm on CUDA matches the CPU through training steps", "[cuda]") {
  if (skip_without_cuda()) return;
  const Tensor weight = randn({4, 3}, DType::f64);
  manual_seed(11);
  const auto on_cpu = spectrally_normalize(make_parameter(weight.clone()));
  manual_seed(11);
  const auto on_gpu = spectrally_normalize(make_parameter(weight.to(kCuda)));
  for (int step = 0; step < 3; ++step) {
    INFO("step " << step);
    check_matches(on_gpu->value(), on_cpu->value(), 1e-10);
    CHECK(on_gpu->value().is_same(on_gpu->value()));  // cached until the step below
    const Tensor target = randn({4, 3}, DType::f64);
    for (const auto& [parameter, t] :
         {std::pair{on_cpu, target}, std::pair{on_gpu, target.to(kCuda)}}) {
      (parameter->value() - t).pow(2.0).sum().backward();
      sgd_step(parameter->raw_inputs()[0], 0.05);
    }
  }
  const SpectralNormCheck check = check_spectral_norm(*on_gpu);
  CHECK(check.estimate == Approx(check.exact).epsilon(1e-3));
}

TEST_CASE("Adam's fused step on CUDA matches the CPU", "[cuda]") {
  if (skip_without_cuda()) return;
  const Tensor start = randn({3, 5}, DType::f64);
  Tensor on_cpu = start.clone().requires_grad_(), on_gpu = start.to(kCuda).requires_grad_();
  optim::Adam cpu_adam({on_cpu}, {.lr = 0.1}), gpu_adam({on_gpu}, {.lr = 0.1});
  for (int step = 0; step < 3; ++step) {
    const Tensor target = randn({3, 5}, DType::f64);
    (on_cpu - target).pow(2.0).sum().backward();
    (on_gpu - target.to(kCuda)).pow(2.0).sum().backward();
    cpu_adam.step();
    gpu_adam.step();
    cpu_adam.zero_grad();
    gpu_adam.zero_grad();
  }
  check_matches(on_gpu, on_cpu, 1e-12);
}

TEST_CASE("a strided, padded, grouped Conv2d and a max pool on CUDA match the CPU", "[cuda]") {
  if (skip_without_cuda()) return;
  manual_seed(5);
  nn::Conv2d conv(4, 6, {3, 2}, 2, 1, 1, 2, true, DType::f64);
  nn::MaxPool2d pool(2);
  const Tensor x = randn({2, 4, 9, 8}, DType::f64);
  const Tensor on_cpu = pool(conv(x));
  on_cpu.sum().backward();
  const Tensor weight_grad = conv.weight->value().grad().clone();
  conv.zero_grad();
  conv.to(kCuda);
  const Tensor on_gpu = pool(conv(x.to(kCuda)));
  check_matches(on_gpu, on_cpu, 1e-12);
  on_gpu.sum().backward();
  check_matches(conv.weight->value().grad(), weight_grad, 1e-12);
}

}  // namespace
}  // namespace tether::op_table
