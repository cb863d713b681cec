// The distributed tests' runner: every rank runs the same test cases in the
// same order (their collectives must line up), between init() and finalize().
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "tether/distributed/distributed.h"

int main(int argc, char** argv) {
  tether::distributed::init();
  const int failures = Catch::Session().run(argc, argv);
  tether::distributed::finalize();
  return failures == 0 ? 0 : 1;
}
