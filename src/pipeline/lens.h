// The inside of the models (run --lens): the logit lens at chosen layers — softmax(LM head(final
// norm(h_ℓ))), h_ℓ the residual stream after layer ℓ (0-based; transformers'
// output_hidden_states[ℓ + 1]) — at chosen positions, and the similarity of two models' residual
// streams layer by layer (linear CKA, mean cosine) over the same answer tokens. The forward pass
// keeps only the needed rows of the needed layers (a tap); the measuring step turns them into the
// `lens` and `layer_similarity` tables inside the text's transaction.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "analysis/keywords.h"
#include "model/model.h"
#include "pipeline/options.h"
#include "pipeline/plan.h"
#include "results/results_db.h"

namespace lsc::pipeline {

// The layers of `spec` for a model of n_layers, ascending: "none" → none, "all" → 0 … L−1,
// "every:K" → 0, K, 2K, … and L−1, a list "0,7,14" (each in [0, L)). UsageError naming the spec
// and what is wrong with it.
std::vector<int> lens_layers(const std::string& spec, int n_layers);
// A list spec in its one written form, ascending without repeats ("14,0,7,7" → "0,7,14"), so the
// same layers give the same run arguments (resume); other specs, and lists with a bad item
// (lens_layers names it), unchanged.
std::string canonical_lens_spec(const std::string& spec);

// Checks opt.lens_spec and opt.lens_at against every model and sets each model's lens_layers;
// UsageError (exit 2) naming the spec and each model's layer count.
void check_lens_options(const RunOptions& opt, std::vector<LoadedModel>& models);

// Fills each job's lens sites per model (after check_lens_options) (--lens-at keywords: the rows predicting each keyword
// occurrence's first token and the --window offsets around it; answer: every answer row) and
// lens_bytes (the rows kept over all lens layers and models). Nothing without --lens.
void add_lens_sites(std::vector<TextJob>& jobs, const std::vector<LoadedModel>& models,
                    const std::vector<analysis::KeywordFamily>& families, const RunOptions& opt);

// Prints (stderr) what --lens adds: per model its lens layers and rows, the LM-head rows that
// makes (plus the final rows recomputed once for the KL) next to the run's own, and the memory of
// the kept rows.
void print_lens_plan(const std::vector<TextJob>& jobs, const std::vector<LoadedModel>& models, const RunOptions& opt);

// One text's kept residual rows under one model: row(li, i) = h_{layers[li]} at row sites.pos[i] − 1.
struct LensRows {
  std::vector<int> layers;
  const LensSites* sites = nullptr;
  int64_t hidden = 0;
  std::vector<float> data;  // [layers × sites × hidden]
  const float* row(size_t li, size_t i) const {
    return data.data() + (li * sites->pos.size() + i) * static_cast<size_t>(hidden);
  }
};

// A forward-pass tap (model::ForwardOptions::tap) that copies the lens rows of the pass's texts:
// text b's rows start at row starts[b] of the pass. The LensRows are sized here.
model::TapFn lens_tap(std::vector<LensRows*> texts, std::vector<int64_t> starts);

// The final-normed rows (of the model's `hidden`, [tokens × h]) that predict the tokens at
// positions pos[i_begin, i_end): rows pos − 1, into out [(i_end − i_begin) × h].
void gather_site_rows(const std::vector<float>& hidden, const std::vector<int64_t>& pos, int64_t i_begin,
                      int64_t i_end, int64_t h, float* out);

// The lens rows of sites [i_begin, i_end) of L, appended to out: per lens layer and site, the
// metrics of softmax(LM head(final norm(row))) against the observed token ids[pos], and
// KL(final ‖ lens) to the model's own output at the same position, whose final-normed row,
// LM-head row and summary are site_rows[j] (gather_site_rows), final_rows[j] and *fin[j] for site
// i_begin + j. scratch holds the lens LM-head rows. The measuring step calls it on each chunk of
// final rows it computes (no final row is computed twice); lens_of_model computes the final rows
// itself.
void lens_of_sites(const model::Model& mdl, const LensRows& L, int64_t i_begin, int64_t i_end,
                   const float* site_rows, const float* const* final_rows,
                   const analysis::RowSummary* const* fin, std::span<const int32_t> ids, int top_k,
                   const std::vector<analysis::KeywordFamily>& families, model::Precision precision,
                   std::vector<float>& scratch, std::vector<results::LensRow>& out);

// One model's lens rows of one text (lens_of_sites over all sites, the final rows of the sites
// computed here from `hidden`): for a measuring step whose final rows are not in host memory (GPU).
std::vector<results::LensRow> lens_of_model(const model::Model& mdl, const LensRows& L, const std::vector<float>& hidden,
                                           std::span<const int32_t> ids, int top_k,
                                           const std::vector<analysis::KeywordFamily>& families, model::Precision precision);

// One text's lens rows (lens_rows[m]: model m's, from lens_of_sites / lens_of_model) and its
// similarity rows, into db (inside the text's transaction). lens[m]: model m's kept rows.
void write_lens(const TextJob& job, const std::vector<LoadedModel>& models, const std::vector<LensRows>& lens,
                const std::vector<std::vector<results::LensRow>>& lens_rows, const RunOptions& opt,
                results::ResultsDb& db);

// Model pairs (a < b) the similarity table leaves out, each with why (different depth or width).
std::vector<std::string> similarity_left_out(const std::vector<LoadedModel>& models);

}  // namespace lsc::pipeline
