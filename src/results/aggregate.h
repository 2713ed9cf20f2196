// Per-text aggregates read back from the results database (the unit of analysis, DESIGN §3), and
// summary.json: counts, rates and means per model × keyword family × level × correctness.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "results/results_db.h"

namespace lsc::results {

struct TextInfo {
  int64_t text_idx = 0;
  std::string record_id;
  int level = 0;        // 0 unknown
  int is_correct = -1;  // -1 unknown
};

// One text under one model, over its answer positions.
struct TextModelAgg {
  int64_t n_answer = 0;
  double sum_entropy = 0.0, sum_logprob = 0.0;
  std::vector<double> sum_propensity;            // per family
  std::vector<int64_t> n_occ;                    // per family
  std::vector<std::vector<double>> lp_word;      // per family: whole-word log p of each occurrence
  std::vector<std::vector<double>> lp_first;     // per family: first-token log p
  std::vector<std::vector<double>> entropy_before;  // per family: entropy of the row that predicts it
  std::vector<std::vector<double>> kl_at;        // per family: mean KL to the other models there (if any)
  std::vector<double> kl_sum;                    // per other model: Σ KL(P_this ‖ P_other)
  std::vector<int64_t> kl_n;
  // With --lens (empty without), per family: the mean lens propensity at the family's decision
  // rows (the rows predicting each occurrence's first token) at each of the model's lens layers
  // (RunAggregates::lens_layers; NaN without occurrences), and the emergence depth — the first
  // of those layers whose value reaches half of the model's own output there; NaN without
  // occurrences, with a final value of 0, or when no recorded layer reaches it.
  std::vector<std::vector<double>> lens_prop;  // [family][lens layer index]
  std::vector<double> lens_emergence;          // [family]
};

struct RunAggregates {
  std::vector<std::string> models, families;
  bool has_lens = false;  // the run has lens rows (run --lens)
  std::vector<std::vector<int64_t>> lens_layers;  // [model]: the layers with lens rows, ascending
  std::vector<TextInfo> texts;
  std::vector<std::vector<TextModelAgg>> per_text;  // [text][model]
};

RunAggregates load_aggregates(ResultsDb& db);

// Writes <out_dir>/summary.json (atomically).
void write_summary(ResultsDb& db, const std::string& out_dir);

}  // namespace lsc::results
