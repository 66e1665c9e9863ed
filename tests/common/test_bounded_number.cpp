#include <gtest/gtest.h>

#include "fastbert/common/bounded_number.h"
#include "fastbert/common/error.h"
#include "fastbert/common/memory.h"
#include "fastbert/common/threads.h"

namespace fastbert {
namespace {

TEST(BoundedNumber, IntegerOutsideItsRangeGetsOneMessageNamingValueAndRange) {
  EXPECT_EQ(integer_problem("100000", 0, 1024), "100000 is out of range [0, 1024]");
  EXPECT_EQ(integer_problem("-1", 0, 1024), "-1 is out of range [0, 1024]");
  // Too large for int64: out of range, not wrapped and not "stoll".
  EXPECT_EQ(integer_problem("99999999999999999999", 0, 1024), "99999999999999999999 is out of range [0, 1024]");
  EXPECT_EQ(integer_problem("-99999999999999999999", 0, 1024), "-99999999999999999999 is out of range [0, 1024]");
  EXPECT_EQ(integer_problem("2.5", 0, 1024), "\"2.5\" is not an integer in [0, 1024]");
  EXPECT_EQ(integer_problem("", 0, 1024), "\"\" is not an integer in [0, 1024]");
  EXPECT_EQ(integer_problem("12abc", 0, 1024), "\"12abc\" is not an integer in [0, 1024]");
  EXPECT_EQ(integer_problem("1024", 0, 1024), "");
  EXPECT_EQ(integer_problem("+7", 0, 1024), "");
  EXPECT_EQ(integer_problem("9223372036854775807", 0, INT64_MAX), "");
}

TEST(BoundedNumber, ParseThrowsWithTheNameAndReturnsTheValue) {
  EXPECT_EQ(parse_bounded_integer("--threads", "+12", 0, 1024), 12);
  try {
    parse_bounded_integer("--threads", "100000", 0, 1024);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--threads: 100000 is out of range [0, 1024]");
  }
  EXPECT_THROW(check_bounded("step", -5, 0, 10), Error);
  EXPECT_NO_THROW(check_bounded("step", 10, 0, 10));
}

TEST(BoundedNumber, RealNumbersRefuseNanInfinityAndTheOutside) {
  EXPECT_EQ(number_problem("0.5", 0, 1), "");
  EXPECT_EQ(number_problem("1.5", 0, 1), "1.5 is out of range [0, 1]");
  EXPECT_EQ(number_problem("nan", 0, 1), "\"nan\" is not a number in [0, 1]");
  EXPECT_EQ(number_problem("inf", 0, 1), "inf is out of range [0, 1]");
  EXPECT_EQ(number_problem("1e999", 0, 1), "1e999 is out of range [0, 1]");
  EXPECT_EQ(number_problem("x", 0, 1), "\"x\" is not a number in [0, 1]");
  EXPECT_DOUBLE_EQ(parse_bounded_number("--sparse-threshold", "0.25", 0, 1), 0.25);
}

TEST(Threads, CountsOutsideTheStatedRangeAreRefusedNotPassedToOpenMp) {
  EXPECT_THROW(set_num_threads(-1), Error);
  EXPECT_THROW(set_num_threads(kMaxThreads + 1), Error);
  EXPECT_THROW(set_num_threads(100000), Error);
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
}

TEST(Memory, MoreThanIsAvailableIsRefusedWithBothAmounts) {
  ASSERT_GT(available_memory_bytes(), 0u) << "/proc/meminfo has no MemAvailable";
  EXPECT_NO_THROW(check_memory_fits("one byte", 1));
  try {
    check_memory_fits("bench kernels --shape 100000000x10000000000", 1e18);
    FAIL() << "10^18 bytes were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bench kernels --shape 100000000x10000000000 needs about 931322574.6 GiB of memory, but only"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("MemAvailable"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fastbert
