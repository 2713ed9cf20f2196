// The bad-input matrix (README "Bad-input matrix"): broken checkpoints, tokenizer files, data
// files, command lines and output places, one table row each. Every row runs the built binary and
// checks the documented exit code, a message naming the file / line / tensor with what was expected
// and found, and that a finished results directory placed at --out (or DIR) is left byte for byte
// as it was. "Full disk" is RLIMIT_FSIZE (writes past it fail with EFBIG); "no write permission"
// runs the command as user nobody when we are root (permissions are not enforced for root), else
// chmod 0555.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/run_cli.h"
#include "io/json.h"
#include "io/sqlite.h"

namespace lsc::test {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Shared inputs, made once per test binary (SetUpTestSuite).

struct Env {
  std::string root;     // world-readable temp folder holding everything below
  std::string tiny;     // qwen2-f32 fixture (vocab 1000) + tests' tiny tokenizer (261 ids)
  std::string sharded;  // qwen2-f32-sharded fixture + the tiny tokenizer
  std::string data;     // six good records
  std::string results;  // a finished run: run --model tiny={tiny} --data {data} --out {results}
};
Env g_env;

void write(const std::string& path, const std::string& content) {
  std::ofstream o(path, std::ios::binary);
  o << content;
}

// Folders 0755 and files 0644 below (and including) path, so that user nobody can read the inputs
// and we can edit copies of the read-only fixtures.
void open_up(const fs::path& path) {
  if (fs::is_directory(path)) {
    fs::permissions(path, fs::perms(0755));
    for (const auto& e : fs::recursive_directory_iterator(path)) {
      fs::permissions(e.path(), fs::perms(e.is_directory() ? 0755 : 0644));
    }
  } else if (fs::exists(path)) {
    fs::permissions(path, fs::perms(0644));
  }
}

// Folders are made, not copied: fs::copy would give them the fixtures' 0555.
void copy_dir(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const auto& e : fs::recursive_directory_iterator(from)) {
    const fs::path dst = fs::path(to) / fs::relative(e.path(), from);
    if (e.is_directory()) {
      fs::create_directories(dst);
    } else {
      fs::copy_file(e.path(), dst, fs::copy_options::overwrite_existing);
    }
  }
  open_up(to);
}

std::string line_json(const io::Json& j) { return j.dump() + "\n"; }

io::Json record(const std::string& id, const std::string& answer, int level = 3) {
  return {{"id", id},
          {"query", "What is 2+2?"},
          {"answer", answer},
          {"level", level},
          {"is_correct", true}};
}

const std::string kGoodLine = line_json(record("ok", "Wait, let me check: 2+2 is 4, so 4."));

// Rewrites a safetensors file's JSON header through fn; the tensor bytes stay as they were.
void edit_header(const std::string& path, const std::function<void(io::Json&)>& fn) {
  const std::string bytes = slurp(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[size_t(i)]);
  io::Json h = io::parse_json(bytes.substr(8, n), path);
  fn(h);
  const std::string text = h.dump();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
  write(path, out + text + bytes.substr(8 + n));
}

// Every regular file below dir (relative path -> bytes), to show a failed command changed nothing.
using Snapshot = std::map<std::string, std::string>;
Snapshot snapshot(const std::string& dir) {
  Snapshot out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = slurp(e.path().string());
  }
  return out;
}

