// `logitscope run`, `export` and `demo` as a user runs them, on the real-vocabulary fixture model
// (reference log-probs from transformers), crafted datasets, interruptions and bad inputs.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <algorithm>
#include <map>
#include <sstream>
#include <thread>

#include "cli/fixture_records.h"
#include "cli/run_cli.h"
#include "io/json.h"
#include "io/sha256.h"
#include "io/sqlite.h"
#include "kernels/cpu/kernels.h"

namespace lsc::test {
namespace {

namespace fs = std::filesystem;

class RunDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lsc_run_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string p(const std::string& f) const { return (dir_ / f).string(); }
  void write(const std::string& f, const std::string& content) const {
    std::ofstream o(p(f), std::ios::binary);
    o << content;
  }
  // A model folder `name` holding links to these files of the fixture model (the test writes the
  // others).
  void link_model(const std::string& name, std::initializer_list<const char*> files) const {
    fs::create_directories(p(name));
    for (const char* f : files) fs::create_symlink(kModel + "/" + f, p(name + "/" + f));
  }
  fs::path dir_;
};

std::string run_args(const std::string& data, const std::string& out, const std::string& extra = "") {
  return "run --model ref=" + kModel + " --data " + data + " --out " + out + " --template '{query}{answer}' --quiet " +
         extra;
}

TEST_F(RunDir, PositionsMatchTransformersReferenceOnTheRealVocabularyModel) {
  const io::Json tj = texts_json();
  std::string data;
  int i = 0;
  for (const auto& t : tj.at("texts")) {
    const std::string text = t.at("text").get<std::string>();
    data += record_line(t.at("name").get<std::string>(), text, 40, 1 + i % 5, i % 2);
    ++i;
  }
  write("data.jsonl", data);
  auto r = run_cli(run_args(p("data.jsonl"), p("out")));
  ASSERT_EQ(r.code, 0) << r.err;
  io::Db db(p("out/results.sqlite"), false);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM done"), 5);
  int64_t compared = 0;
  i = 0;
  for (const auto& t : tj.at("texts")) {
    const auto ids = t.at("ids").get<std::vector<int>>();
    const auto ref = io::parse_json(slurp(fixture("expected/qwen2-realvocab-bf16/" + t.at("name").get<std::string>() +
                                                  ".summary.json")), "ref");
    io::Stmt s(db, "SELECT pos, token_id, logprob, rank, entropy FROM positions WHERE text_idx = ? AND model_idx = 0 ORDER BY pos");
    s.bind(1, i);
    int64_t n = 0;
    while (s.step()) {
      const int64_t pos = s.col_int(0);
      ASSERT_EQ(s.col_int(1), ids[size_t(pos)]) << "tokenization differs from HF tokenizers at position " << pos;
      if (pos == 0) {
        EXPECT_TRUE(s.col_is_null(2));  // x_0 has no probability
      } else {
        const auto& q = ref.at("positions")[size_t(pos - 1)];  // row pos-1 predicts token pos
        EXPECT_NEAR(s.col_double(2), q.at("logprob_next").get<double>(), 1e-4) << t.at("name") << " pos " << pos;
        EXPECT_NEAR(s.col_double(4), q.at("entropy").get<double>(), 1e-4);
        EXPECT_GE(s.col_int(3), q.at("rank_range")[0].get<int64_t>());
        EXPECT_LE(s.col_int(3), q.at("rank_range")[1].get<int64_t>());
        ++compared;
      }
      ++n;
    }
    EXPECT_EQ(n, int64_t(ids.size()));
    ++i;
  }
  EXPECT_EQ(compared, 653 - 5);
  EXPECT_TRUE(fs::exists(p("out/summary.json")));
  io::parse_json(slurp(p("out/summary.json")), "summary.json");
}

TEST_F(RunDir, ModelComparedWithItselfHasZeroDivergence) {
  const io::Json tj = texts_json();
  write("data.jsonl", record_line("m", tj.at("texts")[0].at("text").get<std::string>(), 30, 2, true));
  auto r = run_cli("run --model a=" + kModel + " --model b=" + kModel + " --data " + p("data.jsonl") + " --out " +
                   p("out") + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  io::Db db(p("out/results.sqlite"), false);
  EXPECT_GT(db.query_int("SELECT count(*) FROM pairs"), 100);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM pairs WHERE kl_ab != 0 OR kl_ba != 0 OR js_bits != 0 OR tv != 0 OR "
                         "dlogp != 0 OR top1_agree != 1 OR rank_shift != 0"),
            0);
  // Pairs cover exactly the answer tokens (notebook template: "Query: ...\nAnswer: ...").
  EXPECT_EQ(db.query_int("SELECT count(*) FROM pairs"),
            db.query_int("SELECT count(*) FROM positions WHERE model_idx = 0 AND span != 'prompt'"));
}

// The lens plan printed before a run counts the LM-head rows the lens adds: one per site and lens
// layer, none for the last layer (its rows are the final ones, which the KL reads from the
// measuring step).
TEST_F(RunDir, LensPlanCountsNoLmHeadRowsForTheLastLayer) {
  write("data.jsonl", R"({"query": "Is it so?", "answer": "Wait, let me check. So therefore, hmm... actually, wait!"})" "\n");
  for (const char* spec : {"all", "0"}) {
    const std::string out = p(std::string("out_") + spec);
    auto r = run_cli("run --model ref=" + kModel + " --data " + p("data.jsonl") + " --out " + out +
                     " --template '{query}{answer}' --window 2 --lens " + spec);
    ASSERT_EQ(r.code, 0) << r.err;
    io::Db db(out + "/results.sqlite", false);
    const int64_t sites = db.query_int("SELECT count(*) FROM lens WHERE layer = 0");
    ASSERT_GT(sites, 10);
    const std::string n = std::to_string(sites);
    const std::string want = std::string(spec) == "all"
                                 ? "ref: 2 layers x " + n + " rows = " + n + " LM-head rows (the last layer's are the final ones) next to"
                                 : "ref: 1 layers x " + n + " rows = " + n + " LM-head rows next to";
    EXPECT_NE(r.err.find(want), std::string::npos) << spec << ": " << r.err;
  }
}

TEST_F(RunDir, OccurrencesMatchHandCountOnCraftedText) {
  write("data.jsonl", R"({"query": "Is it so?", "answer": "I also wrote a letter. Wait, CHECK it: let me check. So therefore, hmm... actually, wait!"})" "\n");
  auto r = run_cli(run_args(p("data.jsonl"), p("out"), "--window 2"));
  ASSERT_EQ(r.code, 0) << r.err;
  io::Db db(p("out/results.sqlite"), false);
  io::Stmt s(db, "SELECT family, surface, logprob_word, logprob_first, tok_end - tok_begin FROM occurrences ORDER BY char_begin");
  std::vector<std::string> got;
  while (s.step()) {
    got.push_back(s.col_text(0) + ":" + s.col_text(1));
    EXPECT_LE(s.col_double(2), s.col_double(3) + 1e-12);  // whole word ≤ first token (sum of log p ≤ 0 terms)
  }
  // "so" in the query does not count; "also"/"letter" are not words "so"/"let".
  EXPECT_EQ(got, (std::vector<std::string>{"wait:Wait", "check:CHECK", "let:let", "check:check", "so:So",
                                           "therefore:therefore", "hmm:hmm", "actually:actually", "wait:wait"}));
  // Windows: offsets −2..+2 around each occurrence's first token, where that position exists
  // (the final "wait" has only "!" after it).
  EXPECT_EQ(db.query_int("SELECT count(*) FROM windows"),
            db.query_int("SELECT count(*) FROM occurrences o JOIN text_models t USING(text_idx, model_idx), "
                         "(SELECT -2 AS off UNION SELECT -1 UNION SELECT 0 UNION SELECT 1 UNION SELECT 2) "
                         "WHERE o.tok_begin + off BETWEEN 1 AND t.n_tokens - 1"));
  EXPECT_EQ(db.query_int("SELECT count(*) FROM windows"), 9 * 5 - 1);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM windows w JOIN occurrences o USING(occ_idx) WHERE w.pos != o.tok_begin + w.offset"), 0);
  // The family table holds the audited id sets (e.g. " Wait" is in "wait").
  EXPECT_GT(db.query_int("SELECT n_token_ids FROM families WHERE name = 'wait'"), 3);
}


