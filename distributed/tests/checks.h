// What the distributed tests share.
#pragma once

#include <catch2/catch.hpp>

#include <string>

namespace tether::testing {

/// Runs `f` once (a collective must not run twice on one rank alone), which
/// must throw E with a message that `message` matches.
template <class E, class F, class Matcher>
void check_throws(F&& f, const Matcher& message) {
  try {
    f();
  } catch (const E& e) {
    const std::string what = e.what();
    CHECK_THAT(what, message);
    return;
  }
  FAIL("expected an exception");
}

}  // namespace tether::testing
