// The durations the run prints: whole seconds as m:ss / h:mm:ss, short ones with decimals.
#include <gtest/gtest.h>

#include "pipeline/progress.h"

namespace lsc::pipeline {
namespace {

TEST(FormatDuration, MinutesAndHours) {
  EXPECT_EQ(format_duration(0.0), "0:00");
  EXPECT_EQ(format_duration(65.4), "1:05");
  EXPECT_EQ(format_duration(3725.0), "1:02:05");
  EXPECT_EQ(format_duration(-1.0), "?");
}

TEST(FormatSeconds, ShortDurationsKeepTheirDecimals) {
  EXPECT_EQ(format_seconds(0.0), "0.00 s");
  EXPECT_EQ(format_seconds(0.0314), "0.03 s");
  EXPECT_EQ(format_seconds(4.756), "4.76 s");
  EXPECT_EQ(format_seconds(9.996), "10.0 s");  // rounds up past 9.995: one decimal, not "10.00 s"
  EXPECT_EQ(format_seconds(12.44), "12.4 s");
  EXPECT_EQ(format_seconds(59.96), "1:00");  // would print as 60.0 s: a minute
  EXPECT_EQ(format_seconds(75.0), "1:15");
  EXPECT_EQ(format_seconds(-1.0), "?");
}

}  // namespace
}  // namespace lsc::pipeline
