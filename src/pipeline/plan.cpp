#include "pipeline/plan.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "gpu/gpu.h"
#include "io/error.h"
#include "io/json.h"
#include "io/paths.h"
#include "io/sha256.h"
#include "pipeline/progress.h"

namespace lsc::pipeline {

int64_t TextJob::tokens() const {
  int64_t n = 0;
  for (const auto& p : plans) n += static_cast<int64_t>(p.ids.size());
  return n;
}

std::vector<LoadedModel> load_models(const RunOptions& opt, Progress& progress) {
  std::vector<LoadedModel> models;
  // A family's models share one tokenizer: the same tokenizer.json, tokenizer_config.json and
  // chat_template.jinja (the chat template's system message can differ under one vocabulary).
  std::map<std::string, std::shared_ptr<const tok::Tokenizer>> tokenizer_by_sha;
  const auto sha_if_present = [](const std::string& path) { return io::file_exists(path) ? io::sha256_file(path) : ""; };
  for (const auto& [name, dir] : opt.models) {
    progress.set_phase("loading model '" + name + "' (" + std::to_string(models.size() + 1) + "/" +
                       std::to_string(opt.models.size()) + ")");
    LoadedModel m;
    m.name = name;
    m.dir = dir;
    try {
      m.model = model::Model::load(dir);
      m.tokenizer_path = io::join_path(dir, "tokenizer.json");
      m.tokenizer_sha256 = io::file_exists(m.tokenizer_path) ? io::sha256_file(m.tokenizer_path) : "";
      auto& shared = tokenizer_by_sha[m.tokenizer_sha256 + "+" + sha_if_present(io::join_path(dir, "tokenizer_config.json")) +
                                      "+" + sha_if_present(io::join_path(dir, "chat_template.jinja"))];
      if (shared == nullptr || m.tokenizer_sha256.empty()) {
        shared = std::make_shared<const tok::Tokenizer>(tok::load_tokenizer(dir));
      }
      m.tokenizer = shared;
      // Every id the tokenizer can produce (and every keyword id) must index a row of the model.
      if (m.tokenizer->vocab_size() > m.model->config().vocab_size) {
        throw InputError(
            m.tokenizer_path, "vocabulary",
            "at most " + std::to_string(m.model->config().vocab_size) +
                " token ids (vocab_size in config.json)",
            std::to_string(m.tokenizer->vocab_size()) + " ids: the tokenizer of another model?");
      }
      m.tmpl = template_for(opt.template_spec, *m.tokenizer, name);
    } catch (InputError& e) {
      e.add_context("model '" + name + "'");
      throw;
    }
    models.push_back(std::move(m));
  }

  return models;
}

analysis::Template template_for(const std::string& spec, const tok::Tokenizer& t, const std::string& model_name) {
  if (spec != "chat") return analysis::make_template(spec);
  if (t.token_to_id("<|im_start|>") >= 0) {
    // With the system message the model's chat template writes when a conversation has none.
    const std::string system = analysis::chatml_default_system(t.config().chat_template);
    if (system.find("{query}") != std::string::npos || system.find("{answer}") != std::string::npos) {
      throw InputError("--template chat: model '" + model_name + "': the default system message of its chat template (\"" +
                       system + "\") holds {query} or {answer}; give a pattern instead");
    }
    return analysis::chatml_template(system);
  }
  if (t.token_to_id("<｜User｜>") >= 0) return analysis::r1_template(analysis::r1_prompt_opens_think(t.config().chat_template));
  throw UsageError("--template chat: model '" + model_name +
                   "' has neither ChatML (<|im_start|>) nor R1 (<｜User｜>) special tokens; give a pattern instead");
}

LengthCut length_cut(const std::vector<LoadedModel>& models, int64_t requested) {
  LengthCut cut;
  for (const auto& m : models) {
    const int64_t mpe = m.model->config().max_position_embeddings;
    if (mpe > 0 && (cut.context == 0 || mpe < cut.context)) {
      cut.context = mpe;
      cut.context_model = m.name;
    }
  }
  cut.max_tokens = requested > 0 ? requested : cut.context > 0 ? cut.context : INT64_MAX;
  cut.name = requested > 0 ? "--max-tokens " + std::to_string(requested)
                           : "the models' context (" + std::to_string(cut.context) +
                                 " tokens, max_position_embeddings of model '" + cut.context_model + "')";
  return cut;
}

std::vector<analysis::KeywordFamily> agreed_families(const std::vector<LoadedModel>& models,
                                                     const std::vector<std::string>& keywords) {
  std::vector<std::vector<analysis::KeywordFamily>> per_model;
  for (size_t i = 0; i < models.size(); ++i) {
    if (i > 0 && models[i].tokenizer == models[i - 1].tokenizer) {  // the same tokenizer gives the same sets
      per_model.push_back(per_model.back());
    } else {
      per_model.push_back(analysis::build_families(keywords, *models[i].tokenizer));
    }
  }
  const std::vector<analysis::KeywordFamily>& families = per_model[0];
  for (size_t m = 1; m < models.size(); ++m) {
    for (size_t f = 0; f < families.size(); ++f) {
      if (per_model[m][f].token_ids != families[f].token_ids) {
        throw InputError("model '" + models[m].name + "'", "keyword family '" + families[f].name + "'",
                         "the same token ids as model '" + models[0].name + "' (the tokenizers must agree)",
                         std::to_string(per_model[m][f].token_ids.size()) + " ids vs " +
                             std::to_string(families[f].token_ids.size()));
      }
    }
  }
  return families;
}

TextPlan plan_text(const LoadedModel& m, const io::Record& r, int64_t max_tokens) {
  TextPlan p;
  p.layout = analysis::apply_template(m.tmpl, r.query, r.answer);
  tok::Encoding enc = m.tokenizer->encode(p.layout.text, m.tmpl.add_special_tokens);
  p.n_full = static_cast<int64_t>(enc.ids.size());
  const size_t keep = static_cast<size_t>(std::min<int64_t>(p.n_full, max_tokens));
  p.truncated = keep < enc.ids.size();
  p.ids.assign(enc.ids.begin(), enc.ids.begin() + static_cast<long>(keep));
  for (size_t i = 0; i < keep; ++i) p.offsets.emplace_back(enc.offsets[i].first, enc.offsets[i].second);
  p.spans = analysis::token_spans(p.layout, p.offsets);
  p.answer_first = static_cast<int64_t>(p.ids.size());
  for (size_t i = 0; i < p.spans.size(); ++i) {
    if (analysis::in_answer(p.spans[i])) {
      if (p.n_answer == 0) p.answer_first = static_cast<int64_t>(i);
      ++p.n_answer;
    }
  }
  return p;
}

TextPlans plan_texts(const io::Dataset& data, const std::vector<LoadedModel>& models, const LengthCut& cut,
                     const std::string& data_path) {
  TextPlans out;
  for (size_t i = 0; i < data.records.size(); ++i) {
    TextJob job;
    job.text_idx = static_cast<int64_t>(i);
    job.rec = &data.records[i];
    job.n_common = INT64_MAX;
    bool truncated = false;
    for (const auto& m : models) {
      job.plans.push_back(plan_text(m, *job.rec, cut.max_tokens));
      job.n_common = std::min(job.n_common, job.plans.back().n_answer);
      truncated |= job.plans.back().truncated;
      out.total_tokens += static_cast<int64_t>(job.plans.back().ids.size());
      out.longest_full = std::max(out.longest_full, job.plans.back().n_full);
    }
    out.n_truncated += truncated ? 1 : 0;
    const std::string where = data_path + ":" + std::to_string(job.rec->line);
    for (size_t m = 1; m < models.size(); ++m) {
      const TextPlan& a = job.plans[0];
      const TextPlan& b = job.plans[m];
      const bool either_cut = a.truncated || b.truncated;
      const int64_t n = std::min(a.n_answer, b.n_answer);
      for (int64_t k = 0; k <= n; ++k) {
        if (k == n && (either_cut || a.n_answer == b.n_answer)) break;
        const int32_t ia = k < a.n_answer ? a.ids[size_t(a.answer_first + k)] : -1;
        const int32_t ib = k < b.n_answer ? b.ids[size_t(b.answer_first + k)] : -1;
        if (ia != ib) {
          throw InputError(where, "record '" + job.rec->id + "', answer token " + std::to_string(k),
                           "the same token id under model '" + models[0].name + "' and model '" + models[m].name +
                               "' (models compared must share a tokenizer over the answer)",
                           std::to_string(ia) + " vs " + std::to_string(ib) + " (\"" +
                               (ia >= 0 ? models[0].tokenizer->decode_token(ia) : std::string("end")) + "\" vs \"" +
                               (ib >= 0 ? models[m].tokenizer->decode_token(ib) : std::string("end")) + "\")");
        }
      }
    }
    if (job.n_common == 0) {
      std::fprintf(stderr, "logitscope: warning: %s: record '%s' has no answer tokens within %s\n", where.c_str(),
                   job.rec->id.c_str(), cut.name.c_str());
    }
    out.jobs.push_back(std::move(job));
  }
  return out;
}

std::string canonical_args(const RunOptions& o, const std::vector<LoadedModel>& models, const std::string& data_sha,
                           bool with_weights) {
  io::Json j;
  io::Json ms = io::Json::array();
  for (const auto& m : models) {
    io::Json e = {{"name", m.name},
                  {"path", io::absolute_path(m.dir)},
                  {"config_sha256", io::sha256_file(io::join_path(m.dir, "config.json"))}};
    if (with_weights) e["weights_fingerprint"] = m.model->checkpoint().weights_fingerprint();
    ms.push_back(std::move(e));
  }
  j["models"] = ms;
  j["data"] = {{"path", io::absolute_path(o.data_path)}, {"sha256", data_sha}};
  j["keywords"] = o.keywords;
  j["template"] = o.template_spec;
  if (o.template_spec == "chat") {  // what each model's chat template resolved to (its system message)
    io::Json patterns = io::Json::array();
    for (const auto& m : models) patterns.push_back(m.tmpl.pattern);
    j["chat_patterns"] = patterns;
  }
  j["max_tokens"] = o.max_tokens;
  j["top_k"] = o.top_k;
  j["window"] = o.window;
  j["limit"] = o.limit;
  j["skip_invalid"] = o.skip_invalid;
  j["fields"] = o.fields;
  j["precision"] = model::precision_name(o.precision);
  if (o.lens_spec != "none") {  // absent by default: the hash of a run without the lens is unchanged
    j["lens"] = o.lens_spec;
    j["lens_at"] = o.lens_at;
  }
  // The kind of device (its arithmetic differs within tolerance from the CPU's), not which GPU:
  // shards on different GPUs of one node belong to the same run. Absent on the CPU (unchanged hash).
  if (gpu::is_cuda_spec(o.device)) j["device"] = "cuda";
  return j.dump();
}

}  // namespace lsc::pipeline
