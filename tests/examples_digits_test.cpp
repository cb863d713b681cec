// examples/digits.h: the digits data set as tensors.
#include <digits.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

using namespace tether;

TEST_CASE("the digits loader returns 1797 scaled images with labels 0..9", "[data]") {
  const auto [images, labels] = examples::load_digits();
  CHECK(images.shape() == Shape{1797, 64});
  CHECK(images.dtype() == DType::f32);
  CHECK(labels.shape() == Shape{1797});
  CHECK(labels.dtype() == DType::i64);

  // zcat examples/data/digits.csv.gz | head -1: the first image, a zero.
  const std::vector<double> first_row = {0, 0, 5,  13, 9,  1,  0, 0, 0, 0, 13, 15, 10, 15, 5, 0,
                                         0, 3, 15, 2,  0,  11, 8, 0, 0, 4, 12, 0,  0,  8,  8, 0,
                                         0, 5, 8,  0,  0,  9,  8, 0, 0, 4, 11, 0,  1,  12, 7, 0,
                                         0, 2, 14, 5,  10, 12, 0, 0, 0, 0, 6,  13, 10, 0,  0, 0};
  const std::vector<float> pixels = images.select(0, 0).to_vector<float>();
  REQUIRE(pixels.size() == first_row.size());
  for (std::size_t i = 0; i < pixels.size(); ++i) CHECK(pixels[i] == first_row[i] / 16);
  const std::vector<std::int64_t> all = labels.to_vector<std::int64_t>();
  CHECK(all[0] == 0);
  CHECK(std::set<std::int64_t>(all.begin(), all.end()) ==
        std::set<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("the digits loader names a file it cannot open", "[data]") {
  CHECK_THROWS_WITH(examples::load_digits("/nonexistent/digits.csv.gz"),
                    Catch::Contains("load_digits: cannot open /nonexistent/digits.csv.gz"));
}
