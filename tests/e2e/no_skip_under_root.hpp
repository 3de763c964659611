// Root is the only prerequisite an end-to-end test may skip for. Without root a test skips (a
// plain `ctest` as a user stays green); as root (scripts/test.sh, CI) every other prerequisite is
// the test environment's job (scripts/install-deps.sh, the kernel the suite targets), so a missing
// one is a failure: CI must never go green by skipping.
//
// Every e2e test file includes this header. Besides the macro, it registers a global test
// environment that fails the test program when, run as root, any test skipped anyway (a
// GTEST_SKIP added later, or one hidden in a helper): GoogleTest then exits non-zero, and ctest
// reports the test as failed.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

// Skips the test when not root; `what` says what needs it.
#define FTPALG_E2E_SKIP_UNLESS_ROOT(what)                                  \
  do {                                                                     \
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (" << (what) << ")"; \
  } while (0)

namespace ftpalg::e2e {

class NoSkipUnderRoot : public ::testing::Environment {
 public:
  void TearDown() override {
    if (::geteuid() != 0) return;
    const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
    if (unit.skipped_test_count() == 0) return;
    std::string names;
    for (int s = 0; s < unit.total_test_suite_count(); ++s) {
      const ::testing::TestSuite& suite = *unit.GetTestSuite(s);
      for (int t = 0; t < suite.total_test_count(); ++t) {
        const ::testing::TestInfo& info = *suite.GetTestInfo(t);
        if (info.result()->Skipped()) names += std::string(" ") + suite.name() + "." + info.name();
      }
    }
    ADD_FAILURE() << "run as root, " << unit.skipped_test_count()
                  << " test(s) skipped; an end-to-end test may skip only for want of root:" << names;
  }
};

inline ::testing::Environment* const kNoSkipUnderRoot =
    ::testing::AddGlobalTestEnvironment(new NoSkipUnderRoot);

}  // namespace ftpalg::e2e
