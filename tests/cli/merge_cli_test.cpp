// Scale-out as a user runs it: `run --shard I/N` jobs joined by `merge`, and `mpirun -np 2
// logitscope run`, each ending with the database a single process writes (same rows, same
// values), resuming per shard, and refusing shards that do not make one finished run.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/fixture_records.h"
#include "cli/run_cli.h"
#include "io/json.h"
#include "io/sqlite.h"

namespace lsc::test {
namespace {

namespace fs = std::filesystem;

class MergeDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lsc_merge_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(p("data.jsonl"), std::ios::binary) << many_records(9);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string p(const std::string& f) const { return (dir_ / f).string(); }
  // Two models (the same checkpoint twice, so pairs exist), top-k 5 (unless extra sets it) to keep it small, the logit
  // lens at every layer and answer row (its tables merge like the others) unless lens = false
  // (the refusals, where the lens's LM-head rows would be three quarters of each run's time).
  std::string args(const std::string& out, const std::string& extra = "", bool lens = true) const {
    return "run --model a=" + kModel + " --model b=" + kModel + " --data " + p("data.jsonl") +
           (extra.find("--top-k") == std::string::npos ? " --top-k 5" : "") +
           (lens ? " --lens all --lens-at answer" : "") + " --quiet --threads 1 --out " + out + " " + extra;
  }
  void run_shards(const std::string& out, int n, const std::string& extra = "", bool lens = true) const {
    for (int i = 0; i < n; ++i) {
      const auto r = run_cli(args(out, extra, lens) + " --shard " + std::to_string(i) + "/" + std::to_string(n));
      ASSERT_EQ(r.code, 0) << r.err;
    }
  }
  fs::path dir_;
};

int64_t query(const std::string& db_path, const std::string& sql) {
  io::Db db(db_path, false);
  return db.query_int(sql);
}

TEST_F(MergeDir, ThreeShardsMergeToTheSingleProcessDatabase) {
  auto r = run_cli(args(p("single")));
  ASSERT_EQ(r.code, 0) << r.err;
  run_shards(p("sharded"), 3);
  // Every text in exactly one shard, balanced by tokens; nothing merged yet.
  int64_t texts = 0;
  for (int i = 0; i < 3; ++i) {
    const std::string shard = p("sharded/shards/" + std::to_string(i) + "-of-3/results.sqlite");
    const int64_t n = query(shard, "SELECT count(*) FROM done");
    EXPECT_GE(n, 2) << "shard " << i;
    texts += n;
  }
  EXPECT_EQ(texts, 9);
  EXPECT_FALSE(fs::exists(p("sharded/results.sqlite")));

  r = run_cli("merge --quiet --out " + p("sharded"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(dump_tables(p("single/results.sqlite")), dump_tables(p("sharded/results.sqlite")));
  EXPECT_EQ(query(p("sharded/results.sqlite"), "SELECT value FROM meta WHERE key = 'n_shards'"), 3);
  EXPECT_GT(query(p("sharded/results.sqlite"), "SELECT count(*) FROM lens"), 0);
  EXPECT_GT(query(p("sharded/results.sqlite"), "SELECT count(*) FROM layer_similarity"), 0);
  // The merged run's timings are its shards' summed (they were shard 0's): every forward token of
  // model a, as the single run counts them.
  {
    io::Db merged(p("sharded/results.sqlite"), false), single(p("single/results.sqlite"), false);
    io::Stmt m(merged, "SELECT value FROM meta WHERE key = 'timing_json'"), o(single, "SELECT value FROM meta WHERE key = 'timing_json'");
    ASSERT_TRUE(m.step() && o.step());
    const auto tm = io::parse_json(m.col_text(0), "merged"), to = io::parse_json(o.col_text(0), "single");
    EXPECT_EQ(tm["models"][0]["forward_tokens"], to["models"][0]["forward_tokens"]) << tm.dump();
    EXPECT_GT(tm["models"][0]["tokens_per_second"].get<double>(), 0.0);
  }
  // The outputs computed from the database are the same files.
  for (const char* f : {"summary.json", "stats.json", "stats.md"}) {
    EXPECT_EQ(slurp(p(std::string("single/") + f)), slurp(p(std::string("sharded/") + f))) << f;
  }
  EXPECT_TRUE(fs::exists(p("sharded/report.html")));
  // And every table exports to the same bytes (text_models came out in the shards' order).
  for (const char* t : {"texts", "text_models", "positions", "occurrences", "windows", "pairs", "lens", "layer_similarity"}) {
    const auto single = run_cli("export " + p("single") + " --table " + t);
    const auto sharded = run_cli("export " + p("sharded") + " --table " + t);
    ASSERT_EQ(single.code, 0) << single.err;
    EXPECT_EQ(single.out, sharded.out) << t;
  }
  // Merging again (same run) replaces the merge with an identical one.
  r = run_cli("merge --quiet --out " + p("sharded"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(dump_tables(p("single/results.sqlite")), dump_tables(p("sharded/results.sqlite")));
}

TEST_F(MergeDir, AnUnfinishedShardIsNamedAndResumesByItself) {
  run_shards(p("out"), 2);
  // Shard 1 as if killed after its first text: its other texts are not done.
  const std::string shard1 = p("out/shards/1-of-2/results.sqlite");
  const int64_t n1 = query(shard1, "SELECT count(*) FROM done");
  {
    io::Db db(shard1, false);
    db.exec("DELETE FROM done WHERE text_idx != (SELECT min(text_idx) FROM done)");
  }
  auto r = run_cli("merge --quiet --out " + p("out"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("shard 1/2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 done; run that shard again"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(p("out/results.sqlite")));
  // Re-running shard 1 redoes only its unfinished texts; shard 0 is untouched.
  const std::string shard0 = p("out/shards/0-of-2/results.sqlite");
  const std::string before0 = slurp(shard0);
  r = run_cli(args(p("out")) + " --shard 1/2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(query(shard1, "SELECT count(*) FROM done"), n1);
  EXPECT_TRUE(slurp(shard0) == before0) << "shard 0 changed";
  r = run_cli("merge --quiet --out " + p("out"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_cli(args(p("single")));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(dump_tables(p("single/results.sqlite")), dump_tables(p("out/results.sqlite")));
}

// A run started in shards (mpirun) and continued in one process, or the reverse, would compute
// again every text the other finished: both are refused, naming how to resume.
TEST_F(MergeDir, ARunInShardsAndTheSameRunInOneProcessDoNotRedoEachOthersTexts) {
  run_shards(p("out"), 2, "", false);  // both shards done, not merged
  auto r = run_cli(args(p("out"), "", false));
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find(p("out/shards") + ": expected no shards of this run (to compute it in one process), found this "
                       "run split 2 ways (shard "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mpirun -np 2, or run --shard I/2 for each I, then logitscope merge --out " + p("out")), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(p("out/results.sqlite")));
  ASSERT_EQ(run_cli("merge --quiet --out " + p("out")).code, 0);
  ASSERT_EQ(run_cli(args(p("out"), "", false)).code, 0) << "merged: the same run, nothing to do";
  // The reverse: a run of one process, then the same arguments in shards.
  ASSERT_EQ(run_cli(args(p("single"), "", false)).code, 0);
  r = run_cli(args(p("single"), "", false) + " --shard 0/2");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find(p("single/results.sqlite") + ": stored run: expected a run computed in shards (to resume it in "
                       "shards), found this run computed in one process (9 of 9 texts done)"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(p("single/shards")));
}

// One run writes a results directory at a time: a second on the same --out is refused.
TEST_F(MergeDir, ASecondRunOnTheSameDirectoryIsRefusedWhileTheFirstWrites) {
  ASSERT_EQ(run_cli(args(p("out"), "", false)).code, 0);
  const int fd = ::open(p("out/results.sqlite.lock").c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << "no lock file";
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0) << "the finished run left its lock held";
  // As if a run were writing (the lock held by this process): refused, the database untouched.
  const auto before = dump_tables(p("out/results.sqlite"));
  auto r = run_cli(args(p("out"), "", false));
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find(p("out") + ": expected a results directory no other logitscope is writing, found another run "
                       "writing it"), std::string::npos) << r.err;
  r = run_cli(args(p("out"), "--force --window 3", false));
  EXPECT_EQ(r.code, 3) << "--force does not take over a directory another run writes: " << r.err;
  EXPECT_EQ(dump_tables(p("out/results.sqlite")), before);
  ::close(fd);
  EXPECT_EQ(run_cli(args(p("out"), "", false)).code, 0);
}

TEST_F(MergeDir, MissingForeignAndDuplicateShardsAreRefused) {
  run_shards(p("out"), 2, "", false);
  run_shards(p("other"), 2, "--top-k 6", false);  // another run: different options
  // A missing shard.
  fs::rename(p("out/shards/1-of-2"), p("spare"));
  auto r = run_cli("merge --quiet --out " + p("out"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("missing shard(s) 1"), std::string::npos) << r.err;
  // A shard of another run given in its place.
  r = run_cli("merge --quiet --out " + p("out") + " " + p("out/shards/0-of-2") + " " + p("other/shards/1-of-2"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("a run with different models, data or options"), std::string::npos) << r.err;
  // The same shard twice.
  r = run_cli("merge --quiet --out " + p("out") + " " + p("out/shards/0-of-2") + " " + p("out/shards/0-of-2"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("each shard once"), std::string::npos) << r.err;
  // Shards of two splits side by side: merge asks which.
  fs::rename(p("spare"), p("out/shards/1-of-2"));
  fs::create_directories(p("out/shards/0-of-3"));
  r = run_cli("merge --quiet --out " + p("out"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("split 2, 3 ways"), std::string::npos) << r.err;
  fs::remove_all(p("out/shards/0-of-3"));
  // Not a shard at all: a single-process results directory.
  r = run_cli(args(p("single"), "", false));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_cli("merge --quiet --out " + p("out") + " " + p("single"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("a database without a shard number"), std::string::npos) << r.err;
  // Merging into a directory that holds another run: refused, left intact; --force replaces it.
  const std::string before = slurp(p("single/results.sqlite"));
  r = run_cli("merge --quiet --out " + p("single") + " " + p("other/shards/0-of-2") + " " + p("other/shards/1-of-2"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("use --force to replace it"), std::string::npos) << r.err;
  EXPECT_TRUE(slurp(p("single/results.sqlite")) == before) << "the other run's database changed";
  r = run_cli("merge --quiet --force --out " + p("single") + " " + p("other/shards/0-of-2") + " " + p("other/shards/1-of-2"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(query(p("single/results.sqlite"), "SELECT value FROM meta WHERE key = 'top_k'"), 6);
  // A shard run into a directory whose merged database is another run's: refused before any work.
  r = run_cli(args(p("single"), "", false) + " --shard 0/2");
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("the run these shards belong to"), std::string::npos) << r.err;
  // Bad --shard values are usage errors.
  r = run_cli(args(p("out"), "", false) + " --shard 2/2");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--shard: expected I/N"), std::string::npos) << r.err;
}

// mpirun, where this build has MPI and the machine has mpirun (scripts/install-deps.sh installs
// both): two ranks on the demo give the single-process database; a rank's unfinished texts are
// redone by the same command; bad input stops every rank with the documented code, no hang.
class MpiDemo : public MergeDir {
 protected:
  static std::string mpirun() {
    // Containers and CI run as root; Open MPI refuses that unless told. Two ranks on two cores.
    return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
           "mpirun -np 2 " + binary();
  }
  static CliResult run_mpi(const std::string& args) {
    const std::string base = fs::temp_directory_path() / ("lsc_mpi_" + std::to_string(::getpid()));
    const int status = std::system((mpirun() + " " + args + " </dev/null >" + base + ".out 2>" + base + ".err").c_str());
    CliResult r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(base + ".out");
    r.err = slurp(base + ".err");
    return r;
  }
};

TEST_F(MpiDemo, TwoRanksOnTheDemoGiveTheSingleProcessDatabase) {
#ifndef LSC_TEST_HAVE_MPI
  GTEST_SKIP() << "skipped: this build has no MPI (cmake found none, or LSC_MPI=OFF)";
#endif
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "skipped: no mpirun on this machine";
  const std::string demo = p("demo");
  auto r = run_cli("demo --quiet --out " + demo);
  ASSERT_EQ(r.code, 0) << r.err;
  // The arguments `demo` gives `run` (cli/cmd_demo.cpp), by the same paths.
  const std::string run_args = "run --model base=" + demo + "/checkpoints/base --model sft=" + demo +
                               "/checkpoints/sft --model rl=" + demo + "/checkpoints/rl --data " + demo +
                               "/data.jsonl --max-tokens 512 --lens all --threads 1 --quiet --out " + p("mpi");
  r = run_mpi(run_args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(dump_tables(demo + "/results.sqlite"), dump_tables(p("mpi/results.sqlite")));
  EXPECT_EQ(slurp(demo + "/summary.json"), slurp(p("mpi/summary.json")));
  EXPECT_EQ(slurp(demo + "/stats.json"), slurp(p("mpi/stats.json")));

  // Rank 1 as if killed after its first text: the same command redoes only what is missing.
  {
    io::Db db(p("mpi/shards/1-of-2/results.sqlite"), false);
    db.exec("DELETE FROM done WHERE text_idx IN (SELECT text_idx FROM done ORDER BY text_idx LIMIT -1 OFFSET 1)");
  }
  const auto rank0 = dump_tables(p("mpi/shards/0-of-2/results.sqlite"));
  r = run_mpi(run_args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(dump_tables(p("mpi/shards/0-of-2/results.sqlite")) == rank0) << "rank 0 had nothing to redo";
  EXPECT_EQ(dump_tables(demo + "/results.sqlite"), dump_tables(p("mpi/results.sqlite")));

  // Bad input: every rank stops in validation with exit code 3; nothing hangs.
  std::ofstream(p("bad.jsonl"), std::ios::binary) << "{\"query\": \"q\"}\n";
  r = run_mpi("run --model base=" + demo + "/checkpoints/base --data " + p("bad.jsonl") + " --quiet --out " + p("bad"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("rank 0 of 2: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.jsonl:1"), std::string::npos) << r.err;
  // Commands that do not spread over ranks refuse to run N times over the same files.
  r = run_mpi("demo --quiet --out " + p("demo2"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("only 'run' spreads over ranks"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(p("demo2")));
}

}  // namespace
}  // namespace lsc::test