// A command started in the background (a shell command line) and watched until its results
// directory holds `n` done texts or it ends. No time limit on the wait (sanitizer builds run many
// times slower), only the child's end: a run that finishes first fails its test's checks.
struct Background {
  pid_t pid = -1;
  bool exited = false;
  int status = 0;
  int64_t done = 0;
};
Background start_until_done(const std::string& command, const std::string& out_dir, int64_t n) {
  Background bg;
  bg.pid = fork();
  if (bg.pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::string db_path = out_dir + "/results.sqlite";
  while (bg.done < n && !bg.exited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    bg.exited = waitpid(bg.pid, &bg.status, WNOHANG) == bg.pid;
    if (!fs::exists(db_path)) continue;
    try {
      io::Db db(db_path, false);
      if (db.has_table("done")) bg.done = db.query_int("SELECT count(*) FROM done");
    } catch (const std::exception&) {
    }
  }
  return bg;
}

TEST_F(RunDir, KilledRunResumesToTheSameDatabaseAsAnUninterruptedOne) {
  write("data.jsonl", many_records(24));
  const std::string args = "run --model a=" + kModel + " --model b=" + kModel + " --data " + p("data.jsonl") +
                           " --quiet --threads 2 --out ";
  auto r = run_cli(args + p("full"));
  ASSERT_EQ(r.code, 0) << r.err;
  // Start the same run in the background and SIGKILL it once some texts are committed.
  Background bg = start_until_done(binary() + " " + args + p("killed") + " >/dev/null 2>&1", p("killed"), 3);
  if (!bg.exited) {
    kill(bg.pid, SIGKILL);
    waitpid(bg.pid, &bg.status, 0);
  }
  const int64_t done_at_kill = bg.done;
  ASSERT_GE(done_at_kill, 3);
  {
    io::Db db(p("killed/results.sqlite"), false);
    EXPECT_LT(db.query_int("SELECT count(*) FROM done"), 24) << "the run finished before it was killed";
  }
  // Statistics and the report of the unfinished run say what they cover (they said nothing).
  r = run_cli("stats " + p("killed") + " --bootstrap 100");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("logitscope: warning: " + p("killed/results.sqlite") +
                       ": an unfinished run (running, or stopped before it could say so): "),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(" of 24 texts done; these figures cover those"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(p("killed/stats.md")).rfind("# Statistics\n\n**Warning: an unfinished run (", 0), 0u);
  r = run_cli("report " + p("killed") + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("logitscope: warning: an unfinished run ("), std::string::npos) << r.err;
  fs::remove(p("killed/stats.json"));
  fs::remove(p("killed/stats.md"));
  fs::remove(p("killed/report.html"));
  r = run_cli(args + p("killed"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(dump_tables(p("full/results.sqlite")), dump_tables(p("killed/results.sqlite")));
  r = run_cli("stats " + p("killed") + " --bootstrap 100");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("unfinished"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(p("killed/stats.md")).find("unfinished"), std::string::npos);
  // A finished run re-run does nothing and says so, and leaves the run's recorded compute time
  // and timings as they were (it added its loading time and stored zero timings).
  const auto timings = [&] {
    io::Db db(p("full/results.sqlite"), false);
    io::Stmt s(db, "SELECT key, value FROM meta WHERE key IN ('compute_seconds', 'tokens_per_second', "
                   "'timing_json', 'status') ORDER BY key");
    std::string all;
    while (s.step()) all += s.col_text(0) + "=" + s.col_text(1) + "\n";
    return all;
  };
  const std::string before = timings();
  EXPECT_NE(before.find("status=finished"), std::string::npos) << before;
  r = run_cli(args.substr(0, args.find(" --quiet")) + " --threads 2 --out " + p("full"));
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.err.find("nothing to do"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(" tok/s, ETA "), std::string::npos) << "a progress line with nothing computed: " << r.err;
  EXPECT_EQ(timings(), before);
}

// Ctrl-C (SIGINT) and SIGTERM (a scheduler's time limit) stop a run between texts with what it
// finished kept, say so, and exit 130 and 143 as a process ended by them does; the same command
// then resumes.
TEST_F(RunDir, SigintAndSigtermStopTheRunKeepingItsTextsWithTheirExitStatus) {
  write("data.jsonl", many_records(24));
  const std::string args = "run --model a=" + kModel + " --data " + p("data.jsonl") + " --quiet --threads 1 --out " + p("out");
  for (const int sig : {SIGINT, SIGTERM}) {
    fs::remove_all(p("out"));
    // A group of texts per text, so the stop comes between texts (a group's texts whose passes are
    // done are all saved).
    Background bg = start_until_done("env LSC_GROUP_BYTES=1 " + binary() + " " + args + " >/dev/null 2>" + p("err.txt"), p("out"), 2);
    ASSERT_FALSE(bg.exited) << "the run ended before it was signalled";
    kill(bg.pid, sig);
    waitpid(bg.pid, &bg.status, 0);
    ASSERT_TRUE(WIFEXITED(bg.status)) << "ended by the signal itself, not by the run's handler";
    EXPECT_EQ(WEXITSTATUS(bg.status), 128 + sig);
    const std::string err = slurp(p("err.txt"));
    EXPECT_NE(err.find("logitscope: stopping: "), std::string::npos) << "the signal not acknowledged: " << err;
    EXPECT_NE(err.find("logitscope: interrupted: "), std::string::npos) << err;
    {
      io::Db db(p("out/results.sqlite"), false);
      EXPECT_GE(db.query_int("SELECT count(*) FROM done"), 2);
      EXPECT_EQ(db.query_int("SELECT count(*) FROM meta WHERE key = 'status' AND value = 'interrupted'"), 1);
    }
    std::string resume = args;
    resume.erase(resume.find(" --quiet"), 8);
    const auto r = run_cli(resume);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("logitscope: resuming the run in " + p("out/results.sqlite") + ": "), std::string::npos) << r.err;
    io::Db db(p("out/results.sqlite"), false);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM done"), 24);
  }
}

// Once every text is committed, a signal stops the statistics and report as it stops any program
// (their files are written whole or not at all): not swallowed into a successful exit.
TEST_F(RunDir, ASignalDuringTheStatisticsStopsTheRun) {
  write("data.jsonl", many_records(24));
  const std::string args = "run --model a=" + kModel + " --model b=" + kModel + " --data " + p("data.jsonl") +
                           " --quiet --threads 1 --out " + p("out");
  Background bg = start_until_done(binary() + " " + args + " >/dev/null 2>&1", p("out"), 24);
  ASSERT_FALSE(bg.exited) << "the run ended before it was signalled";
  kill(bg.pid, SIGTERM);
  waitpid(bg.pid, &bg.status, 0);
  // By the signal, or by the run's exit status for it where it came before the handler was given back.
  EXPECT_TRUE((WIFSIGNALED(bg.status) && WTERMSIG(bg.status) == SIGTERM) ||
              (WIFEXITED(bg.status) && WEXITSTATUS(bg.status) == 128 + SIGTERM))
      << "status " << bg.status;
  EXPECT_FALSE(fs::exists(p("out/report.html")));
  // Its texts are all saved: the same command finds nothing to compute and writes the outputs.
  const auto r = run_cli(args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(p("out/report.html")));
}

// --force replaces a run with its outputs: stopped before it writes its own, the new run does not
// sit beside the old one's statistics and report.
TEST_F(RunDir, ForceRemovesTheReplacedRunsOutputs) {
  write("data.jsonl", many_records(24));
  const std::string args = "run --model a=" + kModel + " --data " + p("data.jsonl") + " --quiet --threads 1 --out " + p("out");
  ASSERT_EQ(run_cli(args).code, 0);
  for (const char* f : {"summary.json", "stats.json", "stats.md", "report.html"}) ASSERT_TRUE(fs::exists(p("out/") + f)) << f;
  // Signalled once the new run has begun (its manifest stored).
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + binary() + " " + args + " --force --window 3 >/dev/null 2>&1").c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  bool exited = false;
  for (bool begun = false; !begun && !exited;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    exited = waitpid(pid, &status, WNOHANG) == pid;
    try {
      io::Db db(p("out/results.sqlite"), false);
      begun = db.query_int("SELECT count(*) FROM meta WHERE key = 'window' AND value = '3'") == 1;
    } catch (const std::exception&) {
    }
  }
  ASSERT_FALSE(exited) << "the run ended before it was signalled";
  kill(pid, SIGINT);
  waitpid(pid, &status, 0);
  for (const char* f : {"summary.json", "stats.json", "stats.md", "report.html"}) EXPECT_FALSE(fs::exists(p("out/") + f)) << f;
}

// A record repeating an earlier one's query and answer is kept (each counts as a text) and said.
TEST_F(RunDir, RepeatedRecordsAreKeptAndSaid) {
  write("data.jsonl", R"({"id": "a", "query": "What is 2+2?", "answer": "4."})" "\n"
                      R"({"id": "b", "query": "What is 3+3?", "answer": "6."})" "\n"
                      R"({"id": "c", "query": "What is 2+2?", "answer": "4."})" "\n");
  const auto r = run_cli("run --model a=" + kModel + " --data " + p("data.jsonl") + " --quiet --out " + p("out"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("1 record(s) have the query and answer of an earlier one; each counts as a text of its own in "
                       "the statistics: record 'c' (line 3) repeats record 'a' (line 1)"), std::string::npos) << r.err;
  io::Db db(p("out/results.sqlite"), false);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM done"), 3);
}

// A results directory holding a run with other arguments is refused, the error naming what
// differs: an option, the data file's contents, a model's config.json.
TEST_F(RunDir, ARunWithOtherArgumentsIsRefusedNamingWhatDiffers) {
  write("data.jsonl", many_records(1));
  link_model("m", {"model.safetensors", "tokenizer.json"});
  write("m/config.json", slurp(kModel + "/config.json"));
  const std::string args = "run --model a=" + p("m") + " --data " + p("data.jsonl") + " --out " + p("out") + " --quiet";
  ASSERT_EQ(run_cli(args).code, 0);
  const std::string refused = "found a run with different models, data or options (differs in: ";
  auto r = run_cli(args + " --window 3");
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find(refused + "window (stored 10, this command 3)); use --force"), std::string::npos) << r.err;
  write("data.jsonl", many_records(2));
  r = run_cli(args);
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find(refused + "the data file's contents, sha256 (stored "), std::string::npos) << r.err;
  write("data.jsonl", many_records(1));
  write("m/config.json", slurp(kModel + "/config.json") + "\n");
  r = run_cli(args);
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find(refused + "config.json of model 'a')"), std::string::npos) << r.err;
  write("m/config.json", slurp(kModel + "/config.json"));
  EXPECT_EQ(run_cli(args).code, 0) << "the same arguments again: resumed (nothing to do)";
  // Other weights under the same config.json (a checkpoint saved again into its folder): one
  // mantissa bit of the last tensor's last value.
  fs::remove(p("m/model.safetensors"));
  fs::copy_file(kModel + "/model.safetensors", p("m/model.safetensors"));
  {
    std::fstream f(p("m/model.safetensors"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-2, std::ios::end);
    const char c = static_cast<char>(f.get() ^ 1);
    f.seekp(-2, std::ios::end);
    f.put(c);
  }
  r = run_cli(args);
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find(refused + "the weights of model 'a' (its safetensors files changed))"), std::string::npos) << r.err;
  fs::remove(p("m/model.safetensors"));
  fs::create_symlink(kModel + "/model.safetensors", p("m/model.safetensors"));
  EXPECT_EQ(run_cli(args).code, 0) << "the weights it began with: resumed";
  // A run recorded before the weights were (its arguments without them) resumes, saying so.
  {
    io::Db db(p("out/results.sqlite"), false);
    io::Stmt get(db, "SELECT value FROM meta WHERE key = 'args_json'");
    ASSERT_TRUE(get.step());
    io::Json a = io::Json::parse(get.col_text(0));
    for (auto& m : a["models"]) {
      ASSERT_TRUE(m.contains("weights_fingerprint"));
      m.erase("weights_fingerprint");
    }
    io::Stmt set(db, "UPDATE meta SET value = ? WHERE key = ?");
    set.bind(1, a.dump()).bind(2, std::string("args_json")).run();
    io::Stmt set_hash(db, "UPDATE meta SET value = ? WHERE key = ?");
    set_hash.bind(1, io::sha256_hex(a.dump())).bind(2, std::string("args_hash")).run();
  }
  r = run_cli(args.substr(0, args.find(" --quiet")));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("does not record its models' weights"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing to do"), std::string::npos) << r.err;
}

