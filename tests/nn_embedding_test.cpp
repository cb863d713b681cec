// nn::Embedding's constructors: the calls people write compile and mean what
// they say (the padding row's behaviour is nn_transformer_test.cpp's).
#include <catch2/catch.hpp>

#include <memory>
#include <optional>

#include "tether/tether.h"

namespace tether {
namespace {

TEST_CASE("Embedding(n, d, {}) means default options, an integer third argument a padding_idx",
          "[nn][embedding]") {
  const nn::Embedding braces(4, 3, {});
  CHECK_FALSE(braces.padding_idx());
  CHECK(braces.weight->value().dtype() == default_float_dtype);

  const nn::Embedding dtype(4, 3, DType::f64);
  CHECK_FALSE(dtype.padding_idx());
  CHECK(dtype.weight->value().dtype() == DType::f64);

  CHECK(nn::Embedding(4, 3, 0).padding_idx() == 0);
  CHECK(nn::Embedding(4, 3, -1, {}).padding_idx() == 3);
  CHECK(nn::Embedding(4, 3, std::int64_t{2}, DType::f64).padding_idx() == 2);
  CHECK_FALSE(nn::Embedding(4, 3, std::nullopt).padding_idx());
  const std::optional<std::int64_t> from_config = 1;
  CHECK(nn::Embedding(4, 3, from_config).padding_idx() == 1);
  CHECK(nn::Embedding(4, 3, {}, DType::f64).weight->value().dtype() == DType::f64);
  CHECK(std::make_shared<nn::Embedding>(4, 3, 1)->padding_idx() == 1);
}

}  // namespace
}  // namespace tether
