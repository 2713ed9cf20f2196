// How a run's texts meet the models: groups (consecutive texts whose hidden states, all models,
// fit opt.group_bytes and are kept between the forward passes and the measuring step), passes
// (consecutive texts of a group stacked up to opt.batch_tokens rows), and the memory that needs at
// its largest, checked against the memory there is before any forward pass. None of these
// choices changes a result (tested): they trade speed against memory.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "pipeline/plan.h"

namespace lsc::pipeline {

// End (exclusive) of each group of texts, in order; every group holds at least one text.
std::vector<size_t> group_ends(const std::vector<const TextJob*>& texts, const std::vector<LoadedModel>& models,
                               int64_t group_bytes);

// The next forward pass of model m from text *i (advanced past it) within [*i, end): consecutive
// texts up to batch_tokens rows (a longer text alone; texts without tokens skipped).
struct Pass {
  std::vector<size_t> texts;                     // indices into the text list
  std::vector<std::span<const int32_t>> ids;     // their token ids
  int64_t rows = 0;
};
Pass next_pass(const std::vector<const TextJob*>& texts, size_t model, size_t* i, size_t end, int64_t batch_tokens);

// The memory a run needs at its largest moment: the largest model's weights at
// `weights_precision` (Model::weight_bytes: memory-mapped, or packed copies released before the
// next model packs; the mapped pages of the others can be dropped while it runs; the bf16 copies
// of the others' F32/F16 LM heads are kept, and count) plus the working memory of its largest pass
// (Model::activation_bytes, as `inspect --tokens` reports it), the hidden states of the largest
// group, and the LM-head chunks of the measuring step (with --lens one more, the largest model's,
// for the lens rows, and another where the sites' final rows are computed again:
// lens_final_recomputed, a GPU run). Texts count as cut at `cut` tokens.
struct MemoryPlan {
  int64_t weights = 0, working = 0, hidden = 0, measuring = 0;
  int64_t total() const { return weights + working + hidden + measuring; }
};
MemoryPlan plan_memory(const std::vector<LoadedModel>& models, const std::vector<const TextJob*>& texts, int64_t cut,
                       int64_t batch_tokens, int64_t group_bytes, bool lens_final_recomputed,
                       model::Precision weights_precision);

// Prints (if `print`) the longest text and what the run needs; InputError when that is more than
// the memory there is (opt.max_memory_gib, else io::available_memory_bytes()), naming the text,
// its length, the memory needed and available, and the --max-tokens that fits.
void check_memory(const std::vector<LoadedModel>& models, const std::vector<const TextJob*>& texts,
                  const RunOptions& opt, bool print);

}  // namespace lsc::pipeline
