// The environment's counts (LSC_GROUP_BYTES, LSC_BATCH_TOKENS): whole numbers >= 1, byte sizes
// also with a binary K/M/G suffix; anything else an InputError naming the variable.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

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

TEST(ClosestName, OneWithinTwoEditsElseTheOneItAbbreviates) {
  const std::vector<std::string> names = {"bootstrap", "seed", "min-n", "quiet", "help"};
  EXPECT_EQ(closest_name("bootstrp", names), "bootstrap");
  EXPECT_EQ(closest_name("boot", names), "bootstrap");  // 5 edits away, but its only abbreviation
  EXPECT_EQ(closest_name("sed", names), "seed");
  EXPECT_EQ(closest_name("frobnicate", names), "");
  EXPECT_EQ(closest_name("q", names), "");  // one letter abbreviates nothing
  // Two equally close: no guess.
  EXPECT_EQ(closest_name("ab", {"abc", "abd"}), "");
}

// A single-value option given twice: the same value is harmless, another is a usage error.
TEST(Args, ASingleValueOptionTwiceWithDifferentValuesIsAUsageError) {
  std::vector<std::string> words = {"--top-k", "5", "--top-k=5", "--out", "a", "--out", "b"};
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  const Args args(int(argv.size()), argv.data(), {"top-k", "out"}, {});
  EXPECT_EQ(args.get_int("top-k", 0, 1, 100), 5);
  try {
    (void)args.require("out");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--out is given twice, as \"a\" and as \"b\": give it once");
  }
}

// Token ids: separated by commas or whitespace (a file of one id per line), or a JSON array;
// nothing between two commas is an error naming the position, not dropped.
TEST(IntList, CommasWhitespaceOrAJsonArray) {
  EXPECT_EQ(parse_int_list("1,2,3", "--ids"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(parse_int_list("1, 2,\n3\n", "f"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(parse_int_list("4 5\t6", "f"), (std::vector<int64_t>{4, 5, 6}));
  EXPECT_EQ(parse_int_list(" [7, 8, 9]\n", "f"), (std::vector<int64_t>{7, 8, 9}));
  const auto message = [](const std::string& text) {
    try {
      parse_int_list(text, "ids.txt");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("1,,2"), "ids.txt: token id at position 1: expected an integer, found nothing between two commas");
  EXPECT_EQ(message("1, ,2"), "ids.txt: token id at position 1: expected an integer, found nothing between two commas");
  EXPECT_EQ(message("1,x"), "ids.txt: token id at position 1: expected an integer, found \"x\"");
  EXPECT_EQ(message("[1, 2.5]"), "ids.txt: token id at position 1: expected an integer, found a number 2.5");
}

}  // namespace
}  // namespace lsc::cli
