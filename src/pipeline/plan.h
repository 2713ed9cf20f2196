// What a run reads before any forward pass: each model (checkpoint, tokenizer, template), the
// length cut, the keyword families (the same token ids under every model), and every record
// tokenized under every model (TextPlan), with the check that the models agree over each answer
// token for token. Nothing here runs a model.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "analysis/keywords.h"
#include "analysis/text_layout.h"
#include "io/dataset.h"
#include "model/model.h"
#include "pipeline/options.h"
#include "tokenizer/tokenizer.h"

namespace lsc::pipeline {

class Progress;

struct LoadedModel {
  std::string name, dir, tokenizer_path, tokenizer_sha256;
  std::unique_ptr<model::Model> model;
  std::shared_ptr<const tok::Tokenizer> tokenizer;  // shared by models whose tokenizer.json is the same file content
  analysis::Template tmpl;
  std::vector<int> lens_layers;  // run --lens: this model's lens layers (check_lens_options), ascending
};

// One record as one model reads it.
struct TextPlan {
  analysis::TextLayout layout;
  std::vector<int32_t> ids;
  std::vector<std::pair<int64_t, int64_t>> offsets;
  std::vector<analysis::Span> spans;
  int64_t n_full = 0;
  bool truncated = false;
  int64_t answer_first = 0, n_answer = 0;  // answer positions [answer_first, answer_first + n_answer)
};

// Where a text's logit lens is read under one model (run --lens; lens.h): positions t whose row
// t − 1 (the prediction of token t) the forward pass keeps at every lens layer.
struct LensSites {
  std::vector<int64_t> pos;       // sorted, unique, each ≥ 1
  std::vector<int64_t> decision;  // the positions predicting a keyword occurrence's first token
};

struct TextJob {
  int64_t text_idx = 0;
  const io::Record* rec = nullptr;
  std::vector<TextPlan> plans;  // per model
  int64_t n_common = 0;         // answer tokens present (and identical) under every model
  std::vector<LensSites> lens;  // per model; empty without --lens
  int64_t lens_bytes = 0;       // the kept lens rows of all models
  int64_t tokens() const;       // over all models
};

// The models of opt.models, each with its tokenizer (one shared by models whose tokenizer.json is
// the same file content) and template; InputError naming the model on anything wrong.
std::vector<LoadedModel> load_models(const RunOptions& opt, Progress& progress);

analysis::Template template_for(const std::string& spec, const tok::Tokenizer& t, const std::string& model_name);

// Where texts are cut: --max-tokens, else the models' context (the smallest max_position_embeddings).
struct LengthCut {
  int64_t max_tokens = INT64_MAX;  // INT64_MAX: no cut (no model states its context)
  std::string name;                // "--max-tokens 30" or "the models' context (...)", for messages
  int64_t context = 0;             // the smallest max_position_embeddings (0 if none)
  std::string context_model;
};
LengthCut length_cut(const std::vector<LoadedModel>& models, int64_t requested);

// The families of `keywords` from each model's vocabulary; InputError unless every model gives
// the same token ids.
std::vector<analysis::KeywordFamily> agreed_families(const std::vector<LoadedModel>& models,
                                                     const std::vector<std::string>& keywords);

TextPlan plan_text(const LoadedModel& m, const io::Record& r, int64_t max_tokens);

// Every record under every model; InputError naming the line and answer token where two models'
// tokenizations of an answer differ.
struct TextPlans {
  std::vector<TextJob> jobs;  // lens sites filled in by add_lens_sites (lens.h)
  int64_t n_truncated = 0, total_tokens = 0;
  int64_t longest_full = 0;  // tokens of the longest text under any model, before any cut
};
TextPlans plan_texts(const io::Dataset& data, const std::vector<LoadedModel>& models, const LengthCut& cut,
                     const std::string& data_path);

// The arguments that decide a run's results, as canonical JSON (its hash guards resumes and merges):
// the models (path, config.json's hash and, `with_weights`, Checkpoint::weights_fingerprint), the
// data file's path and hash, and every option that changes a result. Runs started before the
// weights were recorded have the hash of `with_weights` false.
std::string canonical_args(const RunOptions& o, const std::vector<LoadedModel>& models, const std::string& data_sha,
                           bool with_weights = true);

}  // namespace lsc::pipeline