TEST_F(RunDir, ResultsDoNotDependOnThreadCount) {
  write("data.jsonl", many_records(4));
  auto r1 = run_cli("run --model a=" + kModel + " --model b=" + kModel + " --data " + p("data.jsonl") + " --quiet --threads 1 --out " + p("t1"));
  auto r2 = run_cli("run --model a=" + kModel + " --model b=" + kModel + " --data " + p("data.jsonl") + " --quiet --threads 2 --out " + p("t2"));
  ASSERT_EQ(r1.code, 0) << r1.err;
  ASSERT_EQ(r2.code, 0) << r2.err;
  EXPECT_EQ(dump_tables(p("t1/results.sqlite")), dump_tables(p("t2/results.sqlite")));
}

// The environment's knobs as a user sets them (every split is compared at library level in
// tests/pipeline): per-text groups and passes of up to 100 rows give the default run's tables.
TEST_F(RunDir, ResultsDoNotDependOnHowTextsAreGroupedOrBatched) {
  write("data.jsonl", many_records(5));
  const std::string args = "run --model a=" + kModel + " --model b=" + kModel + " --data " + p("data.jsonl") + " --quiet --out ";
  auto r1 = run_cli(args + p("default"));
  auto r2 = run_cli(args + p("split"), "/dev/null", "LSC_GROUP_BYTES=1 LSC_BATCH_TOKENS=100");
  ASSERT_EQ(r1.code, 0) << r1.err;
  ASSERT_EQ(r2.code, 0) << r2.err;
  EXPECT_EQ(dump_tables(p("default/results.sqlite")), dump_tables(p("split/results.sqlite")));
}

