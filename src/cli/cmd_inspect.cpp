// `logitscope inspect DIR`: what a checkpoint is, what it needs, and what in it goes unused.
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/error.h"
#include "io/json.h"
#include "model/checkpoint.h"
#include "model/model.h"

namespace lsc::cli {

namespace {

constexpr const char* kHelp =
    "usage: logitscope inspect DIR [--json] [--tokens N]\n"
    "  Describes the checkpoint in DIR: architecture, dimensions, parameter count, dtypes,\n"
    "  shards and tensors, the memory a run over N tokens needs (default 2048; for F32\n"
    "  checkpoints also at --precision bf16, which reads bf16 copies of the matrices), and\n"
    "  tensors present in the files that the forward pass does not use.\n";

// Sizes in the unit that shows them: GiB from 1 GiB, else MiB (a test checkpoint of 9 MiB read
// "0.009 GiB").
std::string gib(double bytes) {
  char b[32];
  if (bytes >= double(1ull << 30)) {
    std::snprintf(b, sizeof b, "%.3f GiB", bytes / double(1ull << 30));
  } else {
    std::snprintf(b, sizeof b, "%.1f MiB", bytes / double(1ull << 20));
  }
  return b;
}

// 7615616512 → "7.62 B", 494032768 → "494.0 M", 126016 → "126.0 K".
std::string parameter_scale(int64_t n) {
  char b[32];
  const double x = double(n);
  if (x >= 1e9) {
    std::snprintf(b, sizeof b, "%.2f B", x / 1e9);
  } else if (x >= 1e6) {
    std::snprintf(b, sizeof b, "%.1f M", x / 1e6);
  } else {
    std::snprintf(b, sizeof b, "%.1f K", x / 1e3);
  }
  return b;
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
  Args args(argc, argv, {"tokens"}, {"json", "help"});
  if (args.has("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (args.positionals().size() != 1) throw UsageError("inspect takes one checkpoint folder\n" + std::string(kHelp));
  const int64_t n_tokens = args.get_int("tokens", 2048, 1, 1 << 20);
  auto m = model::Model::load(args.positionals()[0]);
  const model::ModelConfig& c = m->config();
  const model::Checkpoint& ck = m->checkpoint();

  uint64_t weight_bytes = 0;
  io::Json dtypes = io::Json::object();
  for (const auto& [dt, bytes] : ck.used_bytes_by_dtype()) {
    weight_bytes += bytes;
    dtypes[dt] = bytes;
  }
  int64_t n_params_stored = 0;
  for (const auto& [name, t] : ck.tensors()) {
    int64_t n = 1;
    for (int64_t dim : t.shape) n *= dim;
    n_params_stored += n;
  }
  const auto unused = ck.unused_tensors();
  const int64_t act = m->activation_bytes(n_tokens);
  io::Json j;
  j["path"] = ck.dir();
  j["model_type"] = c.model_type;
  j["architectures"] = c.architectures;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = c.rope_scaling == model::RopeScaling::Llama3   ? "llama3"
                      : c.rope_scaling == model::RopeScaling::Linear ? "linear"
                                                                     : "none";
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["attention_bias"] = c.attention_bias;
  j["qk_norm"] = c.qk_norm;
  j["parameters"] = model::parameter_count(c);
  j["parameters_stored"] = n_params_stored;
  j["weight_bytes_by_dtype"] = dtypes;
  j["n_shards"] = ck.shards().size();
  j["n_tensors"] = ck.tensors().size();
  j["run_tokens"] = n_tokens;
  j["memory_weights_mmapped_bytes"] = weight_bytes;
  j["memory_activations_bytes"] = act;
  j["memory_total_bytes"] = weight_bytes + static_cast<uint64_t>(act);
  // --precision bf16 on this CPU: F32 matrices read as their packed bf16 copies (Model::weight_bytes).
  const int64_t bf16_weights = m->weight_bytes(model::Precision::BF16);
  j["memory_bf16_weights_bytes"] = bf16_weights;
  j["memory_bf16_total_bytes"] = bf16_weights + act;
  j["unused_tensors"] = unused;
  if (args.has("json")) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("checkpoint   %s\n", ck.dir().c_str());
  std::printf("architecture %s%s%s\n", c.model_type.c_str(), c.architectures.empty() ? "" : " / ",
              c.architectures.empty() ? "" : c.architectures[0].c_str());
  std::printf("layers       %d, hidden %d, intermediate %d\n", c.num_hidden_layers, c.hidden_size,
              c.intermediate_size);
  std::printf("attention    %d heads, %d kv heads, head_dim %d%s%s\n", c.num_attention_heads,
              c.num_key_value_heads, c.head_dim, c.attention_bias ? ", q/k/v bias" : "",
              c.qk_norm ? ", q/k norm" : "");
  std::printf("rope         theta %g, scaling %s\n", c.rope_theta, j["rope_scaling"].get<std::string>().c_str());
  std::printf("vocab        %d (%s embeddings), rms_norm_eps %g\n", c.vocab_size,
              c.tie_word_embeddings ? "tied" : "untied", static_cast<double>(c.rms_norm_eps));
  if (c.max_position_embeddings > 0) {
    std::printf("context      %lld positions (max_position_embeddings: run's default --max-tokens)\n",
                static_cast<long long>(c.max_position_embeddings));
  }
  std::printf("parameters   %lld (%s)\n", static_cast<long long>(model::parameter_count(c)),
              parameter_scale(model::parameter_count(c)).c_str());
  std::printf("dtypes      ");
  for (const auto& [dt, bytes] : ck.used_bytes_by_dtype()) std::printf(" %s %s", dt.c_str(), gib(double(bytes)).c_str());
  std::printf("\n");
  std::printf("files        %zu shard(s), %zu tensors\n", ck.shards().size(), ck.tensors().size());
  std::printf("memory       %s weights (memory-mapped, read in place) + %s working memory for %lld tokens = %s\n",
              gib(double(weight_bytes)).c_str(), gib(double(act)).c_str(), static_cast<long long>(n_tokens),
              gib(double(weight_bytes) + double(act)).c_str());
  if (bf16_weights != static_cast<int64_t>(weight_bytes)) {
    std::printf("memory bf16  %s weights (the matrices as packed bf16 copies, rounded; embeddings mapped) + %s = %s"
                " with --precision bf16\n", gib(double(bf16_weights)).c_str(), gib(double(act)).c_str(),
                gib(double(bf16_weights) + double(act)).c_str());
  }
  for (const auto& name : unused) {
    std::fprintf(stderr, "logitscope: warning: tensor '%s' is in the checkpoint but not used%s\n", name.c_str(),
                 name == "lm_head.weight" ? " (tie_word_embeddings: the head is embed_tokens)" : "");
  }
  return 0;
}

}  // namespace lsc::cli
