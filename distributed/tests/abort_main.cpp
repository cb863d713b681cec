// Rank 1 throws and no one catches it, while rank 0 waits for it in an
// all-reduce: init()'s terminate handler must print rank 1's error and end
// every rank (the ctest test has a timeout).
#include "tether/distributed/distributed.h"
#include "tether/ops.h"

int main() {
  namespace distributed = tether::distributed;
  distributed::init();
  if (distributed::rank() == 1) throw tether::ValueError("rank 1 fails on purpose");
  distributed::all_reduce(tether::ones({4}));
  distributed::finalize();
}
