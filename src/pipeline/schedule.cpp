#include "pipeline/schedule.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "gpu/gpu.h"
#include "io/error.h"
#include "io/mapped_file.h"
#include "kernels/cpu/kernels.h"

namespace lsc::pipeline {

std::vector<size_t> group_ends(const std::vector<const TextJob*>& texts, const std::vector<LoadedModel>& models,
                               int64_t group_bytes) {
  std::vector<size_t> ends;
  for (size_t begin = 0; begin < texts.size();) {
    size_t end = begin;
    int64_t bytes = 0;
    while (end < texts.size()) {
      int64_t b = 0;
      for (size_t m = 0; m < models.size(); ++m) {
        b += static_cast<int64_t>(texts[end]->plans[m].ids.size()) * models[m].model->config().hidden_size * 4;
      }
      b += texts[end]->lens_bytes;
      if (end > begin && bytes + b > group_bytes) break;
      bytes += b;
      ++end;
    }
    ends.push_back(end);
    begin = end;
  }
  return ends;
}

Pass next_pass(const std::vector<const TextJob*>& texts, size_t model, size_t* i, size_t end, int64_t batch_tokens) {
  Pass p;
  for (; *i < end; ++*i) {
    const auto& ids = texts[*i]->plans[model].ids;
    if (ids.empty()) continue;
    if (!p.ids.empty() && p.rows + static_cast<int64_t>(ids.size()) > batch_tokens) break;
    p.texts.push_back(*i);
    p.ids.emplace_back(ids);
    p.rows += static_cast<int64_t>(ids.size());
  }
  return p;
}

MemoryPlan plan_memory(const std::vector<LoadedModel>& models, const std::vector<const TextJob*>& texts,
                       int64_t cut, int64_t batch_tokens, int64_t group_bytes, bool lens_final_recomputed,
                       model::Precision weights_precision) {
  MemoryPlan plan;
  int64_t total_hidden = 0, largest_text_hidden = 0, lens_measuring = 0, kept_lm_heads = 0, largest_kept = 0;
  std::vector<int64_t> hidden_of(texts.size(), 0);
  for (size_t m = 0; m < models.size(); ++m) {
    const model::Model& mdl = *models[m].model;
    int64_t longest = 0, rows = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      const int64_t n = std::min<int64_t>(cut, static_cast<int64_t>(texts[i]->plans[m].ids.size()));
      longest = std::max(longest, n);
      rows += n;
      hidden_of[i] += n * mdl.config().hidden_size * 4;
    }
    const int64_t weights = mdl.weight_bytes(weights_precision);
    kept_lm_heads += mdl.lm_head_copy_bytes(weights_precision);
    const int64_t pass_rows = std::max(longest, std::min(batch_tokens, rows));  // batched short texts
    const int64_t working = mdl.activation_bytes(pass_rows);
    if (weights + working > plan.weights + plan.working) {
      plan.weights = weights;
      plan.working = working;
      largest_kept = mdl.lm_head_copy_bytes(weights_precision);
    }
    plan.measuring += mdl.chunk_rows(model::kLmHeadChunkRows) * mdl.config().vocab_size * 4;
    lens_measuring = std::max(lens_measuring, (lens_final_recomputed ? 2 : 1) *
                                                  mdl.chunk_rows(model::kLmHeadChunkRows) * mdl.config().vocab_size * 4);
  }
  // --lens: the kept lens rows count with the hidden states (texts as cut: the sites past the cut
  // counted too, an overestimate), and its measuring step holds a chunk of a model's lens logits
  // next to the chunk of final logits counted above, and where the sites' final logits are
  // computed again (a GPU run keeps its own on the device) a chunk of those too.
  bool lens = false;
  for (size_t i = 0; i < texts.size(); ++i) {
    hidden_of[i] += texts[i]->lens_bytes;
    lens = lens || !texts[i]->lens.empty();
  }
  plan.weights += kept_lm_heads - largest_kept;
  if (lens) plan.measuring += lens_measuring;
  for (const int64_t b : hidden_of) {
    total_hidden += b;
    largest_text_hidden = std::max(largest_text_hidden, b);
  }
  plan.hidden = std::min(total_hidden, std::max(largest_text_hidden, group_bytes));
  return plan;
}

