// The environment's counts (LSC_GROUP_BYTES, LSC_BATCH_TOKENS): whole numbers >= 1, byte sizes
// also with a binary K/M/G suffix; anything else an InputError naming the variable.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "cli/args.h"
#include "io/error.h"

namespace lsc::cli {
namespace {

TEST(EnvironmentCount, ReadsWholeNumbersAndBinarySuffixes) {
  EXPECT_EQ(parse_environment_count("LSC_BATCH_TOKENS", "1", false), 1);
  EXPECT_EQ(parse_environment_count("LSC_BATCH_TOKENS", "512", false), 512);
  EXPECT_EQ(parse_environment_count("LSC_GROUP_BYTES", "1073741824", true), int64_t{1} << 30);
  EXPECT_EQ(parse_environment_count("LSC_GROUP_BYTES", "64K", true), int64_t{64} << 10);
  EXPECT_EQ(parse_environment_count("LSC_GROUP_BYTES", "512m", true), int64_t{512} << 20);
  EXPECT_EQ(parse_environment_count("LSC_GROUP_BYTES", "2GiB", true), int64_t{2} << 30);
  EXPECT_EQ(parse_environment_count("LSC_GROUP_BYTES", "3GB", true), int64_t{3} << 30);
}

TEST(EnvironmentCount, RefusesWhatIsNotACountNamingTheVariable) {
  for (const char* bad : {"", "0", "-1", "abc", "1.5G", "12x", "1 G", "1GiBs", "99999999999999999999",
                          "9000000000G"}) {
    try {
      parse_environment_count("LSC_GROUP_BYTES", bad, true);
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const InputError& e) {
      const std::string m = e.what();
      EXPECT_EQ(m.rfind("LSC_GROUP_BYTES: value: expected a whole number of bytes >= 1", 0), 0u) << m;
      EXPECT_NE(m.find(std::string("found \"") + bad + "\""), std::string::npos) << m;
    }
  }
  // Without byte suffixes a unit is refused too: LSC_BATCH_TOKENS=512k is not 512.
  for (const char* bad : {"512k", "1G", "0"}) {
    EXPECT_THROW(parse_environment_count("LSC_BATCH_TOKENS", bad, false), InputError) << bad;
  }
}

}  // namespace
}  // namespace lsc::cli
