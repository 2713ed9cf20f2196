#include "pipeline/measure.h"

#include <algorithm>

#include "analysis/derived_metrics.h"
#include "analysis/divergence.h"
#include "io/sqlite.h"
#include "kernels/cpu/kernels.h"

namespace lsc::pipeline {

void TextMeasurer::summarize_range(size_t m, const TextPlan& p, const std::vector<float>& hidden, int64_t pos_begin,
                                   int64_t pos_end, std::vector<analysis::RowSummary>& rows) {
  const model::Model& mdl = *models_[m].model;
  const int64_t h = mdl.config().hidden_size, vocab = mdl.config().vocab_size;
  const int64_t chunk = gpu_ != nullptr ? gpu_->chunk_rows() : mdl.chunk_rows(model::kLmHeadChunkRows);
  pos_begin = std::max<int64_t>(pos_begin, 1);
  for (int64_t t0 = pos_begin; t0 < pos_end; t0 += chunk) {
    const int64_t n = std::min(chunk, pos_end - t0);
    if (gpu_ != nullptr) {  // the logits stay on the device (for the pairs)
      gpu_->summarize(m, hidden.data() + (t0 - 1) * h, n, p.ids.data() + t0, opt_.top_k, &rows[size_t(t0)]);
      continue;
    }
    logits_[m].resize(static_cast<size_t>(n * vocab));
    mdl.lm_head(hidden.data() + (t0 - 1) * h, n, logits_[m].data(), precision_);
    // Row i predicts token t0 + i. Each row is reduced whole by one thread (no thread dependence).
    analysis::summarize_rows(logits_[m].data(), n, vocab, p.ids.data() + t0, opt_.top_k, families_, &rows[size_t(t0)]);
    lens_of_chunk(m, p, hidden, t0, n, rows);
  }
}

void TextMeasurer::lens_of_chunk(size_t m, const TextPlan& p, const std::vector<float>& hidden, int64_t t0, int64_t n,
                                 const std::vector<analysis::RowSummary>& rows) {
  if (lens_ == nullptr || m >= lens_->size()) return;
  const LensRows& L = (*lens_)[m];
  if (L.layers.empty() || L.sites == nullptr) return;
  const std::vector<int64_t>& pos = L.sites->pos;  // sorted
  const int64_t i0 = std::lower_bound(pos.begin(), pos.end(), t0) - pos.begin();
  const int64_t i1 = std::lower_bound(pos.begin(), pos.end(), t0 + n) - pos.begin();
  if (i0 == i1) return;
  const int64_t vocab = models_[m].model->config().vocab_size, h = models_[m].model->config().hidden_size;
  std::vector<float> site_rows(static_cast<size_t>((i1 - i0) * h));
  gather_site_rows(hidden, pos, i0, i1, h, site_rows.data());
  std::vector<const float*> final_rows(static_cast<size_t>(i1 - i0));
  std::vector<const analysis::RowSummary*> fin(final_rows.size());
  for (int64_t i = i0; i < i1; ++i) {
    final_rows[size_t(i - i0)] = logits_[m].data() + (pos[size_t(i)] - t0) * vocab;
    fin[size_t(i - i0)] = &rows[size_t(pos[size_t(i)])];
  }
  lens_of_sites(*models_[m].model, L, i0, i1, site_rows.data(), final_rows.data(), fin.data(), p.ids, opt_.top_k,
                families_, precision_, lens_scratch_, lens_rows_[m]);
}

void TextMeasurer::measure_and_write(const TextJob& job, const std::vector<std::vector<float>>& hidden,
                                     const std::vector<LensRows>& lens, results::ResultsDb& db) {
  const size_t n_models = models_.size();
  logits_.resize(n_models);
  // The lens rows are made from each chunk of final rows as the CPU computes it; a GPU keeps
  // its final rows on the device, and lens_of_model computes them again on the CPU.
  const bool recompute = gpu_ != nullptr || opt_.lens_recompute_final;
  lens_ = lens.empty() || recompute ? nullptr : &lens;
  lens_rows_.assign(n_models, {});
  std::vector<std::vector<analysis::RowSummary>> rows(n_models);
  std::vector<analysis::PositionKl> kl;  // per model: KL to the other models at each position
  for (size_t m = 0; m < n_models; ++m) {
    const int64_t T = static_cast<int64_t>(job.plans[m].ids.size());
    rows[m].resize(static_cast<size_t>(T));
    kl.emplace_back(T);
  }
  // Common answer positions of all models, in chunks, side by side: per-model rows and pairs.
  // answer index k sits at position answer_first_m + k in model m (templates may differ).
  int64_t k_begin = 0;
  for (size_t m = 0; m < n_models; ++m) k_begin = std::max<int64_t>(k_begin, 1 - job.plans[m].answer_first);
  const int64_t k_end = job.n_common;
  std::vector<std::vector<results::PairRow>> pair_rows(n_models * n_models);
  // One chunk of rows per model must fit summarize_range's single LM-head call.
  int64_t chunk = model::kLmHeadChunkRows;
  for (size_t m = 0; m < n_models; ++m) chunk = std::min(chunk, models_[m].model->chunk_rows(model::kLmHeadChunkRows));
  if (gpu_ != nullptr) chunk = std::min(chunk, gpu_->chunk_rows());
  for (int64_t k0 = k_begin; k0 < k_end; k0 += chunk) {
    const int64_t n = std::min(chunk, k_end - k0);
    for (size_t m = 0; m < n_models; ++m) {
      const int64_t p0 = job.plans[m].answer_first + k0;
      summarize_range(m, job.plans[m], hidden[m], p0, p0 + n, rows[m]);
    }
    // summarize_range left each model's last chunk of logits in logits_[m] or on the GPU (n ≤ its
    // chunk size).
    for (size_t a = 0; a < n_models; ++a) {
      for (size_t b = a + 1; b < n_models; ++b) {
        const int64_t va = models_[a].model->config().vocab_size, vb = models_[b].model->config().vocab_size;
        std::vector<results::PairRow> chunk_rows(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) {
          results::PairRow& r = chunk_rows[size_t(i)];
          r.answer_idx = k0 + i;
          r.pos_a = job.plans[a].answer_first + k0 + i;
          r.pos_b = job.plans[b].answer_first + k0 + i;
        }
        if (gpu_ != nullptr) {  // the divergences from the logits the GPU kept
          std::vector<const analysis::RowSummary*> sa(static_cast<size_t>(n)), sb(static_cast<size_t>(n));
          std::vector<analysis::PairSummary> d(static_cast<size_t>(n));
          for (int64_t i = 0; i < n; ++i) {
            sa[size_t(i)] = &rows[a][size_t(chunk_rows[size_t(i)].pos_a)];
            sb[size_t(i)] = &rows[b][size_t(chunk_rows[size_t(i)].pos_b)];
          }
          gpu_->compare(a, b, n, sa.data(), sb.data(), d.data());
          for (int64_t i = 0; i < n; ++i) chunk_rows[size_t(i)].d = d[size_t(i)];
        } else {
#pragma omp parallel for schedule(static)
          for (int64_t i = 0; i < n; ++i) {
            results::PairRow& r = chunk_rows[size_t(i)];
            analysis::compare_rows({logits_[a].data() + i * va, size_t(va)}, {logits_[b].data() + i * vb, size_t(vb)},
                                   rows[a][size_t(r.pos_a)], rows[b][size_t(r.pos_b)], &r.d);
          }
        }
        for (int64_t i = 0; i < n; ++i) {
          results::PairRow& r = chunk_rows[size_t(i)];
          r.delta = analysis::pair_delta(rows[a][size_t(r.pos_a)], rows[b][size_t(r.pos_b)]);
        }
        for (int64_t i = 0; i < n; ++i) {
          const results::PairRow& r = chunk_rows[size_t(i)];
          kl[a].add(r.pos_a, r.d.kl_ab);
          kl[b].add(r.pos_b, r.d.kl_ba);
          pair_rows[a * n_models + b].push_back(r);
        }
      }
    }
  }
  // Every other position of each model (prompt, template suffix, answer past the common part).
  for (size_t m = 0; m < n_models; ++m) {
    const TextPlan& p = job.plans[m];
    const int64_t T = static_cast<int64_t>(p.ids.size());
    const int64_t c0 = p.answer_first + k_begin, c1 = p.answer_first + k_end;
    if (c0 < c1) {
      summarize_range(m, p, hidden[m], 1, c0, rows[m]);
      summarize_range(m, p, hidden[m], c1, T, rows[m]);
    } else {
      summarize_range(m, p, hidden[m], 1, T, rows[m]);
    }
  }

  io::Transaction tx(db.db());
  db.delete_text_rows(job.text_idx);
  for (size_t m = 0; m < n_models; ++m) {
    const TextPlan& p = job.plans[m];
    const int64_t T = static_cast<int64_t>(p.ids.size());
    results::TextModelRow tm{T, p.n_full, p.answer_first, p.n_answer, p.truncated, p.layout.text,
                            p.layout.answer_begin, p.layout.answer_end};
    db.insert_text_model(job.text_idx, int64_t(m), tm);
    // Occurrences of keywords in this model's token layout, and windows around them.
    const std::vector<analysis::RowSummary>& row = rows[m];
    const auto occs = analysis::find_occurrences(p.layout.text, p.layout.answer_begin, p.layout.answer_end, families_,
                                                 p.offsets);
    for (const auto& o : occs) {
      if (o.char_end > p.offsets.back().second || o.tok_begin < 1) continue;  // cut by truncation, or no prediction
      results::OccurrenceRow occ;
      occ.occ = o;
      occ.family = families_[size_t(o.family)].name;
      occ.metrics = analysis::occurrence_metrics(o, row);
      occ.has_kl_at = kl[m].has(o.tok_begin);
      if (occ.has_kl_at) occ.kl_at = kl[m].mean(o.tok_begin);
      const int64_t occ_idx = db.insert_occurrence(job.text_idx, int64_t(m), o.family, occ);
      for (int64_t off = -opt_.window; off <= opt_.window; ++off) {
        const int64_t t = o.tok_begin + off;
        if (t < 1 || t >= T) continue;
        results::WindowRow w;
        w.offset = off;
        w.pos = t;
        w.point = analysis::window_point(row[size_t(t)], o.family);
        w.has_kl = kl[m].has(t);
        if (w.has_kl) w.kl_mean = kl[m].mean(t);
        db.insert_window(occ_idx, int64_t(m), w);
      }
    }
    std::vector<results::PositionRow> pos(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) {
      auto& r = pos[size_t(t)];
      r.pos = t;
      r.token = p.ids[size_t(t)];
      r.char_begin = p.offsets[size_t(t)].first;
      r.char_end = p.offsets[size_t(t)].second;
      r.span = p.spans[size_t(t)];
      r.has_metrics = t >= 1;
      if (t >= 1) r.m = std::move(rows[m][size_t(t)]);
    }
    db.insert_positions(job.text_idx, int64_t(m), pos);
  }
  for (size_t a = 0; a < n_models; ++a) {
    for (size_t b = a + 1; b < n_models; ++b) db.insert_pairs(job.text_idx, int64_t(a), int64_t(b), pair_rows[a * n_models + b]);
  }
  if (!lens.empty()) {
    if (recompute) {
      for (size_t m = 0; m < n_models; ++m) {
        lens_rows_[m] = lens_of_model(*models_[m].model, lens[m], hidden[m], job.plans[m].ids, opt_.top_k, families_,
                                      precision_);
      }
    }
    write_lens(job, models_, lens, lens_rows_, opt_, db);
  }
  lens_ = nullptr;
  lens_rows_.clear();
  db.mark_done(job.text_idx);
  tx.commit();
}

}  // namespace lsc::pipeline
