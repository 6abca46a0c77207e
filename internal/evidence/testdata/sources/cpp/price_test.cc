// Tests with a disabled, a skipped and (with SHOP_BREAK=1) a failing case.
#include <cstdlib>
#include <gtest/gtest.h>

static int withTax(int cents) { return cents * 119 / 100; }

TEST(Price, WithTax) { EXPECT_EQ(withTax(100), 119); }
TEST(Price, Rounding) {
  EXPECT_EQ(withTax(1), std::getenv("SHOP_BREAK") ? 2 : 1);
}
TEST(Price, DISABLED_Currency) { EXPECT_EQ(1, 2); }
TEST(Price, Refund) { GTEST_SKIP() << "refunds pending product decision"; }