TEST_F(RunDir, ModelsWhoseTokenizersDisagreeOnAnAnswerStopBeforeAnyForwardPass) {
  // Same weights, R1-Distill's tokenizer: "<|im_end|>" is a special token for Qwen2.5, plain text for R1.
  link_model("r1", {"config.json", "model.safetensors"});
  fs::copy_file(fixture("tokenizers/deepseek-r1-distill-qwen/tokenizer.json"), p("r1/tokenizer.json"));
  write("data.jsonl", R"({"id": "t1", "query": "q", "answer": "fine"})" "\n"
                      R"({"id": "t2", "query": "q", "answer": "Done.<|im_end|> Wait"})" "\n");
  auto r = run_cli("run --model qwen=" + kModel + " --model r1=" + p("r1") + " --data " + p("data.jsonl") + " --out " +
                   p("out") + " --quiet");
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find(p("data.jsonl") + ":2: record 't2', answer token 1: expected the same token id under model 'qwen' "
                       "and model 'r1'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(p("out/results.sqlite")));
}

TEST_F(RunDir, ChatTemplateUsesTheModelsOwnSpecialTokens) {
  write("data.jsonl", R"({"query": "What is 2+2?", "answer": "4. Wait, yes: 4."})" "\n");
  auto r = run_cli("run --model a=" + kModel + " --data " + p("data.jsonl") + " --out " + p("out") + " --quiet --template chat");
  ASSERT_EQ(r.code, 0) << r.err;
  io::Db db(p("out/results.sqlite"), false);
  io::Stmt s(db, "SELECT text, answer_first_pos FROM text_models");
  ASSERT_TRUE(s.step());
  // With the system message the model's chat template writes when none is given (Qwen2.5's).
  EXPECT_EQ(s.col_text(0), "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                           "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4. Wait, yes: 4.");
  EXPECT_EQ(db.query_int("SELECT token_id FROM positions WHERE pos = 0"), 151644);  // <|im_start|> as one token
  io::Stmt t(db, "SELECT template FROM models");
  ASSERT_TRUE(t.step());
  EXPECT_EQ(t.col_text(0), "chatml");
}

// R1-Distill's own template (the fixture's tokenizer_config.json) opens the thinking in its
// generation prompt, so "<think>\n" belongs to the prompt: the answer's first scored token is the
// trace's first word. A trace that writes its own "<think>" is read as written, not doubled.
TEST_F(RunDir, ChatTemplateOfR1DistillOpensTheThinkingAsItsTemplateDoes) {
  link_model("r1", {"config.json", "model.safetensors"});
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    fs::copy_file(fixture(std::string("tokenizers/deepseek-r1-distill-qwen/") + f), p(std::string("r1/") + f));
  }
  write("data.jsonl", R"({"query": "2+2?", "answer": "Okay. Wait, 4.\n</think>\n\n4"})" "\n"
                      R"({"query": "2+2?", "answer": "<think>\nOkay. Wait, 4.\n</think>\n\n4"})" "\n");
  auto r = run_cli("run --model r1=" + p("r1") + " --data " + p("data.jsonl") + " --out " + p("out") + " --quiet --template chat");
  ASSERT_EQ(r.code, 0) << r.err;
  io::Db db(p("out/results.sqlite"), false);
  const std::string prompt = "<｜begin▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜>";
  for (int text = 0; text < 2; ++text) {
    io::Stmt s(db, "SELECT text, answer_first_pos FROM text_models WHERE text_idx = " + std::to_string(text));
    ASSERT_TRUE(s.step());
    EXPECT_EQ(s.col_text(0), prompt + "<think>\nOkay. Wait, 4.\n</think>\n\n4") << "text " << text;
    // <｜begin▁of▁sentence｜> <｜User｜> 2 + 2 ? <｜Assistant｜> <think> \n | Okay ...
    const int64_t first = s.col_int(1);
    EXPECT_EQ(first, text == 0 ? 9 : 7) << "text " << text;
    io::Stmt t(db, "SELECT token_id, span FROM positions WHERE text_idx = " + std::to_string(text) + " AND pos = 7");
    ASSERT_TRUE(t.step());
    EXPECT_EQ(t.col_int(0), 151648) << "<think>, one special token";
    EXPECT_EQ(t.col_text(1), text == 0 ? "prompt" : "think");
  }
  io::Stmt m(db, "SELECT template FROM models");
  ASSERT_TRUE(m.step());
  EXPECT_EQ(m.col_text(0), "r1");
}

// A chat template in chat_template.jinja (newer checkpoints) is read too; what it resolves to is
// part of the run's arguments, so a run resumed after the template changed is refused, not mixed.
TEST_F(RunDir, ChatTemplateFromItsJinjaFileAndAChangedOneIsNotResumed) {
  write("data.jsonl", R"({"query": "What is 2+2?", "answer": "4. Wait, yes: 4."})" "\n");
  link_model("m", {"config.json", "model.safetensors", "tokenizer.json"});
  write("m/tokenizer_config.json", "{}");
  write("m/chat_template.jinja", "{{- \"<|im_start|>system\\nBe brief.<|im_end|>\\n\" }}");
  const std::string args = "run --model a=" + p("m") + " --data " + p("data.jsonl") + " --out " + p("out") + " --quiet --template chat";
  auto r = run_cli(args);
  ASSERT_EQ(r.code, 0) << r.err;
  {
    io::Db db(p("out/results.sqlite"), false);
    io::Stmt s(db, "SELECT text FROM text_models");
    ASSERT_TRUE(s.step());
    EXPECT_EQ(s.col_text(0), "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                             "<|im_start|>assistant\n4. Wait, yes: 4.");
  }
  write("m/chat_template.jinja", "{{- \"<|im_start|>system\\nBe long.<|im_end|>\\n\" }}");
  r = run_cli(args);
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("(differs in: chat_patterns (stored "), std::string::npos) << r.err;
}

// Two models with one tokenizer.json and different chat templates (Qwen2.5-Math and Qwen2.5 do):
// each text is written with its own model's system message, in either order.
TEST_F(RunDir, ModelsSharingATokenizerKeepTheirOwnChatTemplates) {
  write("data.jsonl", R"({"query": "What is 2+2?", "answer": "4."})" "\n");
  for (const char* m : {"m1", "m2"}) {
    link_model(m, {"config.json", "model.safetensors", "tokenizer.json"});
    write(std::string(m) + "/tokenizer_config.json", "{}");
    write(std::string(m) + "/chat_template.jinja",
          std::string("{{- \"<|im_start|>system\\nSystem of ") + m + ".<|im_end|>\\n\" }}");
  }
  for (const char* order : {"--model a=M1 --model b=M2", "--model b=M2 --model a=M1"}) {
    std::string models = order;
    models.replace(models.find("M1"), 2, p("m1"));
    models.replace(models.find("M2"), 2, p("m2"));
    fs::remove_all(p("out"));
    auto r = run_cli("run " + models + " --data " + p("data.jsonl") + " --out " + p("out") + " --quiet --template chat");
    ASSERT_EQ(r.code, 0) << r.err;
    io::Db db(p("out/results.sqlite"), false);
    io::Stmt s(db, "SELECT m.name, t.text FROM text_models t JOIN models m USING(model_idx) ORDER BY m.name");
    for (const char* name : {"a", "b"}) {
      ASSERT_TRUE(s.step());
      EXPECT_EQ(s.col_text(0), name);
      EXPECT_EQ(s.col_text(1).rfind(std::string("<|im_start|>system\nSystem of m") + (name[0] == 'a' ? "1" : "2"), 0), 0u)
          << order << ": " << s.col_text(1);
    }
  }
}

TEST_F(RunDir, Bf16PrecisionStaysWithinTheFixtureBoundsOfTheFp32Run) {
  write("data.jsonl", many_records(4));
  ASSERT_EQ(run_cli(run_args(p("data.jsonl"), p("fp32"), "--precision fp32")).code, 0);
  // The default (exact), its split-bf16 method forced: within the fixtures' 1e-4 of the fp32 run.
  ::setenv("LSC_EXACT", "split", 1);
  const auto exact = run_cli(run_args(p("data.jsonl"), p("exact")));
  ::unsetenv("LSC_EXACT");
  ASSERT_EQ(exact.code, 0) << exact.err;
  {
    io::Db db(p("exact/results.sqlite"), false);
    io::Stmt m(db, "SELECT precision FROM models");
    ASSERT_TRUE(m.step());
    const bool bf16_hw = std::strcmp(cpu::bf16_isa(), "none") != 0;
    EXPECT_EQ(m.col_text(0), bf16_hw                      ? "exact (split-bf16 x3)"
                             : cpu::cpu_kernels().avx512 ? "exact (fp32, fast attention)"
                                                         : "fp32");
    db.exec("ATTACH DATABASE '" + p("fp32/results.sqlite") + "' AS ref");
    io::Stmt s(db, "SELECT max(abs(a.logprob - b.logprob)), max(abs(a.entropy - b.entropy)) FROM positions a "
                   "JOIN ref.positions b USING(text_idx, model_idx, pos) WHERE a.logprob IS NOT NULL");
    ASSERT_TRUE(s.step());
    std::printf("  exact (%s) vs fp32 run: max |dlogp| %.2e, max |dentropy| %.2e\n", m.col_text(0).c_str(),
                s.col_double(0), s.col_double(1));
    EXPECT_LE(s.col_double(0), 1e-4);
    EXPECT_LE(s.col_double(1), 1e-4);
  }
  auto r = run_cli(run_args(p("data.jsonl"), p("bf16"), "--precision bf16"));
  ASSERT_EQ(r.code, 0) << r.err;
  io::Db db(p("bf16/results.sqlite"), false);
  io::Stmt m(db, "SELECT precision, isa FROM models");
  ASSERT_TRUE(m.step());
  std::printf("  run --precision bf16 used %s (%s)\n", m.col_text(0).c_str(), m.col_text(1).c_str());
  db.exec("ATTACH DATABASE '" + p("fp32/results.sqlite") + "' AS ref");
  io::Stmt s(db, "SELECT max(abs(a.logprob - b.logprob)), avg(abs(a.logprob - b.logprob)), count(*) FROM positions a "
                 "JOIN ref.positions b USING(text_idx, model_idx, pos) WHERE a.logprob IS NOT NULL");
  ASSERT_TRUE(s.step());
  std::printf("  bf16 vs fp32 run: max |dlogp| %.4f, mean %.4f over %lld positions\n", s.col_double(0), s.col_double(1),
              static_cast<long long>(s.col_int(2)));
  // fixtures/README.md §5: a bf16-compute engine vs the fp32 values: max ≤ 0.5, mean ≤ 0.05.
  EXPECT_LE(s.col_double(0), 0.5);
  EXPECT_LE(s.col_double(1), 0.05);
  EXPECT_EQ(run_cli(run_args(p("data.jsonl"), p("x"), "--precision fp16")).code, 2);
}

TEST_F(RunDir, BadLinesAreAllListedAndSkipInvalidRecordsThem) {
  write("data.jsonl", std::string(R"({"query": "q", "answer": "fine"})") + "\n" + R"({"query": "q", "answer": ""})" + "\n" +
                          R"({"query": "q", "answer": "a", "level": "hard"})" + "\n");
  auto r = run_cli(run_args(p("data.jsonl"), p("out")));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("2 of 3 lines are invalid"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(p("data.jsonl") + ":2: field \"answer\": expected a non-empty string"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(p("data.jsonl") + ":3: field \"level\""), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(p("out/results.sqlite")));
  r = run_cli(run_args(p("data.jsonl"), p("out"), "--skip-invalid"));
  ASSERT_EQ(r.code, 0) << r.err;
  // Said, with --quiet too: the lines left out and why.
  EXPECT_NE(r.err.find("logitscope: warning: --skip-invalid: 2 of 3 lines of " + p("data.jsonl") +
                       " are invalid and left out (the results' skipped table lists them):\n  " + p("data.jsonl") +
                       ":2: field \"answer\""),
            std::string::npos)
      << r.err;
  io::Db db(p("out/results.sqlite"), false);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM skipped"), 2);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM texts"), 1);
  // With no valid line left, the refusal says why the lines are invalid.
  write("bad.jsonl", std::string(R"({"query": "q", "answer": ""})") + "\n" + R"({"query": 1, "answer": "a"})" + "\n");
  r = run_cli(run_args(p("bad.jsonl"), p("out2"), "--skip-invalid"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find(p("bad.jsonl") + ": expected at least one valid record, found none: 2 of 2 lines are invalid:\n  " +
                       p("bad.jsonl") + ":1: field \"answer\""),
            std::string::npos)
      << r.err;
}

TEST_F(RunDir, ChangedArgumentsRefuseTheDirectoryUnlessForced) {
  write("data.jsonl", many_records(1));
  ASSERT_EQ(run_cli(run_args(p("data.jsonl"), p("out"))).code, 0);
  auto r = run_cli(run_args(p("data.jsonl"), p("out"), "--top-k 5"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("use --force"), std::string::npos) << r.err;
  r = run_cli(run_args(p("data.jsonl"), p("out"), "--top-k 5 --force"));
  EXPECT_EQ(r.code, 0) << r.err;
}

// Keywords that are one family (case) or would share a results column, and empty items, are refused before
// anything is written; they failed in the schema's CREATE TABLE and left a database without a
// run, which then refused the corrected command as "a run with different options".
TEST_F(RunDir, DuplicateOrEmptyKeywordsAreAUsageErrorBeforeAnythingIsWritten) {
  write("data.jsonl", many_records(1));
  for (const auto& [keywords, message] : std::initializer_list<std::pair<const char*, const char*>>{
           {"Wait,so,wait", "--keywords: 'Wait' and 'wait' are the same keyword (keywords match case-insensitively)"},
           {"wait-a,wait_a", "--keywords: 'wait-a' and 'wait_a' would share the results column prop_wait_a"},
           {"wait,,so", "--keywords: item 2 of \"wait,,so\" is empty"},
           {"wait,", "--keywords: item 2 of \"wait,\" is empty"}}) {
    const auto r = run_cli(run_args(p("data.jsonl"), p("out"), std::string("--keywords ") + keywords));
    EXPECT_EQ(r.code, 2) << keywords << ": " << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(p("out/results.sqlite"))) << keywords;
  }
}

// A results.sqlite whose creation stopped before the run was stored (the schema there, the meta
// table empty) holds nothing to keep: the next run starts in it without --force.
TEST_F(RunDir, ADatabaseWithoutAStoredRunIsStartedAgain) {
  write("data.jsonl", many_records(1));
  fs::create_directories(p("out"));
  {
    io::Db db(p("out/results.sqlite"), true);
    db.exec("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)");
  }
  const auto r = run_cli(run_args(p("data.jsonl"), p("out")));
  ASSERT_EQ(r.code, 0) << r.err;
  io::Db db(p("out/results.sqlite"), false);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM done"), 1);
}

// A run given relative paths records them absolute (models.path, models.tokenizer_path,
// meta.data_path), so its report finds the tokenizer from any working directory (it showed ids).
TEST_F(RunDir, RelativePathsAreRecordedAbsoluteAndTheReportWorksFromElsewhere) {
  write("data.jsonl", many_records(2));
  link_model("m", {"model.safetensors", "tokenizer.json", "config.json"});
  const std::string here = "cd " + dir_.string() + " &&";
  auto r = run_cli("run --model a=m --data data.jsonl --out out --quiet --template '{query}{answer}'", "/dev/null", here);
  ASSERT_EQ(r.code, 0) << r.err;
  {
    io::Db db(p("out/results.sqlite"), false);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM models WHERE path = '" + p("m") + "' AND tokenizer_path = '" +
                           p("m/tokenizer.json") + "'"), 1);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM meta WHERE key = 'data_path' AND value = '" + p("data.jsonl") + "'"), 1);
  }
  r = run_cli("report " + p("out") + " --out " + p("r.html"), "/dev/null", "cd / &&");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("token strings are shown as ids"), std::string::npos) << r.err;
}