namespace {

std::string gib(int64_t bytes) {
  char b[32];
  if (bytes >= int64_t{1} << 30) {
    std::snprintf(b, sizeof b, "%.2f GiB", double(bytes) / double(int64_t{1} << 30));
  } else {
    std::snprintf(b, sizeof b, "%.1f MiB", double(bytes) / double(1 << 20));
  }
  return b;
}

}  // namespace

void check_memory(const std::vector<LoadedModel>& models, const std::vector<const TextJob*>& texts,
                  const RunOptions& opt, bool print) {
  const int64_t batch_tokens = opt.batch_tokens, group_bytes = opt.group_bytes;
  if (texts.empty()) return;
  const TextJob* longest_job = texts.front();
  size_t longest_model = 0;
  int64_t longest = 0;
  for (const TextJob* j : texts) {
    for (size_t m = 0; m < models.size(); ++m) {
      const int64_t n = static_cast<int64_t>(j->plans[m].ids.size());
      if (n > longest) {
        longest = n;
        longest_job = j;
        longest_model = m;
      }
    }
  }
  const bool lens_final_recomputed = gpu::is_cuda_spec(opt.device) || opt.lens_recompute_final;
  const auto plan = [&](int64_t cut) {
    return plan_memory(models, texts, cut, batch_tokens, group_bytes, lens_final_recomputed,
                       gpu::is_cuda_spec(opt.device) ? model::Precision::FP32 : opt.precision);
  };
  const MemoryPlan need = plan(INT64_MAX);
  const bool limited = opt.max_memory_gib > 0;
  const int64_t avail = limited ? static_cast<int64_t>(opt.max_memory_gib * double(int64_t{1} << 30))
                                : io::available_memory_bytes();
  const std::string text = "record '" + longest_job->rec->id + "' (" + opt.data_path + ":" +
                           std::to_string(longest_job->rec->line) + ")";
  const std::string needs = gib(need.weights) + " weights + " + gib(need.working) + " working memory + " +
                            gib(need.hidden + need.measuring) + " hidden states and LM-head rows = " + gib(need.total());
  const std::string have = avail < 0 ? "unknown memory available"
                                     : gib(avail) + (limited ? " allowed (--max-memory)" : " available");
  if (print) {
    std::fprintf(stderr, "logitscope: longest text: %s, %lld tokens under model '%s'; memory: %s of %s\n", text.c_str(),
                 static_cast<long long>(longest), models[longest_model].name.c_str(), needs.c_str(), have.c_str());
  }
  if (avail < 0 || need.total() <= avail) return;
  // The longest cut at which the run fits.
  int64_t lo = 1, hi = longest;  // plan(lo) fits (or nothing does), plan(hi) does not
  if (plan(2).total() > avail) {
    lo = 0;
  } else {
    lo = 2;
    while (hi - lo > 1) {
      const int64_t mid = lo + (hi - lo) / 2;
      (plan(mid).total() <= avail ? lo : hi) = mid;
    }
  }
  const std::string more = limited ? "a larger --max-memory" : "a machine with more memory";
  std::string fits = lo >= 2 ? "--max-tokens " + std::to_string(lo) + " (texts cut at " + std::to_string(lo) +
                                   " tokens fit), or " + more
                             : std::string(limited ? "nothing within --max-memory" : "nothing on this machine") +
                                   ": model '" + models[longest_model].name +
                                   "' needs more than that even for a short text; use " + more;
  if (!limited) fits += " (other processes hold memory too: free some and retry)";
  throw InputError("the run does not fit in memory: " + text + " is " + std::to_string(longest) +
                   " tokens under model '" + models[longest_model].name + "'; a run over it needs " + needs + ", and " +
                   have + ". Options that fit: " + fits);
}

}  // namespace lsc::pipeline
