// npy round trip, JSON error locations, atomic files.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "io/atomic_file.h"
#include "io/cgroup.h"
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

// A control-group hierarchy as the kernel shows it (files of one line each) under `root`, and
// the process's /proc/self/cgroup at `self`.
struct FakeCgroup {
  std::string root = tmp_path("cgroup"), self = tmp_path("cgroup/self");
  FakeCgroup() {
    std::filesystem::remove_all(root);
    file("self", "0::/");
  }
  ~FakeCgroup() { std::filesystem::remove_all(root); }
  void file(const std::string& name, const std::string& text) const {
    std::filesystem::create_directories(std::filesystem::path(root + "/" + name).parent_path());
    std::ofstream(root + "/" + name) << text << "\n";
  }
  std::optional<int64_t> memory() const { return cgroup_memory_room(root, self); }
  std::optional<int> cpus() const { return cgroup_cpu_limit(root, self); }
};

TEST(Cgroup, V2MemoryLimitLessUsageIsTheRoomLeft) {
  FakeCgroup g;
  EXPECT_EQ(g.memory(), std::nullopt) << "no files: no limit known";
  g.file("memory.max", "max");
  g.file("memory.current", "1000");
  EXPECT_EQ(g.memory(), std::nullopt) << "\"max\": no limit";
  g.file("memory.max", "17179869184");
  EXPECT_EQ(g.memory(), int64_t{17179869184} - 1000);
}

TEST(Cgroup, TheTightestLimitOfTheOwnGroupAndItsParentsCounts) {
  FakeCgroup g;
  g.file("self", "0::/kubepods/pod1/ctr");
  g.file("kubepods/pod1/ctr/memory.max", "max");
  g.file("kubepods/pod1/ctr/memory.current", "100");
  g.file("kubepods/pod1/memory.max", "4000");
  g.file("kubepods/pod1/memory.current", "1000");
  g.file("kubepods/memory.max", "9000");
  g.file("kubepods/memory.current", "2000");
  EXPECT_EQ(g.memory(), 3000) << "the pod's limit";
  g.file("kubepods/pod1/ctr/cpu.max", "max 100000");
  g.file("kubepods/pod1/cpu.max", "300000 100000");
  g.file("kubepods/cpu.max", "800000 100000");
  EXPECT_EQ(g.cpus(), 3);
  // A group named in /proc/self/cgroup but not under the root (a container mounting its own
  // group there): the root's own files.
  g.file("self", "0::/docker/abc");
  g.file("memory.max", "5000");
  g.file("memory.current", "10");
  g.file("cpu.max", "200000 100000");
  EXPECT_EQ(g.memory(), 4990);
  EXPECT_EQ(g.cpus(), 2);
}

TEST(Cgroup, V1LimitsAreReadWhereThereIsNoV2Limit) {
  FakeCgroup g;
  g.file("self", "12:memory:/job\n4:cpu,cpuacct:/job\n0::/");
  g.file("memory/job/memory.limit_in_bytes", "9223372036854771712");  // v1's "no limit"
  g.file("memory/job/memory.usage_in_bytes", "4229349376");
  EXPECT_EQ(g.memory(), std::nullopt);
  g.file("memory/job/memory.limit_in_bytes", "8589934592");
  EXPECT_EQ(g.memory(), int64_t{8589934592} - 4229349376);
  EXPECT_EQ(g.cpus(), std::nullopt);
  g.file("cpu,cpuacct/job/cpu.cfs_quota_us", "-1");  // no quota
  g.file("cpu,cpuacct/job/cpu.cfs_period_us", "100000");
  EXPECT_EQ(g.cpus(), std::nullopt);
  g.file("cpu,cpuacct/job/cpu.cfs_quota_us", "250000");
  EXPECT_EQ(g.cpus(), 3) << "2.5 CPUs";
}

TEST(Cgroup, CpuQuotaIsRoundedUpAndUnreadableFilesAreNoLimit) {
  FakeCgroup g;
  EXPECT_EQ(g.cpus(), std::nullopt);
  g.file("cpu.max", "max 100000");
  EXPECT_EQ(g.cpus(), std::nullopt);
  g.file("cpu.max", "400000 100000");
  EXPECT_EQ(g.cpus(), 4);
  g.file("cpu.max", "50000 100000");
  EXPECT_EQ(g.cpus(), 1);
  g.file("cpu.max", "garbage");
  EXPECT_EQ(g.cpus(), std::nullopt);
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
    // The 512th '[' (byte 18 + 511 from 0, 530 counted from 1) opens level 513.
    EXPECT_STREQ(e.what(), "deep.json: byte 530: expected JSON nested at most 512 levels deep, found deeper nesting");
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

// An output path that is a symlink is written through (the link stays); a pipe, directory or
// device there is refused by name, not replaced by a regular file.
TEST(AtomicFile, WritesThroughASymlinkAndRefusesWhatIsNotAFile) {
  namespace fs = std::filesystem;
  const fs::path dir = tmp_path("atomic_targets");
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_file_atomic((dir / "target.html").string(), "old");
  fs::create_symlink("target.html", dir / "link.html");
  write_file_atomic((dir / "link.html").string(), "new");
  EXPECT_TRUE(fs::is_symlink(dir / "link.html"));
  EXPECT_EQ(read_text_file((dir / "target.html").string()), "new");
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  fs::create_directories(dir / "sub");
  for (const auto& [path, kind] : {std::pair<std::string, std::string>{(dir / "fifo").string(), "a pipe"},
                                   {(dir / "sub").string(), "a directory"}, {"/dev/null", "a device"}}) {
    try {
      write_file_atomic(path, "x");
      ADD_FAILURE() << path << " was written";
    } catch (const IoError& e) {
      EXPECT_EQ(std::string(e.what()), path + ": cannot write the output there: it is " + kind +
                                           " (a regular file or a new name is expected)");
    }
  }
  EXPECT_TRUE(fs::is_fifo(dir / "fifo"));
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lsc::io