// summary.json's keyword-family cells give the entropy and KL at the family's occurrences (they
// repeated the all-answer-token values in every family).
TEST_F(RunDir, SummaryFamilyCellsMeasureAtTheFamilysOccurrences) {
  write("data.jsonl", many_records(6));
  const auto r = run_cli("run --model a=" + kModel + " --model b=" + kModel + " --data " + p("data.jsonl") + " --out " +
                         p("out") + " --quiet --template '{query}{answer}'");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto summary = io::parse_json(slurp(p("out/summary.json")), "summary.json");
  io::Db db(p("out/results.sqlite"), false);
  size_t checked = 0;
  for (const auto& c : summary["cells"]) {
    if (c["level"] != "all" || c["correct"] != "all" || c["model"] != "a") continue;
    const std::string family = c["family"].get<std::string>();
    if (family == "all") {
      EXPECT_TRUE(c.contains("mean_entropy") && c.contains("mean_kl_to")) << c.dump();
      continue;
    }
    EXPECT_FALSE(c.contains("mean_entropy")) << c.dump();
    const int64_t n = db.query_int("SELECT count(*) FROM occurrences WHERE model_idx = 0 AND family = '" + family + "'");
    if (n == 0) {
      EXPECT_TRUE(c["mean_entropy_before"].is_null()) << c.dump();
      continue;
    }
    io::Stmt s(db, "SELECT avg(entropy_before), avg(kl_at) FROM occurrences WHERE model_idx = 0 AND family = '" + family + "'");
    ASSERT_TRUE(s.step());
    EXPECT_NEAR(c["mean_entropy_before"].get<double>(), s.col_double(0), 1e-9 * (1 + s.col_double(0))) << family;
    EXPECT_NEAR(c["mean_kl_at"].get<double>(), s.col_double(1), 1e-12) << family;  // 0: a model against itself
    ++checked;
  }
  EXPECT_GE(checked, 1u);
}

