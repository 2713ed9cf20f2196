// The measuring step of a run, for one text: the LM-head rows of every model recomputed side by side
// from the kept hidden states, reduced to per-position metrics, the divergences of every model
// pair over the common answer, keyword occurrences and the windows around them; every row of
// the text committed to the results database in one transaction.
#pragma once

#include <vector>

#include "analysis/keywords.h"
#include "gpu/gpu.h"
#include "model/model.h"
#include "pipeline/lens.h"
#include "pipeline/plan.h"
#include "results/results_db.h"

namespace lsc::pipeline {

class TextMeasurer {
 public:
  // gpu (optional): the models on a GPU, which then computes the LM-head rows, their statistics
  // and the pairs' divergences (the lens rows stay on the CPU).
  TextMeasurer(const std::vector<LoadedModel>& models, const std::vector<analysis::KeywordFamily>& families,
               const RunOptions& opt, model::Precision precision, gpu::GpuModels* gpu = nullptr)
      : models_(models), families_(families), opt_(opt), precision_(precision), gpu_(gpu) {}

  // lens[m]: model m's kept lens rows (none without --lens).
  void measure_and_write(const TextJob& job, const std::vector<std::vector<float>>& hidden,
                         const std::vector<LensRows>& lens, results::ResultsDb& db);

 private:
  // rows[t] = summary of model m's row t−1 (the prediction of token t); rows[0] unused.
  void summarize_range(size_t m, const TextPlan& p, const std::vector<float>& hidden, int64_t pos_begin,
                       int64_t pos_end, std::vector<analysis::RowSummary>& rows);

  const std::vector<LoadedModel>& models_;
  const std::vector<analysis::KeywordFamily>& families_;
  const RunOptions& opt_;
  model::Precision precision_;
  gpu::GpuModels* gpu_;
  std::vector<std::vector<float>> logits_;  // per model, one chunk (CPU)
};

}  // namespace lsc::pipeline
