#include "pipeline/lens.h"

#include <algorithm>
#include <cstdio>
#include <cctype>
#include <cstring>
#include <limits>

#include "analysis/divergence.h"
#include "analysis/position_metrics.h"
#include "analysis/similarity.h"
#include "gpu/gpu.h"
#include "io/error.h"

namespace lsc::pipeline {

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Index of t in the sorted positions, or -1.
int64_t index_of(const std::vector<int64_t>& sorted, int64_t t) {
  const auto it = std::lower_bound(sorted.begin(), sorted.end(), t);
  return it != sorted.end() && *it == t ? it - sorted.begin() : -1;
}

}  // namespace

std::vector<int> lens_layers(const std::string& spec, int n_layers) {
  const std::string what = "--lens '" + spec + "'";
  std::vector<int> out;
  if (spec == "none") return out;
  if (spec == "all") {
    for (int i = 0; i < n_layers; ++i) out.push_back(i);
    return out;
  }
  if (spec.rfind("every:", 0) == 0) {
    const std::string k = spec.substr(6);
    if (!all_digits(k) || std::stoi(k) < 1) throw UsageError(what + ": expected every:K with K a whole number ≥ 1");
    const int step = std::stoi(k);
    for (int i = 0; i < n_layers; i += step) out.push_back(i);
    if (n_layers > 0 && out.back() != n_layers - 1) out.push_back(n_layers - 1);
    return out;
  }
  size_t begin = 0;
  while (begin <= spec.size()) {
    const size_t end = std::min(spec.find(',', begin), spec.size());
    const std::string item = spec.substr(begin, end - begin);
    if (!all_digits(item)) {
      throw UsageError(what + ": expected none, all, every:K or a list of layer numbers like 0,7,14 (found '" + item +
                       "')");
    }
    const int layer = std::stoi(item);
    if (layer >= n_layers) {
      throw UsageError(what + ": layer " + item + " is past the last layer (" + std::to_string(n_layers) +
                       " layers: 0-" + std::to_string(n_layers - 1) + ")");
    }
    out.push_back(layer);
    begin = end + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string canonical_lens_spec(const std::string& spec) {
  if (spec == "none" || spec == "all" || spec.rfind("every:", 0) == 0) return spec;
  std::vector<long> layers;
  size_t begin = 0;
  while (begin <= spec.size()) {
    const size_t end = std::min(spec.find(',', begin), spec.size());
    const std::string item = spec.substr(begin, end - begin);
    if (!all_digits(item) || item.size() > 9) return spec;
    layers.push_back(std::stol(item));
    begin = end + 1;
  }
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  std::string out;
  for (const long l : layers) out += (out.empty() ? "" : ",") + std::to_string(l);
  return out;
}

void check_lens_options(const RunOptions& opt, std::vector<LoadedModel>& models) {
  if (opt.lens_at != "keywords" && opt.lens_at != "answer") {
    throw UsageError("--lens-at: expected 'keywords' or 'answer', found '" + opt.lens_at + "'");
  }
  std::string depths;
  for (const LoadedModel& m : models) {
    depths += (depths.empty() ? "" : ", ") + m.name + " " + std::to_string(m.model->config().num_hidden_layers);
  }
  for (LoadedModel& m : models) {
    try {
      m.lens_layers = lens_layers(opt.lens_spec, m.model->config().num_hidden_layers);
    } catch (const UsageError& e) {
      throw UsageError(std::string(e.what()) + ", for model '" + m.name + "' (layers per model: " + depths + ")");
    }
  }
}

void add_lens_sites(std::vector<TextJob>& jobs, const std::vector<LoadedModel>& models,
                    const std::vector<analysis::KeywordFamily>& families, const RunOptions& opt) {
  if (opt.lens_spec == "none") return;
  for (TextJob& job : jobs) {
    job.lens.assign(models.size(), {});
    job.lens_bytes = 0;
    for (size_t m = 0; m < models.size(); ++m) {
      const TextPlan& p = job.plans[m];
      LensSites& s = job.lens[m];
      const int64_t T = static_cast<int64_t>(p.ids.size());
      if (T == 0) continue;
      // The occurrences the measuring step records (measure.cpp: not cut by truncation, predicted).
      for (const auto& o : analysis::find_occurrences(p.layout.text, p.layout.answer_begin, p.layout.answer_end,
                                                      families, p.offsets)) {
        if (o.char_end > p.offsets.back().second || o.tok_begin < 1) continue;
        s.decision.push_back(o.tok_begin);
        if (opt.lens_at == "keywords") {
          for (int64_t off = -opt.window; off <= opt.window; ++off) {
            const int64_t t = o.tok_begin + off;
            if (t >= 1 && t < T) s.pos.push_back(t);
          }
        }
      }
      if (opt.lens_at == "answer") {
        for (int64_t t = std::max<int64_t>(1, p.answer_first); t < std::min(T, p.answer_first + p.n_answer); ++t) {
          s.pos.push_back(t);
        }
        s.pos.insert(s.pos.end(), s.decision.begin(), s.decision.end());
      }
      for (auto* v : {&s.pos, &s.decision}) {
        std::sort(v->begin(), v->end());
        v->erase(std::unique(v->begin(), v->end()), v->end());
      }
      const auto& c = models[m].model->config();
      job.lens_bytes += static_cast<int64_t>(models[m].lens_layers.size()) *
                        static_cast<int64_t>(s.pos.size()) * c.hidden_size * 4;
    }
  }
}

void print_lens_plan(const std::vector<TextJob>& jobs, const std::vector<LoadedModel>& models, const RunOptions& opt) {
  int64_t bytes = 0;
  std::string per_model;
  for (size_t m = 0; m < models.size(); ++m) {
    const auto& c = models[m].model->config();
    const int64_t layers = static_cast<int64_t>(models[m].lens_layers.size());
    int64_t rows = 0, positions = 0;
    for (const TextJob& j : jobs) {
      if (m < j.lens.size()) rows += static_cast<int64_t>(j.lens[m].pos.size());
      positions += std::max<int64_t>(0, static_cast<int64_t>(j.plans[m].ids.size()) - 1);
    }
    bytes += layers * rows * c.hidden_size * 4;
    // On the CPU the last layer's lens rows are the final rows (lens_of_sites) and the KL reads
    // the measuring step's final rows; a GPU run computes both again on the CPU.
    const bool gpu = gpu::is_cuda_spec(opt.device);
    const bool last = !gpu && layers > 0 && models[m].lens_layers.back() == c.num_hidden_layers - 1;
    per_model += (per_model.empty() ? "" : "; ") + models[m].name + ": " + std::to_string(layers) + " layers x " +
                 std::to_string(rows) + " rows = " + std::to_string((layers - (last ? 1 : 0)) * rows) +
                 " LM-head rows" + (last ? " (the last layer's are the final ones)" : "") +
                 (gpu ? " (+" + std::to_string(rows) + " final ones again for the KL)" : std::string()) +
                 " next to the " + std::to_string(positions) + " of the run";
  }
  std::fprintf(stderr, "logitscope: --lens %s at %s: %s; %.1f MiB of kept residual rows over the run (held per group of texts)\n",
               opt.lens_spec.c_str(), opt.lens_at.c_str(), per_model.c_str(), double(bytes) / double(1 << 20));
}

model::TapFn lens_tap(std::vector<LensRows*> texts, std::vector<int64_t> starts) {
  return [texts = std::move(texts), starts = std::move(starts)](const std::string& name, const float* data,
                                                                int64_t /*rows*/, int64_t cols) {
    if (name.rfind("layer.", 0) != 0) return;
    const int layer = std::stoi(name.substr(6));
    for (size_t b = 0; b < texts.size(); ++b) {
      LensRows& L = *texts[b];
      const auto it = std::find(L.layers.begin(), L.layers.end(), layer);
      if (it == L.layers.end()) continue;
      const size_t li = static_cast<size_t>(it - L.layers.begin());
      const size_t n = L.sites->pos.size();
      L.hidden = cols;
      L.data.resize(L.layers.size() * n * static_cast<size_t>(cols));
      for (size_t i = 0; i < n; ++i) {
        const float* src = data + (starts[b] + L.sites->pos[i] - 1) * cols;
        std::memcpy(L.data.data() + (li * n + i) * static_cast<size_t>(cols), src, static_cast<size_t>(cols) * 4);
      }
    }
  };
}

std::vector<std::string> similarity_left_out(const std::vector<LoadedModel>& models) {
  std::vector<std::string> out;
  for (size_t a = 0; a < models.size(); ++a) {
    for (size_t b = a + 1; b < models.size(); ++b) {
      const auto &ca = models[a].model->config(), &cb = models[b].model->config();
      if (ca.num_hidden_layers == cb.num_hidden_layers && ca.hidden_size == cb.hidden_size) continue;
      out.push_back("'" + models[a].name + "' vs '" + models[b].name + "': different shapes (" +
                    std::to_string(ca.num_hidden_layers) + " layers x " + std::to_string(ca.hidden_size) + " vs " +
                    std::to_string(cb.num_hidden_layers) + " x " + std::to_string(cb.hidden_size) + ")");
    }
  }
  return out;
}

void gather_site_rows(const std::vector<float>& hidden, const std::vector<int64_t>& pos, int64_t i_begin,
                      int64_t i_end, int64_t h, float* out) {
  for (int64_t i = i_begin; i < i_end; ++i) {
    std::memcpy(out + (i - i_begin) * h, hidden.data() + (pos[size_t(i)] - 1) * h, size_t(h) * 4);
  }
}

void lens_of_sites(const model::Model& mdl, const LensRows& L, int64_t i_begin, int64_t i_end,
                   const float* site_rows, const float* const* final_rows,
                   const analysis::RowSummary* const* fin, std::span<const int32_t> ids, int top_k,
                   const std::vector<analysis::KeywordFamily>& families, model::Precision precision,
                   std::vector<float>& scratch, std::vector<results::LensRow>& out) {
  const int64_t c = i_end - i_begin;
  if (c <= 0 || L.layers.empty()) return;
  const int64_t h = mdl.config().hidden_size, vocab = mdl.config().vocab_size;
  const std::vector<int64_t>& pos = L.sites->pos;
  std::vector<float> x(static_cast<size_t>(c * h)), xn(x.size());
  std::vector<int32_t> observed(static_cast<size_t>(c));
  for (int64_t j = 0; j < c; ++j) observed[size_t(j)] = ids[size_t(pos[size_t(i_begin + j)])];
  scratch.resize(static_cast<size_t>(c * vocab));
  std::vector<analysis::RowSummary> lr(static_cast<size_t>(c));
  for (size_t li = 0; li < L.layers.size(); ++li) {
    for (int64_t j = 0; j < c; ++j) std::memcpy(x.data() + j * h, L.row(li, size_t(i_begin + j)), size_t(h) * 4);
    mdl.final_norm(x.data(), c, xn.data());
    // The last layer's normed rows are the final rows themselves (the forward pass normed the
    // same residual rows with the same function): their LM-head rows and summaries are the
    // final ones, bit for bit, so they are not computed again. Where the rows differ (a GPU
    // pass normed them on the device) the lens rows are computed as for any other layer.
    const bool same = std::memcmp(xn.data(), site_rows, size_t(c * h) * 4) == 0;
    if (same) {
      for (int64_t j = 0; j < c; ++j) lr[size_t(j)] = *fin[j];
    } else {
      mdl.lm_head(xn.data(), c, scratch.data(), precision);
      analysis::summarize_rows(scratch.data(), c, vocab, observed.data(), top_k, families, lr.data());
    }
    std::vector<double> kl(static_cast<size_t>(c));
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < c; ++j) {
      analysis::PairSummary d;
      const float* lens_row = same ? final_rows[j] : scratch.data() + j * vocab;
      analysis::compare_rows({final_rows[j], size_t(vocab)}, {lens_row, size_t(vocab)}, *fin[j], lr[size_t(j)], &d);
      kl[size_t(j)] = d.kl_ab;
    }
    for (int64_t j = 0; j < c; ++j) {
      out.push_back({L.layers[li], pos[size_t(i_begin + j)], std::move(lr[size_t(j)]), kl[size_t(j)]});
      lr[size_t(j)] = {};
    }
  }
}

std::vector<results::LensRow> lens_of_model(const model::Model& mdl, const LensRows& L, const std::vector<float>& hidden,
                                           std::span<const int32_t> ids, int top_k,
                                           const std::vector<analysis::KeywordFamily>& families, model::Precision precision) {
  std::vector<results::LensRow> out;
  if (L.layers.empty() || L.sites == nullptr || L.sites->pos.empty()) return out;
  // Chunk by chunk of sites: the final rows of the sites (KL(final ‖ lens) needs both whole rows
  // side by side), then the lens rows against them.
  const int64_t h = mdl.config().hidden_size, vocab = mdl.config().vocab_size;
  const std::vector<int64_t>& pos = L.sites->pos;
  const int64_t n = static_cast<int64_t>(pos.size()), chunk = mdl.chunk_rows(model::kLmHeadChunkRows);
  std::vector<float> xf(static_cast<size_t>(std::min(n, chunk) * h)), scratch;
  std::vector<float> final_logits(static_cast<size_t>(std::min(n, chunk) * vocab));
  std::vector<int32_t> observed(static_cast<size_t>(std::min(n, chunk)));
  out.reserve(static_cast<size_t>(n) * L.layers.size());
  for (int64_t i0 = 0; i0 < n; i0 += chunk) {
    const int64_t c = std::min(chunk, n - i0);
    gather_site_rows(hidden, pos, i0, i0 + c, h, xf.data());
    for (int64_t j = 0; j < c; ++j) observed[size_t(j)] = ids[size_t(pos[size_t(i0 + j)])];
    std::vector<analysis::RowSummary> fin(static_cast<size_t>(c));
    mdl.lm_head(xf.data(), c, final_logits.data(), precision);
    analysis::summarize_rows(final_logits.data(), c, vocab, observed.data(), top_k, families, fin.data());
    std::vector<const float*> final_rows(static_cast<size_t>(c));
    std::vector<const analysis::RowSummary*> fin_p(static_cast<size_t>(c));
    for (int64_t j = 0; j < c; ++j) {
      final_rows[size_t(j)] = final_logits.data() + j * vocab;
      fin_p[size_t(j)] = &fin[size_t(j)];
    }
    lens_of_sites(mdl, L, i0, i0 + c, xf.data(), final_rows.data(), fin_p.data(), ids, top_k, families, precision,
                  scratch, out);
  }
  return out;
}

void write_lens(const TextJob& job, const std::vector<LoadedModel>& models, const std::vector<LensRows>& lens,
                const std::vector<std::vector<results::LensRow>>& lens_rows, const RunOptions& opt,
                results::ResultsDb& db) {
  for (size_t m = 0; m < models.size(); ++m) {
    if (m < lens_rows.size() && !lens_rows[m].empty()) db.insert_lens(job.text_idx, int64_t(m), lens_rows[m]);
  }

  // Similarity per model pair of equal shape, layer and scope, over the same answer tokens
  // (answer index k sits at position answer_first + k in each model's layout).
  for (size_t a = 0; a < models.size(); ++a) {
    for (size_t b = a + 1; b < models.size(); ++b) {
      const LensRows &La = lens[a], &Lb = lens[b];
      const auto &ca = models[a].model->config(), &cb = models[b].model->config();
      if (ca.num_hidden_layers != cb.num_hidden_layers || ca.hidden_size != cb.hidden_size) continue;
      if (La.layers.empty() || La.data.empty() || Lb.data.empty()) continue;
      const int64_t h = ca.hidden_size, af_a = job.plans[a].answer_first, af_b = job.plans[b].answer_first;
      // (index in a's sites, index in b's sites) per scope.
      auto matched = [&](const std::vector<int64_t>& ts_a) {
        std::vector<std::pair<int64_t, int64_t>> ij;
        for (const int64_t ta : ts_a) {
          const int64_t k = ta - af_a, tb = af_b + k;
          if (k < 0 || k >= job.n_common || tb < 1) continue;
          const int64_t i = index_of(La.sites->pos, ta), j = index_of(Lb.sites->pos, tb);
          if (i >= 0 && j >= 0) ij.emplace_back(i, j);
        }
        return ij;
      };
      std::vector<std::pair<std::string, std::vector<std::pair<int64_t, int64_t>>>> scopes;
      if (opt.lens_at == "answer") {
        std::vector<int64_t> answer;
        for (int64_t k = 0; k < job.n_common; ++k) answer.push_back(af_a + k);
        scopes.emplace_back("answer", matched(answer));
      }
      scopes.emplace_back("keywords", matched(La.sites->decision));
      std::vector<results::SimilarityRow> rows;
      for (size_t li = 0; li < La.layers.size(); ++li) {
        for (const auto& [scope, ij] : scopes) {
          const int64_t n = static_cast<int64_t>(ij.size());
          std::vector<float> xa(static_cast<size_t>(n * h)), xb(xa.size());
          for (int64_t r = 0; r < n; ++r) {
            std::memcpy(xa.data() + r * h, La.row(li, size_t(ij[size_t(r)].first)), size_t(h) * 4);
            std::memcpy(xb.data() + r * h, Lb.row(li, size_t(ij[size_t(r)].second)), size_t(h) * 4);
          }
          results::SimilarityRow s;
          s.layer = La.layers[li];
          s.scope = scope;
          s.n_positions = n;
          s.cka = analysis::linear_cka(xa.data(), xb.data(), n, h);
          s.mean_cos = analysis::mean_cosine(xa.data(), xb.data(), n, h);
          rows.push_back(s);
        }
      }
      db.insert_similarity(job.text_idx, int64_t(a), int64_t(b), rows);
    }
  }
}

}  // namespace lsc::pipeline