// A config.json that leaves stored tensors unused (here one of the two layers) runs another
// model than the one stored: run warns as inspect does, also with --quiet.
TEST_F(RunDir, TensorsTheConfigDoesNotUseAreWarnedAbout) {
  write("data.jsonl", many_records(1));
  link_model("m", {"model.safetensors", "tokenizer.json"});
  std::string config = slurp(kModel + "/config.json");
  const std::string layers = "\"num_hidden_layers\": 2";
  ASSERT_NE(config.find(layers), std::string::npos);
  config.replace(config.find(layers), layers.size(), "\"num_hidden_layers\": 1");
  write("m/config.json", config);
  const auto r = run_cli("run --model cut=" + p("m") + " --data " + p("data.jsonl") + " --out " + p("out") + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("logitscope: warning: model 'cut': 12 tensor(s) of " + p("m") +
                       " are not used by its config.json (model.layers.1."),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("and 9 more)"), std::string::npos) << r.err;
  const auto logits = run_cli("logits --model " + p("m") + " --ids 1,2");
  ASSERT_EQ(logits.code, 0) << logits.err;
  EXPECT_NE(logits.err.find("logitscope: warning: 12 tensor(s) of " + p("m") + " are not used by its config.json"),
            std::string::npos)
      << logits.err;
  // The stored model as it is: no warning.
  const auto whole = run_cli(run_args(p("data.jsonl"), p("out2")));
  ASSERT_EQ(whole.code, 0) << whole.err;
  EXPECT_EQ(whole.err.find("not used by its config.json"), std::string::npos) << whole.err;
}

// Resuming a run that another logitscope started says so (its texts may be computed differently).
TEST_F(RunDir, AResumeByAnotherVersionWarns) {
  write("data.jsonl", many_records(2));
  const std::string args = "run --model ref=" + kModel + " --data " + p("data.jsonl") + " --out " + p("out") +
                           " --template '{query}{answer}'";
  ASSERT_EQ(run_cli(args + " --quiet").code, 0);
  auto r = run_cli(args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("was started by logitscope"), std::string::npos) << r.err;
  {
    io::Db db(p("out/results.sqlite"), false);
    db.exec("UPDATE meta SET value = '0.0.1 (commit 0000000)' WHERE key = 'program_version'");
  }
  r = run_cli(args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("logitscope: warning: " + p("out/results.sqlite") + " was started by logitscope 0.0.1 (commit "
                       "0000000); this is "),
            std::string::npos)
      << r.err;
}

TEST_F(RunDir, TruncationIsCountedAndReported) {
  write("data.jsonl", many_records(2));
  // A warning, so --quiet does not hide it.
  auto r = run_cli("run --model a=" + kModel + " --data " + p("data.jsonl") + " --out " + p("out") + " --max-tokens 30 --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("2 of 2 texts are longer than --max-tokens 30 and were truncated"), std::string::npos) << r.err;
  io::Db db(p("out/results.sqlite"), false);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM text_models WHERE truncated = 1"), 2);
  EXPECT_EQ(db.query_int("SELECT max(pos) FROM positions"), 29);
}

// A record whose answer is a long reasoning-like trace: `reps` × ~8 tokens.
std::string long_record(const std::string& id, int reps) {
  std::string answer;
  for (int i = 0; i < reps; ++i) answer += "Wait, let me check step " + std::to_string(i) + " again. ";
  return "{\"id\": \"" + id + "\", \"query\": \"Solve it.\", \"answer\": \"" + answer + "\", \"level\": 3, \"is_correct\": true}\n";
}

TEST_F(RunDir, LongTextsAreReadWholeUpToTheModelsContext) {
  write("data.jsonl", long_record("long", 300) + many_records(1));
  // No --max-tokens: nothing is cut below the model's context (32768).
  auto r = run_cli(run_args(p("data.jsonl"), p("whole")));
  ASSERT_EQ(r.code, 0) << r.err;
  {
    io::Db db(p("whole/results.sqlite"), false);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM text_models WHERE truncated = 1"), 0);
    EXPECT_GT(db.query_int("SELECT max(n_tokens) FROM text_models"), 2048);  // the old default cut
    EXPECT_EQ(db.query_int("SELECT count(*) FROM text_models WHERE n_tokens != n_tokens_full"), 0);
  }
  // A model whose context is 40 tokens: texts are cut there, and the warning says why.
  link_model("short_ctx", {"model.safetensors", "tokenizer.json"});
  std::string cfg = slurp(kModel + "/config.json");
  const std::string from = "\"max_position_embeddings\": 32768";
  ASSERT_NE(cfg.find(from), std::string::npos);
  cfg.replace(cfg.find(from), from.size(), "\"max_position_embeddings\": 40");
  write("short_ctx/config.json", cfg);
  r = run_cli("run --model small=" + p("short_ctx") + " --data " + p("data.jsonl") + " --out " + p("cut") + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("2 of 2 texts are longer than the models' context (40 tokens, max_position_embeddings of model 'small')"
                       " and were truncated at the end; the longest is "),
            std::string::npos) << r.err;
  io::Db db(p("cut/results.sqlite"), false);
  EXPECT_EQ(db.query_int("SELECT max(n_tokens) FROM text_models"), 40);
  const int64_t longest = db.query_int("SELECT max(n_tokens_full) FROM text_models");
  EXPECT_NE(r.err.find("the longest is " + std::to_string(longest) + " tokens: --max-tokens " + std::to_string(longest) +
                       " reads them whole, past model 'small''s context"),
            std::string::npos) << r.err;
  EXPECT_EQ(db.query_int("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'max_tokens'"), 40);
  // The results name the build that computed them, as --version does.
  const CliResult version = run_cli("--version");
  ASSERT_EQ(version.code, 0) << version.err;
  const std::string program = version.out.substr(0, version.out.find('\n')).substr(std::string("logitscope ").size());
  io::Stmt s(db, "SELECT value FROM meta WHERE key = 'program_version'");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.col_text(0), program);
}

// "... = 91.3 MiB of ..." → bytes.
double printed_total_bytes(const std::string& err) {
  const size_t at = err.find(" LM-head rows = ");
  if (at == std::string::npos) return -1;
  const double v = std::atof(err.c_str() + at + 16);
  const size_t unit = err.find_first_of("MG", at + 16);
  return v * (err[unit] == 'G' ? double(1 << 30) : double(1 << 20));
}

TEST_F(RunDir, ARunThatDoesNotFitInMemoryIsRefusedBeforeAnyForwardPassNamingWhatFits) {
  write("data.jsonl", many_records(1) + long_record("long", 300));
  // Too little for the weights alone.
  auto r = run_cli(run_args(p("data.jsonl"), p("tiny"), "--max-memory 0.001"));
  EXPECT_EQ(r.code, 3) << r.err;  // an input error
  EXPECT_NE(r.err.find("the run does not fit in memory: record 'long' (" + p("data.jsonl") + ":2) is "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tokens under model 'ref'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Options that fit: nothing within --max-memory: model 'ref' needs more than that even for a short "
                       "text; use a larger --max-memory"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(p("tiny/results.sqlite"))) << "refused after it began";
  // The plan is printed before any forward pass (not --quiet here).
  r = run_cli("run --model ref=" + kModel + " --data " + p("data.jsonl") + " --out " + p("plan") +
              " --template '{query}{answer}' --progress-interval 1000");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("logitscope: longest text: record 'long'"), std::string::npos) << r.err;
  const double need = printed_total_bytes(r.err);
  ASSERT_GT(need, 0) << r.err;
  // 1 MiB less than the run needs: refused, with the --max-tokens that fits; that one then runs.
  char limit[32];
  std::snprintf(limit, sizeof limit, "%.6f", (need - double(1 << 20)) / double(1 << 30));
  r = run_cli(run_args(p("data.jsonl"), p("short"), std::string("--max-memory ") + limit));
  EXPECT_EQ(r.code, 3) << r.err;
  const size_t at = r.err.find("Options that fit: --max-tokens ");
  ASSERT_NE(at, std::string::npos) << r.err;
  const long fits = std::atol(r.err.c_str() + at + 31);
  EXPECT_GT(fits, 2) << r.err;
  r = run_cli(run_args(p("data.jsonl"), p("short"), std::string("--max-memory ") + limit + " --max-tokens " + std::to_string(fits)));
  ASSERT_EQ(r.code, 0) << r.err;
  io::Db db(p("short/results.sqlite"), false);
  EXPECT_EQ(db.query_int("SELECT max(n_tokens) FROM text_models"), fits);
}

