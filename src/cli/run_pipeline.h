// The main job behind `logitscope run` and `logitscope demo`: validate the dataset, tokenize
// every text with every model's tokenizer (they must agree over the answer), run the models,
// measure every position and every model pair, and commit results text by text to
// <out>/results.sqlite, then write summary.json, the statistics and the report. Interrupting loses nothing; re-running resumes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cli/shard.h"
#include "io/dataset.h"
#include "model/model.h"

namespace lsc::cli {

struct RunOptions {
  std::vector<std::pair<std::string, std::string>> models;  // (name, checkpoint folder), in order
  std::string data_path;
  std::string out_dir;
  std::vector<std::string> keywords;  // families; default_keywords() when empty
  std::string template_spec = "notebook";  // "notebook", "chat", or a pattern
  int64_t max_tokens = 0;  // cut texts longer than this; 0 = no cut below the models' context
  double max_memory_gib = 0;    // plan for at most this much memory; 0 = what the machine has free
  double progress_interval = 10;  // seconds between progress lines when stderr is not a terminal
  int top_k = 20;
  int window = 10;
  int threads = 0;    // 0 = OpenMP default
  int64_t limit = 0;  // 0 = all records
  bool skip_invalid = false;
  bool force = false;
  io::FieldMap fields;
  bool quiet = false;  // no progress output (tests)
  std::string precision = "fp32";  // "fp32" (exact, default) or "bf16" (fast path; see README)
  // Shard I of N: this process runs only its share of the texts (balanced by tokens) into
  // <out>/shards/<I>-of-<N>/results.sqlite; `merge` joins the shards. Count 1 = the whole run.
  ShardSpec shard;
  bool shard_by_rank = false;  // the shard is this MPI rank's (rank 0 merges; no merge hint printed)
};

// Returns the process exit code (0 done, 130 interrupted). Throws InputError/UsageError/IoError.
int run_pipeline(const RunOptions& opt);

// After the results are complete: summary.json, stats (json, md, table) and report.html in out_dir.
// A report that cannot be built is a warning (the results are already safe); returns whether
// report.html was written.
bool write_outputs(const std::string& out_dir, bool quiet);

// Parses "name=path" (or a bare path, named by its folder) for --model.
std::pair<std::string, std::string> parse_model_spec(const std::string& spec);

}  // namespace lsc::cli
