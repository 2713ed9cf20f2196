// The main job behind `logitscope run` and `logitscope demo`: validate the dataset, tokenize
// every text with every model's tokenizer (they must agree over the answer), run the models,
// measure every position and every model pair, and commit results text by text to
// <out>/results.sqlite, then write summary.json. Interrupting loses nothing; re-running resumes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/dataset.h"
#include "model/model.h"

namespace lsc::cli {

struct RunOptions {
  std::vector<std::pair<std::string, std::string>> models;  // (name, checkpoint folder), in order
  std::string data_path;
  std::string out_dir;
  std::vector<std::string> keywords;  // families; default_keywords() when empty
  std::string template_spec = "notebook";  // "notebook", "chat", or a pattern
  int64_t max_tokens = 2048;
  int top_k = 20;
  int window = 10;
  int threads = 0;    // 0 = OpenMP default
  int64_t limit = 0;  // 0 = all records
  bool skip_invalid = false;
  bool force = false;
  io::FieldMap fields;
  bool quiet = false;  // no progress output (tests)
  std::string precision = "fp32";  // "fp32" (exact, default) or "bf16" (fast path; see README)
};

// Returns the process exit code (0 done, 130 interrupted). Throws InputError/UsageError/IoError.
int run_pipeline(const RunOptions& opt);

// Parses "name=path" (or a bare path, named by its folder) for --model.
std::pair<std::string, std::string> parse_model_spec(const std::string& spec);

}  // namespace lsc::cli