// The memory plan with --lens: the kept residual rows and one chunk of lens LM-head rows more
// than without (on the CPU the lens rows are made against the measuring step's own chunk of
// final rows, so no second chunk of final rows is held).
TEST_F(RunDir, TheMemoryPlanOfTheLensCountsItsRowsAndOneLmHeadChunk) {
  write("data.jsonl", R"({"query": "Is it so?", "answer": "Wait, let me check. So therefore, hmm... actually, wait!"})" "\n");
  const io::Json cfg = io::parse_json(slurp(kModel + "/config.json"), kModel + "/config.json");
  const int64_t vocab = cfg.at("vocab_size").get<int64_t>(), hidden = cfg.at("hidden_size").get<int64_t>();
  const double chunk = 256.0 * double(vocab) * 4;  // kLmHeadChunkRows rows of logits
  ASSERT_LT(chunk, double(256 << 20)) << "the chunk would be capped";
  double total[2] = {0, 0};
  int64_t sites = 0;
  for (const int lens : {0, 1}) {
    const std::string out = p(lens ? "lens" : "plain");
    auto r = run_cli("run --model ref=" + kModel + " --data " + p("data.jsonl") + " --out " + out +
                     " --template '{query}{answer}' --window 2 --progress-interval 1000" + (lens ? " --lens 0" : ""));
    ASSERT_EQ(r.code, 0) << r.err;
    total[lens] = printed_total_bytes(r.err);
    ASSERT_GT(total[lens], 0) << r.err;
    if (lens) sites = io::Db(out + "/results.sqlite", false).query_int("SELECT count(*) FROM lens WHERE layer = 0");
  }
  ASSERT_GT(sites, 10);
  // Printed to 0.1 MiB (or 0.01 GiB); a second chunk would be 148 MiB more.
  EXPECT_NEAR(total[1] - total[0], double(sites * hidden * 4) + chunk, 11.0 * (1 << 20));
}

TEST_F(RunDir, ProgressShowsPhaseTokensRateAndEtaWhileModelsRun) {
  write("data.jsonl", long_record("long", 200) + many_records(3));
  // stderr is a file here: log lines, one every 0.05 s.
  auto r = run_cli("run --model a=" + kModel + " --model b=" + kModel + " --data " + p("data.jsonl") + " --out " + p("out") +
                   " --progress-interval 0.05", "/dev/null", "LSC_BATCH_TOKENS=1");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.err);
  std::string line;
  int forward_lines = 0;
  bool final_line = false;
  while (std::getline(lines, line)) {
    if (line.find("forward passes, model '") != std::string::npos) {
      ++forward_lines;
      EXPECT_NE(line.find(" tok/s, ETA "), std::string::npos) << line;
      // One group: no text is measured during the passes, so the ETA is the passes' alone, a bound.
      EXPECT_TRUE(line.find(" tok/s, ETA >") != std::string::npos || line.find(" tok/s, ETA ?") != std::string::npos) << line;
      EXPECT_NE(line.find(", layer "), std::string::npos) << line;
      EXPECT_NE(line.find(" texts committed, "), std::string::npos) << line;
    }
    final_line |= line.find("4/4 texts committed, ") != std::string::npos && line.find("(100%)") != std::string::npos;
  }
  EXPECT_GT(forward_lines, 0) << r.err;
  EXPECT_TRUE(final_line) << r.err;
}

// The end of a run says how long each model's forward passes took (a slow model among several
// stands out), and meta.timing_json keeps it: the tokens each model ran are the texts' tokens.
TEST_F(RunDir, EachModelsForwardTimeIsPrintedAndStored) {
  write("data.jsonl", many_records(3));
  auto r = run_cli("run --model a=" + kModel + " --model b=" + kModel + " --data " + p("data.jsonl") + " --out " + p("out"));
  ASSERT_EQ(r.code, 0) << r.err;
  io::Db db(p("out/results.sqlite"), false);
  io::Stmt s(db, "SELECT value FROM meta WHERE key = 'timing_json'");
  ASSERT_TRUE(s.step());
  const io::Json t = io::Json::parse(s.col_text(0));
  ASSERT_EQ(t["models"].size(), 2u) << t.dump();
  EXPECT_GT(t["session_s"].get<double>(), 0.0);
  EXPECT_GT(t["measure_s"].get<double>(), 0.0);
  for (int m = 0; m < 2; ++m) {
    const io::Json& j = t["models"][m];
    const std::string name = m == 0 ? "a" : "b";
    EXPECT_EQ(j["name"], name);
    const int64_t tokens =
        db.query_int("SELECT SUM(n_tokens) FROM text_models WHERE model_idx = " + std::to_string(m));
    EXPECT_EQ(j["forward_tokens"].get<int64_t>(), tokens);
    EXPECT_GT(j["forward_s"].get<double>(), 0.0);
    EXPECT_NEAR(j["tokens_per_second"].get<double>(), double(tokens) / j["forward_s"].get<double>(), 1e-6);
    EXPECT_NE(r.err.find("model '" + name + "': " + std::to_string(tokens) + " tokens in "), std::string::npos) << r.err;
  }
  EXPECT_NE(r.err.find("logitscope: measuring step"), std::string::npos) << r.err;
}

// LSC_ISA=scalar reaches every fast path (fp32 products, the LM-head row reduction, the
// divergences): the tables equal the default run's within the fixtures' tolerance (1e-4).
TEST_F(RunDir, ScalarIsaGivesTheDefaultTablesWithinTolerance) {
  write("data.jsonl", many_records(3));
  const std::string args = "run --model a=" + kModel + " --model b=" + kModel + " --data " + p("data.jsonl") + " --quiet --out ";
  auto r1 = run_cli(args + p("default"));
  auto r2 = run_cli(args + p("scalar"), "/dev/null", "LSC_ISA=scalar");
  ASSERT_EQ(r1.code, 0) << r1.err;
  ASSERT_EQ(r2.code, 0) << r2.err;
  io::Db db(p("default/results.sqlite"), false);
  io::Stmt attach(db, "ATTACH DATABASE ? AS s");
  attach.bind(1, p("scalar/results.sqlite")).run();
  EXPECT_EQ(db.query_int("SELECT count(*) FROM positions"), db.query_int("SELECT count(*) FROM s.positions"));
  io::Stmt q(db, "SELECT max(abs(a.logprob - b.logprob)), max(abs(a.entropy - b.entropy)), count(*) "
                 "FROM positions a JOIN s.positions b USING(text_idx, model_idx, pos)");
  ASSERT_TRUE(q.step());
  EXPECT_LT(q.col_double(0), 1e-4);
  EXPECT_LT(q.col_double(1), 1e-4);
  EXPECT_GT(q.col_int(2), 100);
  // (a and b are one checkpoint: their divergences are exactly 0 on either path; the AVX-512 and
  // portable divergences are compared in tests/analysis.)
  EXPECT_EQ(db.query_int("SELECT count(*) FROM pairs"), db.query_int("SELECT count(*) FROM s.pairs"));
  EXPECT_EQ(db.query_int("SELECT count(*) FROM occurrences"), db.query_int("SELECT count(*) FROM s.occurrences"));
}

