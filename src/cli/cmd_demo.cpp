// `logitscope demo`: three small checkpoints with the real Qwen2.5 vocabulary (base; sft = base +
// small noise; rl = sft with a planted preference for the "wait" family), the demo dataset, and
// the whole pipeline over them. The planted effect is the pipeline's end-to-end sensitivity test.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "analysis/keywords.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/demo_data.h"
#include "cli/run_pipeline.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/mapped_file.h"
#include "model/synth.h"
#include "tokenizer/tokenizer.h"

namespace lsc::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kHelp =
    "usage: logitscope demo [--out DIR] [--threads N] [--quiet]\n"
    "  Writes DIR/checkpoints/{base,sft,rl} (Qwen2 architecture, real Qwen2.5 vocabulary, random\n"
    "  weights), DIR/data.jsonl (60 reasoning traces) and runs 'logitscope run' on them into DIR\n"
    "  (default demo-results/). In 'rl' the output embeddings of the 'wait' family are shifted\n"
    "  so that it prefers them: the results must show it.\n";

// Weights: a constant channel (hidden dim 0) in every token embedding keeps the final hidden
// state's dim 0 positive at every position, so shifting an output row along dim 0 raises that
// token's logit everywhere. kPlantedShift is that shift for the "wait" rows in rl.
constexpr float kBiasChannel = 3.0f;
constexpr float kPlantedShift = 6.0f;
constexpr float kSftNoise = 0.02f;

std::string demo_dir() {
  const char* env = std::getenv("LSC_DEMO_DIR");
  return env != nullptr && *env != '\0' ? env : LSC_DEMO_DIR;
}

model::ModelConfig demo_config() {
  model::ModelConfig c;
  c.arch = model::Arch::Qwen2;
  c.model_type = "qwen2";
  c.vocab_size = 151936;  // Qwen2.5-0.5B..3B embedding rows (151665 tokenizer ids + padding)
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.max_position_embeddings = 32768;
  c.rope_theta = 1000000.0;
  c.rms_norm_eps = 1e-6f;
  c.attention_bias = true;
  c.tie_word_embeddings = false;
  c.torch_dtype = "bfloat16";
  return c;
}

io::TensorData& find(std::vector<io::TensorData>& ts, const std::string& name) {
  for (auto& t : ts) {
    if (t.name == name) return t;
  }
  LSC_CHECK_MSG(false, name);
  return ts.front();
}

void write_demo_checkpoints(const std::string& dir, const tok::Tokenizer& tokenizer, uint64_t seed) {
  const model::ModelConfig cfg = demo_config();
  auto base = model::synth_tensors(cfg, seed, io::DType::BF16);
  {
    auto& e = find(base, "model.embed_tokens.weight");
    auto v = model::tensor_values(e);
    for (int64_t r = 0; r < cfg.vocab_size; ++r) v[size_t(r * cfg.hidden_size)] = kBiasChannel;
    model::set_tensor_values(e, v);
  }
  auto sft = base;
  {
    model::ModelConfig noise_cfg = cfg;
    const auto noise = model::synth_tensors(noise_cfg, seed + 1, io::DType::F32);  // N(0, sd) per tensor, reused as noise
    for (size_t i = 0; i < sft.size(); ++i) {
      auto v = model::tensor_values(sft[i]);
      const auto n = model::tensor_values(noise[i]);
      const bool norm = sft[i].name.find("norm") != std::string::npos;
      // noise tensors have std 0.1-0.5 around 0 (norms around 1): rescale to kSftNoise.
      for (size_t k = 0; k < v.size(); ++k) v[k] += kSftNoise * (norm ? (n[k] - 1.0f) / 0.1f : n[k] / 0.15f);
      model::set_tensor_values(sft[i], v);
    }
  }
  auto rl = sft;
  {
    std::vector<std::string> texts(static_cast<size_t>(tokenizer.vocab_size()));
    for (size_t id = 0; id < texts.size(); ++id) texts[id] = tokenizer.decode_token(static_cast<int32_t>(id));
    const auto wait = analysis::build_family("wait", texts, [&](const std::string& s) {
      auto e = tokenizer.encode(s, false);
      return e.ids.empty() ? -1 : e.ids[0];
    });
    auto& head = find(rl, "lm_head.weight");
    auto v = model::tensor_values(head);
    for (int32_t id : wait.token_ids) v[size_t(id) * size_t(cfg.hidden_size)] += kPlantedShift;
    model::set_tensor_values(head, v);
  }
  const std::string tok_json = io::read_text_file(io::join_path(demo_dir(), "tokenizer.json"));
  const std::string tok_cfg = io::read_text_file(io::join_path(demo_dir(), "tokenizer_config.json"));
  for (const auto& [name, tensors] : {std::pair{"base", &base}, std::pair{"sft", &sft}, std::pair{"rl", &rl}}) {
    const std::string d = io::join_path(dir, name);
    fs::create_directories(d);
    model::write_checkpoint(d, cfg, *tensors);
    io::write_file_atomic(io::join_path(d, "tokenizer.json"), tok_json);
    io::write_file_atomic(io::join_path(d, "tokenizer_config.json"), tok_cfg);
  }
}

}  // namespace

int cmd_demo(int argc, char** argv) {
  Args args(argc, argv, {"out", "threads"}, {"quiet", "help"});
  if (args.has("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
  const std::string out = args.get_or("out", "demo-results");
  const bool quiet = args.has("quiet");
  fs::create_directories(out);
  const std::string ckpt = io::join_path(out, "checkpoints");
  if (!quiet) std::fprintf(stderr, "logitscope demo: writing checkpoints base, sft, rl to %s\n", ckpt.c_str());
  const tok::Tokenizer tokenizer = tok::load_tokenizer(io::join_path(demo_dir(), "tokenizer.json"));
  write_demo_checkpoints(ckpt, tokenizer, 20261129);
  const std::string data = io::join_path(out, "data.jsonl");
  io::write_file_atomic(data, demo_dataset_jsonl());
  RunOptions o;
  for (const char* name : {"base", "sft", "rl"}) o.models.emplace_back(name, io::join_path(ckpt, name));
  o.data_path = data;
  o.out_dir = out;
  o.threads = static_cast<int>(args.get_int("threads", 0, 1, 1024));
  o.quiet = quiet;
  o.max_tokens = 512;
  return run_pipeline(o);
}

}  // namespace lsc::cli
