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

  // The lens rows of model m at the sites among positions [t0, t0 + n), whose final LM-head rows
  // are logits_[m] (CPU), into lens_rows_[m].
  void lens_of_chunk(size_t m, const TextPlan& p, const std::vector<float>& hidden, int64_t t0, int64_t n,
                     const std::vector<analysis::RowSummary>& rows);

  const std::vector<LoadedModel>& models_;
  const std::vector<analysis::KeywordFamily>& families_;
  const RunOptions& opt_;
  model::Precision precision_;
  gpu::GpuModels* gpu_;
  std::vector<std::vector<float>> logits_;  // per model, one chunk (CPU)
  const std::vector<LensRows>* lens_ = nullptr;           // the text's kept lens rows, per model
  std::vector<std::vector<results::LensRow>> lens_rows_;  // the text's lens rows, per model
  std::vector<float> lens_scratch_;                       // lens LM-head rows of one chunk
};

}  // namespace lsc::pipeline