TEST_F(RunDir, BadModelAndUsageErrors) {
  write("data.jsonl", many_records(1));
  auto r = run_cli("run --model x=/nonexistent --data " + p("data.jsonl") + " --out " + p("out"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("model 'x': /nonexistent: expected a checkpoint folder"), std::string::npos) << r.err;
  r = run_cli("run --model " + fixture("models/qwen2-f32") + " --data " + p("data.jsonl") + " --out " + p("out"));
  EXPECT_EQ(r.code, 3);  // a fixture checkpoint without tokenizer.json
  EXPECT_NE(r.err.find("tokenizer.json"), std::string::npos) << r.err;
  r = run_cli("run --data " + p("data.jsonl") + " --out " + p("out"));
  EXPECT_EQ(r.code, 2);
  r = run_cli("run --model a=" + kModel + " --model a=" + kModel + " --data " + p("data.jsonl") + " --out " + p("out"));
  EXPECT_EQ(r.code, 2);
  r = run_cli("run --model a=" + kModel + " --data " + p("nope.jsonl") + " --out " + p("out"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("nope.jsonl"), std::string::npos);
}

// The usual ways of asking for help and the version reach them; a misspelt command gets a guess.
TEST_F(RunDir, HelpAndVersionFormsAndAMisspeltCommand) {
  const auto help = run_cli("run --help");
  ASSERT_EQ(help.code, 0);
  for (const char* form : {"help run", "run -h"}) {
    const auto r = run_cli(form);
    EXPECT_EQ(r.code, 0) << form << ": " << r.err;
    EXPECT_EQ(r.out, help.out) << form;
  }
  const auto version = run_cli("--version");
  EXPECT_EQ(run_cli("-V").out, version.out);
  const auto r = run_cli("rnu --data x");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("logitscope: unknown command 'rnu' (did you mean 'run'?)"), std::string::npos) << r.err;
}

// Every command's --help describes every option it accepts. The options are the parser's own:
// an unknown option's error lists them ("this command takes --a, --b"), so none is copied here.
TEST_F(RunDir, EveryCommandsHelpDescribesEveryOptionItTakes) {
  for (const std::string cmd : {"inspect", "logits", "run", "demo", "stats", "export", "tokenize", "report", "merge"}) {
    const auto bad = run_cli(cmd + " --no-such-option");
    ASSERT_EQ(bad.code, 2) << cmd << ": " << bad.err;
    const std::string head = "unknown option --no-such-option; this command takes ";
    const size_t at = bad.err.find(head);
    ASSERT_NE(at, std::string::npos) << cmd << ": " << bad.err;
    std::istringstream list(bad.err.substr(at + head.size(), bad.err.find('\n', at) - at - head.size()));
    const auto help = run_cli(cmd + " --help");
    ASSERT_EQ(help.code, 0) << cmd << ": " << help.err;
    int n = 0;
    for (std::string o; std::getline(list, o, ',');) {
      o = o.substr(o.find("--"));
      ++n;
      if (o == "--help") continue;
      bool described = false;
      for (size_t p = help.out.find(o); p != std::string::npos && !described; p = help.out.find(o, p + 1)) {
        const char next = p + o.size() < help.out.size() ? help.out[p + o.size()] : '\n';
        described = std::string(" =]|,\n)").find(next) != std::string::npos;
      }
      // `run --help` gives each option a line of its own.
      if (cmd == "run") described = help.out.find("\n  " + o + " ") != std::string::npos;
      EXPECT_TRUE(described) << cmd << " " << o << " is not described by --help:\n" << help.out;
    }
    EXPECT_GE(n, 2) << cmd << ": " << bad.err;
  }
}

TEST_F(RunDir, ExportWritesCsvAndJsonl) {
  write("data.jsonl", many_records(1));
  ASSERT_EQ(run_cli(run_args(p("data.jsonl"), p("out"))).code, 0);
  auto r = run_cli("export " + p("out") + " --table positions --format csv");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("text_idx,model_idx,pos,span,token_id,", 0), 0u);
  io::Db db(p("out/results.sqlite"), false);
  const int64_t n = db.query_int("SELECT count(*) FROM positions");
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), n + 1);
  r = run_cli("export " + p("out") + " --table occurrences --format jsonl");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_cli("export " + p("out") + " --table positions --format jsonl");
  const auto first = io::parse_json(r.out.substr(0, r.out.find('\n')), "line 1");
  EXPECT_TRUE(first.at("topk_ids").is_array() || first.at("topk_ids").is_null());
  EXPECT_EQ(r.out.rfind("{\"text_idx\":", 0), 0u) << "keys in column order: " << r.out.substr(0, 80);
  EXPECT_EQ(run_cli("export " + p("out") + " --table nope").code, 2);
  EXPECT_EQ(run_cli("export " + p("nothing-here") + " --table positions").code, 3);
  // In CSV an empty string is "" and NULL nothing: a text without a source against position 0's
  // undefined log p.
  ASSERT_EQ(db.query_int("SELECT count(*) FROM texts WHERE source = ''"), 1);
  r = run_cli("export " + p("out") + " --table texts");
  const std::string row = r.out.substr(r.out.find('\n') + 1);
  EXPECT_NE(row.find(",\"\","), std::string::npos) << row.substr(0, 120);
  r = run_cli("export " + p("out") + " --table positions");
  const std::string pos0 = r.out.substr(r.out.find('\n') + 1, r.out.find('\n', r.out.find('\n') + 1) - r.out.find('\n') - 1);
  EXPECT_NE(pos0.find(",,"), std::string::npos) << pos0;
  EXPECT_EQ(pos0.find("\"\""), std::string::npos) << pos0;
}

// Every table a run writes can be exported, the lens's and the statistics' too; a table a results
// database does not hold yet is an input error naming it.
TEST_F(RunDir, ExportWritesTheLensSimilarityAndStatisticsTables) {
  write("data.jsonl", many_records(2));
  auto r = run_cli("run --model a=" + kModel + " --model b=" + kModel + " --data " + p("data.jsonl") + " --out " +
                   p("out") + " --lens 0,1 --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  io::Db db(p("out/results.sqlite"), false);
  for (const char* t : {"lens", "layer_similarity", "stats_tests"}) {
    const int64_t n = db.query_int(std::string("SELECT count(*) FROM ") + t);
    ASSERT_GT(n, 0) << t;
    r = run_cli("export " + p("out") + " --table " + t);
    ASSERT_EQ(r.code, 0) << t << ": " << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), n + 1) << t;
    r = run_cli("export " + p("out") + " --table " + t + " --format jsonl");
    ASSERT_EQ(r.code, 0) << t << ": " << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), n) << t;
  }
  r = run_cli("export " + p("out") + " --table lens");
  EXPECT_EQ(r.out.rfind("text_idx,model_idx,layer,pos,logprob,rank,entropy,kl_final,", 0), 0u) << r.out.substr(0, 80);
  // A column a test does not have is NULL (it was '' for some, NULL for others); presence tests
  // are their own section, named as their BH families.
  EXPECT_EQ(db.query_int("SELECT count(*) FROM stats_tests WHERE model = '' OR model_a = '' OR measure = ''"), 0);
  EXPECT_GT(db.query_int("SELECT count(*) FROM stats_tests WHERE section = 'model_comparisons' AND model IS NULL "
                         "AND model_a = 'a' AND model_b = 'b'"), 0);
  EXPECT_GT(db.query_int("SELECT count(*) FROM stats_tests WHERE section = 'presence' AND measure IS NULL"), 0);
  EXPECT_EQ(db.query_int("SELECT count(*) FROM stats_tests WHERE section = 'correctness' AND measure IS NULL"), 0);
  db.exec("DROP TABLE stats_tests");
  r = run_cli("export " + p("out") + " --table stats_tests");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("table 'stats_tests': expected a table of a finished run, found no such table yet (run "
                       "'logitscope stats " + p("out") + "' first)"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace lsc::test
