// npy round trip, JSON error locations, atomic files.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json.h"
#include "io/mapped_file.h"
#include "io/paths.h"
#include "io/npy.h"

namespace lsc::io {
namespace {

std::string tmp_path(const std::string& name) {
  return "/tmp/lsc_io_test_" + std::to_string(::getpid()) + "_" + name;
}

TEST(Npy, WriterOutputReadsBackWithShapeAndValues) {
  const std::string p = tmp_path("a.npy");
  NpyWriter w(p, 3, 2);
  const float rows[6] = {1, 2, 3, 4, 5, -6.5f};
  w.write_rows(rows, 2);
  w.write_rows(rows + 4, 1);
  w.commit();
  const NpyArray a = read_npy_f32(p);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(a.data, std::vector<float>(rows, rows + 6));
  // Data starts at a multiple of 64 bytes (format 1.0 alignment).
  EXPECT_EQ((MappedFile(p).size() - 24) % 64, 0u);
  std::remove(p.c_str());
}

TEST(Json, ParseErrorNamesFileAndByte) {
  try {
    parse_json("{\"a\": 1,}", "conf.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("conf.json: byte"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("expected valid JSON"), std::string::npos);
  }
}

// Found by fuzz/config_fuzz.cpp: nlohmann reports a number beyond double's range as out_of_range
// (not parse_error), which escaped parse_json and ended the program.
TEST(Json, NumberOutOfDoubleRangeIsAnInputError) {
  try {
    parse_json(R"({"rope_theta": 1e400})", "conf.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "conf.json: expected valid JSON, found number overflow parsing '1e400'");
  }
}

// A safetensors shape nested 30,000 levels deep overflowed the stack: the error message's dump()
// recursed once per level.
TEST(Json, RejectsNestingDeeperThan512Levels) {
  const std::string ok = std::string(512, '[') + std::string(512, ']');
  EXPECT_EQ(parse_json(ok, "deep.json").dump().size(), ok.size());
  const std::string deep = "{\"s\": \"[[{\", \"a\": " + std::string(30000, '[') + std::string(30000, ']') + "}";
  try {
    parse_json(deep, "deep.json");
    FAIL();
  } catch (const InputError& e) {
    // The 512th '[' (byte 18 + 511) opens level 513.
    EXPECT_STREQ(e.what(), "deep.json: byte 529: expected JSON nested at most 512 levels deep, found deeper nesting");
  }
}

TEST(Json, TypedAccessReportsExpectedAndFound) {
  const Json j = parse_json(R"({"n": "seven"})", "c.json");
  try {
    require_int(j, "n", "c.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "c.json: key 'n': expected an integer, found a string \"seven\"");
  }
}

TEST(AtomicFile, UncommittedWriteLeavesPreviousContentIntact) {
  const std::string p = tmp_path("keep.txt");
  write_file_atomic(p, "old");
  {
    AtomicFile f(p);
    f.write("new, half written");
  }  // destroyed without commit: as if interrupted
  EXPECT_EQ(read_text_file(p), "old");
  EXPECT_FALSE(file_exists(p + ".tmp"));
  std::remove(p.c_str());
}

TEST(AtomicFile, UnwritableDirectoryIsAnIoError) {
  EXPECT_THROW(write_file_atomic("/nonexistent-dir/x.txt", "x"), IoError);
}

}  // namespace
}  // namespace lsc::io