// "name: changed" / "name: removed" / "name: added" for each difference; empty if none.
std::vector<std::string> differences(const Snapshot& before, const Snapshot& after) {
  std::vector<std::string> d;
  for (const auto& [name, bytes] : before) {
    auto it = after.find(name);
    if (it == after.end()) {
      d.push_back(name + ": removed");
    } else if (it->second != bytes) {
      d.push_back(name + ": changed");
    }
  }
  for (const auto& [name, bytes] : after) {
    if (!before.count(name)) d.push_back(name + ": added");
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// The table.

enum class Wrap {
  None,
  FullDisk,  // bash: trap "" XFSZ; ulimit -f limit_kib (an ignored SIGXFSZ stays ignored across
             // exec)
  NoWrite,   // {dir} and {dir}/out not writable: as user nobody when root, else chmod 0555
};

struct Case {
  const char* id;
  const char* category;
  const char* input;  // what is wrong with it
  // Writes the broken input into the case folder {dir}; null when the arguments say it all.
  std::function<void(const std::string& dir)> make;
  // Command line after the binary. {dir}: the case folder; {tiny}, {sharded}, {data}: the shared
  // inputs; {bad}: tests/data/bad; {out}: a copy of the finished results directory placed at
  // {dir}/out before the command (checked byte for byte after it); {fresh}: {dir}/fresh, absent.
  std::string args;
  int code;
  // ECMAScript regex searched in stderr; placeholders as in args, written \\{dir\\} and so on.
  std::string message;
  Wrap wrap = Wrap::None;
  int64_t limit_kib = 0;  // FullDisk: RLIMIT_FSIZE in KiB
  std::function<void(const std::string& dir, const CliResult& r)> check = nullptr;  // more checks
  bool needs_plotly = false;  // the report command reads plotly.js before anything else
  std::string env = {};  // NAME=value of the environment the command runs with (through env(1))
};

std::ostream& operator<<(std::ostream& o, const Case& c) { return o << c.id; }

CliResult run_behind(const std::string& prefix, const std::string& args);

const std::string kRun = "run --model tiny={tiny} --data {dir}/d.jsonl --out {out} --quiet";

// A data file {dir}/d.jsonl with these lines.
std::function<void(const std::string&)> data_file(std::string content) {
  return [content](const std::string& dir) { write(dir + "/d.jsonl", content); };
}

// A copy of a shared checkpoint at {dir}/m, then edited by fn.
std::function<void(const std::string&)> model_copy(const std::string* which,
                                                   std::function<void(const std::string& m)> fn) {
  return [which, fn](const std::string& dir) {
    copy_dir(*which, dir + "/m");
    fn(dir + "/m");
  };
}

void not_writable(const std::string& path) {
  if (::geteuid() != 0 && fs::exists(path)) fs::permissions(path, fs::perms(0555));
}

std::vector<Case> cases() {
  const std::string* tiny = &g_env.tiny;
  const std::string* sharded = &g_env.sharded;
  const std::string st = "\\{dir\\}/m/model\\.safetensors";
  std::vector<Case> v;

  // --- checkpoints ---------------------------------------------------------------------------
  v.push_back({"C01", "checkpoint", "config.json missing",
               model_copy(tiny, [](const std::string& m) { fs::remove(m + "/config.json"); }),
               "inspect {dir}/m", 3,
               "\\{dir\\}/m/config.json: expected a config.json in the checkpoint folder, found no "
               "such file"});
  v.push_back({"C02", "checkpoint", "config.json is not JSON (cut off)",
               model_copy(tiny,
                          [](const std::string& m) {
                            write(m + "/config.json", "{\"model_type\": \"qwen2\",\n");
                          }),
               "inspect {dir}/m", 3,
               "\\{dir\\}/m/config.json: byte 25: expected valid JSON, found parse error at line "
               "2, column 1"});
  v.push_back({"C03", "checkpoint", "config.json: unsupported model_type \"gpt2\"",
               model_copy(tiny,
                          [](const std::string& m) {
                            auto j = io::parse_json(slurp(m + "/config.json"), "config");
                            j["model_type"] = "gpt2";
                            write(m + "/config.json", j.dump());
                          }),
               "inspect {dir}/m", 3,
               "\\{dir\\}/m/config.json: key 'model_type': expected \"qwen2\", \"qwen3\" or "
               "\"llama\", found \"gpt2\""});
  v.push_back({"C04", "checkpoint", "config.json: num_attention_heads 3 with num_key_value_heads 2",
               model_copy(tiny,
                          [](const std::string& m) {
                            auto j = io::parse_json(slurp(m + "/config.json"), "config");
                            j["num_attention_heads"] = 3;
                            write(m + "/config.json", j.dump());
                          }),
               "inspect {dir}/m", 3,
               "config.json: key 'num_key_value_heads': expected a divisor of num_attention_heads "
               "\\(3\\), found 2"});
  v.push_back({"C05", "checkpoint", "shard truncated in the middle of its last tensor",
               model_copy(tiny,
                          [](const std::string& m) {
                            // Cut halfway through the tensor whose bytes come last.
                            const std::string path = m + "/model.safetensors";
                            const std::string bytes = slurp(path);
                            uint64_t n = 0;
                            for (int i = 7; i >= 0; --i)
                              n = (n << 8) | static_cast<unsigned char>(bytes[size_t(i)]);
                            const io::Json h = io::parse_json(bytes.substr(8, n), path);
                            uint64_t begin = 0, end = 0;
                            for (const auto& [name, t] : h.items()) {
                              if (name != "__metadata__" &&
                                  t.at("data_offsets")[1].get<uint64_t>() > end) {
                                begin = t.at("data_offsets")[0].get<uint64_t>();
                                end = t.at("data_offsets")[1].get<uint64_t>();
                              }
                            }
                            fs::resize_file(path, 8 + n + (begin + end) / 2);
                          }),
               kRun, 3,
               "model 'tiny2': " + st +
                   ": tensor 'model.norm.weight' data_offsets: expected 0 <= begin <= end <= "
                   "[0-9]+ \\(data bytes in "
                   "the file\\), found \\[[0-9]+,[0-9]+\\]: 128 bytes past the end \\(truncated "
                   "file\\?\\)"});
  v.back().args = "run --model tiny2={dir}/m --data {data} --out {out} --quiet";
  v.push_back({"C06", "checkpoint", "model.safetensors.index.json names a shard that is not there",
               model_copy(sharded,
                          [](const std::string& m) {
                            fs::remove(m + "/model-00002-of-00002.safetensors");
                          }),
               "inspect {dir}/m", 3,
               "\\{dir\\}/m/model.safetensors.index.json: weight_map entry '[^']+': expected shard "
               "'model-00002-of-00002.safetensors' to exist in \\{dir\\}/m, found no such file"});
  v.push_back(
      {"C07", "checkpoint", "no model.safetensors and no index",
       model_copy(tiny, [](const std::string& m) { fs::remove(m + "/model.safetensors"); }),
       "inspect {dir}/m", 3,
       "\\{dir\\}/m: expected model.safetensors or model.safetensors.index.json, found neither"});
  v.push_back({"C08", "checkpoint", "a required tensor is missing",
               model_copy(tiny,
                          [](const std::string& m) {
                            edit_header(m + "/model.safetensors",
                                        [](io::Json& h) { h.erase("model.norm.weight"); });
                          }),
               "inspect {dir}/m", 3,
               "\\{dir\\}/m: tensor 'model.norm.weight': expected present with shape \\[64\\], "
               "found no such tensor "
               "in 1 shard\\(s\\)"});
  v.push_back({"C09", "checkpoint", "a tensor with the wrong shape (transposed)",
               model_copy(tiny,
                          [](const std::string& m) {
                            edit_header(m + "/model.safetensors", [](io::Json& h) {
                              h["model.layers.0.mlp.down_proj.weight"]["shape"] = {96, 64};
                            });
                          }),
               "inspect {dir}/m", 3,
               st + ": tensor 'model.layers.0.mlp.down_proj.weight': expected shape \\[64, 96\\], "
                    "found \\[96, 64\\]"});
  v.push_back({"C10", "checkpoint", "a dtype safetensors does not know (\"Q4_K\")",
               model_copy(tiny,
                          [](const std::string& m) {
                            edit_header(m + "/model.safetensors", [](io::Json& h) {
                              h["model.norm.weight"]["dtype"] = "Q4_K";
                            });
                          }),
               "inspect {dir}/m", 3,
               st + ": tensor 'model.norm.weight': expected a known dtype \\(F32, BF16, F16, "
                    "\\.\\.\\.\\), found dtype "
                    "\"Q4_K\""});
  v.push_back({"C11", "checkpoint", "a dtype the forward pass does not take (I32)",
               model_copy(tiny,
                          [](const std::string& m) {
                            edit_header(m + "/model.safetensors", [](io::Json& h) {
                              h["model.norm.weight"]["dtype"] = "I32";
                            });
                          }),
               "inspect {dir}/m", 3,
               st + ": tensor 'model.norm.weight': expected dtype F32, BF16 or F16, found I32"});
  v.push_back({"C12", "checkpoint", "header length beyond the file size",
               model_copy(tiny,
                          [](const std::string& m) {
                            std::string b = slurp(m + "/model.safetensors");
                            b.replace(0, 8,
                                      std::string("\x00\x00\x00\x00\x00\x01\x00\x00", 8));  // 2^40
                            write(m + "/model.safetensors", b);
                          }),
               "inspect {dir}/m", 3,
               st + ": header length: expected at most [0-9]+ bytes \\(the rest of the file\\), "
                    "found 1099511627776"});
  v.push_back({"C13", "checkpoint", "safetensors header is not JSON",
               model_copy(tiny,
                          [](const std::string& m) {
                            std::string b = slurp(m + "/model.safetensors");
                            b.replace(8, 9, "not json!");
                            write(m + "/model.safetensors", b);
                          }),
               "inspect {dir}/m", 3,
               st + ": header: byte 2: expected valid JSON, found parse error"});
  v.push_back({"C14", "checkpoint", "an empty (0-byte) shard",
               model_copy(tiny, [](const std::string& m) { write(m + "/model.safetensors", ""); }),
               "inspect {dir}/m", 3, st + ": header length: expected 8 bytes, found 0 bytes"});
  v.push_back({"C15", "checkpoint",
               "tokenizer.json of another model (151 665 ids, embedding has 1000 rows)",
               model_copy(tiny,
                          [](const std::string& m) {
                            fs::copy_file(fixture("models/qwen2-realvocab-bf16/tokenizer.json"),
                                          m + "/tokenizer.json",
                                          fs::copy_options::overwrite_existing);
                          }),
               "run --model big={dir}/m --data {data} --out {out} --quiet", 3,
               "model 'big': \\{dir\\}/m/tokenizer.json: vocabulary: expected at most 1000 token "
               "ids \\(vocab_size in "
               "config.json\\), found 151665 ids"});
  v.push_back({"C16", "checkpoint", "checkpoint folder does not exist", nullptr,
               "inspect {dir}/nope", 3,
               "\\{dir\\}/nope: expected a checkpoint folder, found no such file or directory"});
  v.push_back({"C17", "checkpoint", "the checkpoint folder is a file", nullptr,
               "inspect {data}", 3, "expected a checkpoint folder, found a regular file"});
  v.push_back({"C18", "checkpoint", "config.json is a folder",
               model_copy(tiny, [](const std::string& m) {
                 fs::remove(m + "/config.json");
                 fs::create_directory(m + "/config.json");
               }),
               "inspect {dir}/m", 3, "\\{dir\\}/m/config.json: expected a readable file, found a directory"});

  // --- tokenizer files -------------------------------------------------------------------------
  v.push_back({"T01", "tokenizer", "tokenizer.json missing from the checkpoint",
               model_copy(tiny, [](const std::string& m) { fs::remove(m + "/tokenizer.json"); }),
               "run --model m={dir}/m --data {data} --out {out} --quiet", 3,
               "model 'm': \\{dir\\}/m: expected a model folder with tokenizer.json, found no "
               "tokenizer.json"});
  v.push_back({"T02", "tokenizer", "tokenizer.json is not JSON", nullptr,
               "tokenize --tokenizer {bad}/tokenizer/not_json.json --text hi", 3,
               "not_json.json: byte 37: expected valid JSON, found parse error"});
  v.push_back({"T03", "tokenizer", "model type WordPiece", nullptr,
               "tokenize --tokenizer {bad}/tokenizer/unknown_model_type.json --text hi", 3,
               "unknown_model_type.json: model.type: expected \"BPE\" \\(the only model type "
               "supported\\), found "
               "\"WordPiece\""});
  v.push_back({"T04", "tokenizer", "a merge on a token not in the vocabulary",
               model_copy(tiny,
                          [](const std::string& m) {
                            fs::copy_file(test_data("bad/tokenizer/merge_unknown_token.json"),
                                          m + "/tokenizer.json",
                                          fs::copy_options::overwrite_existing);
                          }),
               "run --model m={dir}/m --data {data} --out {out} --quiet", 3,
               "model 'm': \\{dir\\}/m/tokenizer.json: model.merges\\[4\\]: expected a merge of "
               "two vocabulary tokens, "
               "found \"a zz\": token 'zz' is not in the vocabulary"});
  v.push_back(
      {"T05", "tokenizer", "two models whose tokenizers disagree over an answer (one merge less)",
       [tiny](const std::string& dir) {
         copy_dir(*tiny, dir + "/other");
         auto t = io::parse_json(slurp(dir + "/other/tokenizer.json"), "tokenizer");
         auto& merges = t["model"]["merges"];
         merges.erase(std::find(merges.begin(), merges.end(), io::Json("a b")));
         write(dir + "/other/tokenizer.json", t.dump());
         write(dir + "/d.jsonl",
               line_json(record("t1", "Wait, so 4.")) + line_json(record("t2", "Wait, abc.")));
       },
       "run --model tiny={tiny} --model other={dir}/other --data {dir}/d.jsonl --out {out} --quiet",
       3,
       "\\{dir\\}/d.jsonl:2: record 't2', answer token 5: expected the same token id under model "
       "'tiny' and "
       "model 'other' \\(models compared must share a tokenizer over the answer\\), found 32 vs "
       "259 "
       "\\(\" \" vs \" ab\"\\)"});
  v.push_back(
      {"T06", "tokenizer", "--decode with an id outside the vocabulary", nullptr,
       "tokenize --tokenizer {tiny}/tokenizer.json --decode 72,9999", 3,
       "--decode: token id at position 1: expected a token id in \\[0, 261\\) that has a token, found \"9999\""});

  // --- data files --------------------------------------------------------------------------------
  v.push_back({"D01", "data", "UTF-8 byte-order mark at the start of line 1 (rejected, see below)",
               data_file("\xEF\xBB\xBF" + kGoodLine), kRun, 3,
               "\\{dir\\}/d.jsonl:1: expected a JSON object, found a UTF-8 byte-order mark \\(save "
               "the file as UTF-8 "
               "without BOM\\)"});
  v.push_back({"D02", "data", "a 10 MB answer (accepted: tokenized, cut at --max-tokens)",
               [](const std::string& dir) {
                 std::string answer;
                 while (answer.size() < (10u << 20))
                   answer += "Wait, let me check this again. So the sum is 42. ";
                 answer.resize(10u << 20);
                 write(dir + "/d.jsonl", line_json(record("huge", answer)));
               },
               "run --model tiny={tiny} --data {dir}/d.jsonl --out {fresh} --max-tokens 64", 0,
               "1 of 1 texts are longer than --max-tokens 64 and were truncated at the end"});
  v.back().check = [](const std::string& dir, const CliResult&) {
    io::Db db(dir + "/fresh/results.sqlite", false);
    EXPECT_EQ(db.query_int("SELECT n_tokens FROM text_models"), 64);
    EXPECT_EQ(db.query_int("SELECT truncated FROM text_models"), 1);
    EXPECT_GT(db.query_int("SELECT n_tokens_full FROM text_models"), 1000000);
    EXPECT_EQ(db.query_int("SELECT length(CAST(answer AS BLOB)) FROM texts"), 10 << 20);
    EXPECT_EQ(db.query_int("SELECT max(pos) FROM positions"), 63);
  };
  v.push_back({"D03", "data", "level 0",
               data_file(kGoodLine + R"({"query": "q", "answer": "a", "level": 0})"
                                     "\n"),
               kRun, 3,
               "\\{dir\\}/d.jsonl:2: field \"level\": expected an integer 1-5 or \"Level N\", "
               "found an integer 0"});
  v.push_back({"D04", "data", "level 7",
               data_file(kGoodLine + R"({"query": "q", "answer": "a", "level": 7})"
                                     "\n"),
               kRun, 3,
               "\\{dir\\}/d.jsonl:2: field \"level\": expected an integer 1-5 or \"Level N\", "
               "found an integer 7"});
  v.push_back(
      {"D05", "data", "line 3 is not JSON",
       data_file(kGoodLine + line_json(record("b", "fine")) + "{\"query\": \"q\", \"answer\": \n"),
       kRun, 3, "\\{dir\\}/d.jsonl:3: byte 26: expected valid JSON, found parse error"});
  v.push_back({"D06", "data", "field \"answer\" missing",
               data_file(kGoodLine + R"({"query": "q"})"
                                     "\n"),
               kRun, 3,
               "\\{dir\\}/d.jsonl:2: field \"answer\": expected a string, found nothing \\(the "
               "field is missing\\)"});
  v.push_back({"D07", "data", "is_correct is \"yes\"",
               data_file(kGoodLine + R"({"query": "q", "answer": "a", "is_correct": "yes"})"
                                     "\n"),
               kRun, 3,
               "\\{dir\\}/d.jsonl:2: field \"is_correct\": expected true, false, 0 or 1, found a "
               "string \"yes\""});
  v.push_back({"D08", "data", "invalid UTF-8 (byte 0xFF) in the answer",
               data_file(kGoodLine + "{\"query\": \"q\", \"answer\": \"a\xff\"}\n"), kRun, 3,
               "\\{dir\\}/d.jsonl:2: expected UTF-8 text, found invalid UTF-8 at byte 28"});
  v.push_back({"D09", "data", "empty data file", data_file(""), kRun, 3,
               "\\{dir\\}/d.jsonl: expected at least one valid record, found none"});
  v.push_back({"D10", "data", "data file missing", nullptr, kRun, 3,
               "\\{dir\\}/d.jsonl: expected a readable file, found No such file or directory"});
  v.push_back({"D11", "data", "--data names a folder",
               [](const std::string& dir) { fs::create_directory(dir + "/d.jsonl"); }, kRun, 3,
               "\\{dir\\}/d.jsonl: expected a regular file, found a directory"});
  v.push_back({"D12", "data", "the same id on two lines",
               data_file(kGoodLine + line_json(record("ok", "again"))), kRun, 3,
               "\\{dir\\}/d.jsonl:2: field \"id\": expected an id not used by an earlier line, "
               "found \"ok\" again"});
  v.push_back({"D13", "data", "an answer of blanks only",
               data_file(kGoodLine + line_json(record("b", "  \t "))), kRun, 3,
               "\\{dir\\}/d.jsonl:2: field \"answer\": expected a non-empty string"});
  v.push_back(
      {"D14", "data", "every bad line is listed, not just the first",
       data_file(kGoodLine + "[1, 2]\n" + line_json(record("b", "fine")) +
                 R"({"answer": "a"})"
                 "\n"),
       kRun, 3,
       "2 of 4 lines are invalid \\(fix them, or pass --skip-invalid to run on the others\\):\n  "
       "\\{dir\\}/d.jsonl:2: expected a JSON object, found an array\n  \\{dir\\}/d.jsonl:4: field "
       "\"query\""});
  // It read a folder as an empty file: exit 0 and no output.
  v.push_back({"D16", "data", "tokenize --jsonl names a folder",
               [](const std::string& dir) { fs::create_directory(dir + "/d.jsonl"); },
               "tokenize --tokenizer {tiny}/tokenizer.json --jsonl {dir}/d.jsonl", 3,
               "\\{dir\\}/d.jsonl: expected a readable file, found a directory"});
  v.push_back({"D15", "data", "tokenize --jsonl with an empty line 2",
               data_file(R"({"text": "a"})"
                         "\n\n"
                         R"({"text": "b"})"
                         "\n"),
               "tokenize --tokenizer {tiny}/tokenizer.json --jsonl {dir}/d.jsonl", 3,
               "\\{dir\\}/d.jsonl:2: expected a JSON object, found an empty line"});

  // --- command lines -----------------------------------------------------------------------------
  const std::string run_ok = "run --model tiny={tiny} --data {data} --out {out} --quiet";
  v.push_back({"A01", "command line", "unknown option", nullptr, run_ok + " --frobnicate", 2,
               "logitscope run: usage error: unknown option --frobnicate; this command takes --data, --device, "
               "--field, --force, --help, --keywords, "});
  v.push_back({"A20", "command line", "a misspelt option", nullptr, run_ok + " --max-token 64", 2,
               "logitscope run: usage error: unknown option --max-token \\(did you mean --max-tokens\\?\\); this "
               "command takes "});
  // The environment's knobs (README: speed or memory, never results) are checked as strictly as
  // options: LSC_GROUP_BYTES=1.5G was read as 1 byte (one text per group: every model packed
  // again for each text), LSC_BF16_PACK=yes as auto.
  v.push_back({"A21", "command line", "LSC_GROUP_BYTES that is not a whole number of bytes", nullptr, run_ok, 3,
               "LSC_GROUP_BYTES: value: expected a whole number of bytes >= 1, optionally with K, M or G "
               "\\(KiB, MiB, GiB\\), found \"1.5G\""});
  v.back().env = "LSC_GROUP_BYTES=1.5G";
  v.push_back({"A22", "command line", "LSC_BATCH_TOKENS with a unit", nullptr, run_ok, 3,
               "LSC_BATCH_TOKENS: value: expected a whole number >= 1, found \"512k\""});
  v.back().env = "LSC_BATCH_TOKENS=512k";
  v.push_back({"A23", "command line", "LSC_BF16_PACK other than auto, 1 or 0", nullptr, run_ok, 3,
               "LSC_BF16_PACK: value: expected auto, 1 or 0, found \"yes\""});
  v.back().env = "LSC_BF16_PACK=yes";
  // LSC_ISA and LSC_EXACT are read by the kernels' dispatch inside a pass: every command checks
  // them before its work (an unknown value used to warn and go on with the default kernels).
  v.push_back({"A24", "command line", "LSC_ISA other than scalar, avx2 or avx512", nullptr, run_ok, 3,
               "logitscope: error: LSC_ISA: value: expected scalar, avx2 or avx512, found \"avx-512\""});
  v.back().env = "LSC_ISA=avx-512";
  v.push_back({"A25", "command line", "LSC_EXACT other than split or fp32", nullptr,
               "logits --model {tiny} --ids 1,2", 3,
               "logitscope: error: LSC_EXACT: value: expected split or fp32, found \"bf16\""});
  v.back().env = "LSC_EXACT=bf16";
  // A repeated single-value option took the last value silently (--out w1 --out w2 wrote w2).
  v.push_back({"A26", "command line", "a single-value option given twice with different values", nullptr,
               run_ok + " --top-k 5 --top-k 7", 2,
               "logitscope run: usage error: --top-k is given twice, as \"5\" and as \"7\": give it once"});
  v.push_back({"A27", "command line", "--field mapping one field twice", nullptr,
               run_ok + " --field answer=response --field answer=text", 2,
               "--field: answer is mapped twice, to \"response\" and to \"text\": give it once"});
  v.push_back({"A02", "command line", "option without its value (last)", nullptr,
               "run --model tiny={tiny} --data {data} --out", 2,
               "logitscope run: usage error: --out needs a value"});
  v.push_back({"A03", "command line", "--top-k 0", nullptr, run_ok + " --top-k 0", 2,
               "--top-k: expected an integer in \\[1, 1000\\], found \"0\""});
  v.push_back({"A04", "command line", "--top-k -3", nullptr, run_ok + " --top-k -3", 2,
               "--top-k: expected an integer in \\[1, 1000\\], found \"-3\""});
  v.push_back({"A05", "command line", "--max-tokens abc", nullptr, run_ok + " --max-tokens abc", 2,
               "--max-tokens: expected an integer in \\[2, 1048576\\], found \"abc\""});
  v.push_back({"A06", "command line", "--window 1.5", nullptr, run_ok + " --window 1.5", 2,
               "--window: expected an integer in \\[0, 1000\\], found \"1.5\""});
  v.push_back({"A07", "command line", "--model twice with the same name", nullptr,
               "run --model a={tiny} --model a={sharded} --data {data} --out {out} --quiet", 2,
               "--model: the name 'a' is given twice"});
  v.push_back({"A08", "command line", "--model without a name (\"=DIR\")", nullptr,
               "run --model ={tiny} --data {data} --out {out} --quiet", 2,
               "--model: expected NAME=DIR, found \"="});
  v.push_back({"A09", "command line", "--field with an unknown logical field", nullptr,
               run_ok + " --field text=body", 2,
               "--field: expected FIELD=KEY with FIELD one of query, answer, level, is_correct, "
               "id, source; found "
               "\"text=body\""});
  v.push_back({"A10", "command line", "--out holds a run with other options, no --force", nullptr,
               run_ok + " --top-k 5", 3,
               "\\{out\\}/results.sqlite: stored run: expected the same arguments as this command "
               "\\(to resume it\\), "
               "found a run with different models, data or options \\(differs in: top_k \\(stored 20, this "
               "command 5\\)\\); use --force to replace it, or "
               "another --out"});
  v.push_back({"A11", "command line", "unknown command", nullptr, "frobnicate", 2,
               "logitscope: unknown command 'frobnicate'"});
  v.push_back({"A12", "command line", "export --table that does not exist", nullptr,
               "export {out} --table nope", 2, "--table: unknown table 'nope'"});
  v.push_back({"A13", "command line", "stats on a folder without results", nullptr, "stats {dir}",
               3,
               "\\{dir\\}/results.sqlite: expected a results database \\(run 'logitscope run' "
               "first\\), found no such "
               "file"});
  v.push_back(
      {"A14", "command line", "results.sqlite that is not a database",
       [](const std::string& dir) { write(dir + "/out/results.sqlite", "not a database\n"); },
       "export {out} --table texts", 3,
       "\\{out\\}/results.sqlite: expected an SQLite results database, found file is not a "
       "database"});
  // It turned the empty file into an empty SQLite database (a read-only command rewrote its input).
  v.push_back({"A28", "command line", "results.sqlite that is an empty file",
               [](const std::string& dir) { write(dir + "/out/results.sqlite", ""); }, "report {out} --quiet", 3,
               "\\{out\\}/results.sqlite: expected a results database \\(run 'logitscope run' first\\), found an empty file"});
  v.back().check = [](const std::string& dir, const CliResult&) {
    EXPECT_EQ(fs::file_size(dir + "/out/results.sqlite"), 0u) << "the input was written";
  };
  // It said "step failed: database disk image is malformed" and exited 4 (an output error).
  v.push_back({"A29", "command line", "results.sqlite damaged past its first page",
               [](const std::string& dir) {
                 const std::string db = dir + "/out/results.sqlite";
                 for (const char* f : {"-wal", "-shm"}) fs::remove(db + f);
                 std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
                 const std::string garbage(fs::file_size(db) - 4096, '\xA5');
                 f.seekp(4096);
                 f.write(garbage.data(), std::streamsize(garbage.size()));
               },
               "export {out} --table texts", 3,
               "\\{out\\}/results.sqlite: expected an intact SQLite results database, found database disk image is "
               "malformed"});
  v.push_back({"A15", "command line", "logits --ids with an id outside the vocabulary", nullptr,
               "logits --model {tiny} --ids 1,2,1000", 3,
               "--ids: token id at position 2: expected an id in \\[0, 1000\\), found 1000"});
  v.push_back({"A17", "command line", "--lens naming a layer the model lacks", nullptr, run_ok + " --lens 0,2", 2,
               "--lens '0,2': layer 2 is past the last layer \\(2 layers: 0-1\\), for model 'tiny' \\(layers per "
               "model: tiny 2\\)"});
  v.push_back({"A18", "command line", "--lens that does not parse", nullptr, run_ok + " --lens every:x", 2,
               "--lens 'every:x': expected every:K with K a whole number ≥ 1, for model 'tiny' \\(layers per model: "
               "tiny 2\\)"});
  v.push_back({"A19", "command line", "--lens-at other than keywords or answer", nullptr,
               run_ok + " --lens all --lens-at everywhere", 2,
               "--lens-at: expected 'keywords' or 'answer', found 'everywhere'"});
  v.push_back({"A16", "command line", "run that does not fit in the memory it may use", nullptr,
               run_ok + " --max-memory 0.0001", 3,
               "the run does not fit in memory: record '[^']+' \\(\\{data\\}:[0-9]+\\) is [0-9]+ tokens under model "
               "'tiny'; a run over it needs .* and 0.1 MiB allowed \\(--max-memory\\). Options that fit: nothing "
               "within --max-memory"});

  // --- outputs -----------------------------------------------------------------------------------
  v.push_back({"O01", "output",
               "run on a full disk (file size limit 1500 KiB), then again without the limit",
               [](const std::string& dir) {
                 std::string d;
                 for (int i = 0; i < 10; ++i) {
                   std::string answer;
                   for (int k = 0; k < 6; ++k) {
                     answer += "Wait, let me check step " + std::to_string(k) +
                               " again: " + std::to_string(i) + " plus " + std::to_string(k) +
                               ", so therefore hmm. ";
                   }
                   d += line_json(record("r" + std::to_string(i), answer, 1 + i % 5));
                 }
                 write(dir + "/d.jsonl", d);
               },
               "run --model a={tiny} --data {dir}/d.jsonl --out {fresh} --quiet --threads 1", 4,
               "\\{fresh\\}/results.sqlite: disk I/O error", Wrap::FullDisk, 1500});
  v.back().check = [](const std::string& dir, const CliResult&) {
    // --threads 1: results do not depend on it, and OpenMP threads spinning on a busy machine
    // made these runs ten times slower.
    const std::string args =
        "run --model a=" + g_env.tiny + " --data " + dir + "/d.jsonl --quiet --threads 1 --out ";
    {
      // The texts committed before the write failed are there.
      io::Db db(dir + "/fresh/results.sqlite", false);
      const int64_t done = db.query_int("SELECT count(*) FROM done");
      std::printf("  O01: %lld of 10 texts committed before the write failed\n",
                  static_cast<long long>(done));
      EXPECT_GT(done, 0);
      EXPECT_LT(done, 10);
    }
    // Without report.html (LSC_WEB_DIR without plotly.js: a warning): it is not what this row is
    // about, and building it twice would cost seconds.
    const std::string no_report = "LSC_WEB_DIR=" + dir + "/no-web ";
    auto r = run_behind(no_report, args + dir + "/fresh");
    ASSERT_EQ(r.code, 0) << r.err;
    r = run_behind(no_report, args + dir + "/ref");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(dump_tables(dir + "/fresh/results.sqlite"), dump_tables(dir + "/ref/results.sqlite"));
    for (const char* f : {"summary.json", "stats.json"}) {
      EXPECT_EQ(slurp(dir + "/fresh/" + f), slurp(dir + "/ref/" + f)) << f;
    }
  };
  v.push_back({"O02", "output", "run --force into a results folder without write permission",
               nullptr,
               "run --model tiny={tiny} --data {data} --out {out} --quiet --top-k 5 --force", 4,
               "\\{out\\}/results.sqlite: cannot remove it to replace the run \\(--force\\): "
               "Permission denied",
               Wrap::NoWrite});
  v.push_back({"O03", "output", "the finished run again, in a folder without write permission",
               nullptr, "run --model tiny={tiny} --data {data} --out {out} --quiet", 4,
               "\\{out\\}/results.sqlite: cannot open for writing: attempt to write a readonly "
               "database \\(no write permission in \\{out\\}\\)",
               Wrap::NoWrite});
  v.push_back({"O04", "output", "--out to be created in a folder without write permission", nullptr,
               "run --model tiny={tiny} --data {data} --out {dir}/sub --quiet", 4,
               "\\{dir\\}/sub: cannot create the results directory: Permission denied",
               Wrap::NoWrite});
  v.push_back({"O05", "output", "stats in a results folder without write permission", nullptr,
               "stats {out} --quiet", 4,
               "\\{out\\}/stats.json: cannot open for writing: Permission denied \\(written as "
               "\\{out\\}/stats.json.tmp, then renamed\\)",
               Wrap::NoWrite});
  v.push_back({"O06", "output",
               "export from a results folder without write permission (accepted: read-only)",
               nullptr, "export {out} --table texts", 0, "^$", Wrap::NoWrite});
  v.back().check = [](const std::string&, const CliResult& r) {
    EXPECT_EQ(
        r.out.rfind("text_idx,record_id,line,source,level,is_correct,query,answer\n0,r0,1,", 0), 0u)
        << r.out;
  };
  v.push_back({"O07", "output", "stats on a full disk (file size limit 64 KiB)", nullptr,
               "stats {out} --quiet", 4, "\\{out\\}/stats.json: write failed: File too large",
               Wrap::FullDisk, 64});
  v.push_back({"O08", "output", "export --out on a full disk (file size limit 64 KiB)", nullptr,
               "export {out} --table positions --out {out}/positions.csv", 4,
               "\\{out\\}/positions.csv: write failed: File too large", Wrap::FullDisk, 64});
  v.push_back({"O09", "output", "report --out into a folder that does not exist", nullptr,
               "report {out} --out {dir}/missing/report.html --quiet", 4,
               "report: \\{dir\\}/missing/report.html: cannot open for writing: No such file "
               "or directory"});
  v.back().needs_plotly = true;
  v.push_back({"O10", "output", "logits --npy into a folder that does not exist", nullptr,
               "logits --model {tiny} --ids 1,2 --npy {dir}/missing/l.npy", 4,
               "\\{dir\\}/missing/l.npy: cannot open for writing: No such file or directory"});
  // It replaced the pipe (as root, a device such as /dev/full) by a regular file and said it wrote.
  v.push_back({"O11", "output", "report --out names a pipe", [](const std::string& dir) { ::mkfifo((dir + "/r.html").c_str(), 0600); },
               "report {out} --out {dir}/r.html --quiet", 4,
               "report: \\{dir\\}/r.html: cannot write the output there: it is a pipe \\(a regular file or a new name "
               "is expected\\)"});
  v.back().needs_plotly = true;
  return v;
}

// ---------------------------------------------------------------------------------------------
// The harness.

std::string regex_escape(const std::string& s) {
  static const std::string special = R"(\^$.|?*+()[]{})";
  std::string out;
  for (char c : s) {
    if (special.find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
  return s;
}

// Runs the binary like run_cli, behind a command prefix (bash -c '...' or setpriv ...).
CliResult run_behind(const std::string& prefix, const std::string& args) {
  static int counter = 0;
  const std::string base = g_env.root + "/cli_" + std::to_string(counter++);
  const std::string cmd =
      prefix + binary() + " " + args + " </dev/null >" + base + ".out 2>" + base + ".err";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  fs::remove(base + ".out");
  fs::remove(base + ".err");
  return r;
}

bool plotly_installed() {
  const char* env = std::getenv("LSC_WEB_DIR");
  const std::string web = env != nullptr && *env != '\0' ? env : LSC_WEB_DIR_DEFAULT;
  return fs::exists(web + "/node_modules/plotly.js-dist-min/plotly.min.js");
}

// Why user nobody cannot run the binary on our inputs, or "" if it can.
std::string nobody_unavailable() {
  if (std::system("command -v setpriv >/dev/null 2>&1 && id -u nobody >/dev/null 2>&1 && "
                  "getent group nogroup >/dev/null 2>&1") != 0) {
    return "setpriv, user nobody or group nogroup missing";
  }
  for (fs::path p : {fs::path(binary()), fs::path(g_env.root)}) {
    for (; !p.empty() && p != p.root_path(); p = p.parent_path()) {
      struct stat st {};
      if (::stat(p.c_str(), &st) != 0 || (st.st_mode & S_IXOTH) == 0) {
        return p.string() + " is not traversable (o+x) by user nobody";
      }
    }
  }
  return "";
}

class BadInput : public ::testing::TestWithParam<Case> {
 public:
  static void SetUpTestSuite() {
    g_env.root =
        (fs::temp_directory_path() / ("lsc_bad_input_" + std::to_string(::getpid()))).string();
    fs::remove_all(g_env.root);
    fs::create_directories(g_env.root + "/cases");
    g_env.tiny = g_env.root + "/tiny";
    copy_dir(fixture("models/qwen2-f32"), g_env.tiny);
    fs::copy_file(test_data("tokenizer/tiny_tokenizer.json"), g_env.tiny + "/tokenizer.json");
    g_env.sharded = g_env.root + "/sharded";
    copy_dir(fixture("models/qwen2-f32-sharded"), g_env.sharded);
    fs::copy_file(test_data("tokenizer/tiny_tokenizer.json"), g_env.sharded + "/tokenizer.json");
    g_env.data = g_env.root + "/data.jsonl";
    std::string d;
    for (int i = 0; i < 6; ++i) {
      const std::string n = std::to_string(i), s = std::to_string(2 * i);
      d += line_json({{"id", "r" + n},
                      {"query", "What is " + n + "+" + n + "?"},
                      {"answer", "Let me think. " + n + "+" + n + " is " + s +
                                     ". Wait, check: so " + s + ". Hmm, yes."},
                      {"level", 1 + i % 5},
                      {"is_correct", i % 2 == 0}});
    }
    write(g_env.data, d);
    g_env.results = g_env.root + "/results";
    const auto r = run_behind("", "run --model tiny=" + g_env.tiny + " --data " + g_env.data +
                                      " --out " + g_env.results + " --quiet --threads 1");
    ASSERT_EQ(r.code, 0) << r.err;
    open_up(g_env.root);
  }
  static void TearDownTestSuite() {
    if (!g_env.root.empty()) {
      open_up(g_env.root);  // undo the chmod 0555 of NoWrite rows
      fs::remove_all(g_env.root);
    }
  }
};

TEST_P(BadInput, GivesTheDocumentedExitCodeAndMessageAndLeavesResultsIntact) {
  const Case& c = GetParam();
  if (c.needs_plotly && !plotly_installed()) {
    GTEST_SKIP() << "skipped: plotly.js is not installed (bash scripts/install-deps.sh), and "
                    "report reads it first";
  }
  ASSERT_FALSE(g_env.results.empty()) << "the shared results directory was not made";
  const std::string dir = g_env.root + "/cases/" + c.id;
  fs::create_directories(dir);
  const std::string out = dir + "/out", fresh = dir + "/fresh";
  const bool uses_out = c.args.find("{out}") != std::string::npos;
  if (uses_out) copy_dir(g_env.results, out);
  if (c.make) c.make(dir);
  open_up(dir);
  const Snapshot before = snapshot(out);

  std::string prefix;
  if (c.wrap == Wrap::FullDisk) {
    prefix = "bash -c 'trap \"\" XFSZ; ulimit -f " + std::to_string(c.limit_kib) +
             "; exec \"$0\" \"$@\"' ";
  } else if (c.wrap == Wrap::NoWrite) {
    if (::geteuid() == 0) {
      if (const std::string why = nobody_unavailable(); !why.empty()) {
        GTEST_SKIP() << "skipped: for a folder without write permission, root must run the "
                        "command as user nobody, but "
                     << why;
      }
      prefix = "setpriv --reuid=nobody --regid=nogroup --clear-groups ";
    } else {
      not_writable(out);
      not_writable(dir);
    }
  }
  auto expand = [&](std::string s, bool as_regex) {
    auto v = [&](const std::string& x) { return as_regex ? regex_escape(x) : x; };
    const std::string open_brace = as_regex ? "\\{" : "{", close_brace = as_regex ? "\\}" : "}";
    for (const auto& [name, value] :
         std::vector<std::pair<std::string, std::string>>{{"dir", dir},
                                                          {"out", out},
                                                          {"fresh", fresh},
                                                          {"tiny", g_env.tiny},
                                                          {"sharded", g_env.sharded},
                                                          {"data", g_env.data},
                                                          {"bad", test_data("bad")}}) {
      s = replace_all(s, open_brace + name + close_brace, v(value));
    }
    return s;
  };
  if (!c.env.empty()) prefix = "env " + c.env + " " + prefix;
  const std::string args = expand(c.args, false);
  const auto r = run_behind(prefix, args);
  if (c.wrap == Wrap::NoWrite) open_up(dir);
  // What the README table is copied from: the exit code and stderr, without the temp folder.
  std::printf("  %s  exit %d\n", c.id, r.code);
  std::istringstream lines(replace_all(r.err, g_env.root + "/", ""));
  for (std::string l; std::getline(lines, l);) std::printf("    %s\n", l.c_str());

  EXPECT_EQ(r.code, c.code) << c.id << " (" << c.input << "): " << args << "\nstderr: " << r.err;
  EXPECT_TRUE(std::regex_search(r.err, std::regex(expand(c.message, true))))
      << c.id << " (" << c.input << "): the message does not match\n  " << c.message
      << "\nstderr: " << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  if (uses_out) {
    EXPECT_EQ(differences(before, snapshot(out)), std::vector<std::string>{})
        << c.id << ": the results directory at --out changed";
  }
  if (c.check) c.check(dir, r);
}

INSTANTIATE_TEST_SUITE_P(Matrix, BadInput, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           return std::string(i.param.id);
                         });

TEST(BadInputMatrix, HasAtLeastThirtyRowsWithUniqueIds) {
  const auto v = cases();
  std::set<std::string> ids;
  for (const auto& c : v) EXPECT_TRUE(ids.insert(c.id).second) << c.id;
  EXPECT_GE(v.size(), 30u);
}

}  // namespace
}  // namespace lsc::test
