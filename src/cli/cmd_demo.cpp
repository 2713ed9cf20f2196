// `logitscope demo`: three small checkpoints with the real Qwen2.5 vocabulary (base; sft = base +
// small noise; rl = sft with a planted preference for the "wait" family), the demo dataset, and
// the whole pipeline over them. The planted effect is the pipeline's end-to-end sensitivity test.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "analysis/keywords.h"
#include "analysis/text_layout.h"
#include "io/dataset.h"
#include "model/model.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/demo_data.h"
#include "gpu/gpu.h"
#include "pipeline/run.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/paths.h"
#include "model/synth.h"
#include "model/tensor_table.h"
#include "tokenizer/tokenizer.h"

namespace lsc::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kHelp =
    "usage: logitscope demo [--out DIR] [--threads N] [--precision exact|fp32|bf16] [--lens LAYERS]\n"
    "                      [--device cpu|cuda|cuda:N|cuda:auto] [--quiet]\n"
    "  Writes DIR/checkpoints/{base,sft,rl} (Qwen2 architecture, real Qwen2.5 vocabulary, random\n"
    "  weights), DIR/data.jsonl (60 reasoning traces) and runs 'logitscope run' on them into DIR\n"
    "  (default demo-results/). In 'rl' the output embeddings of the 'wait' family are shifted\n"
    "  along a channel that only the last layer writes, so that rl prefers them: the results\n"
    "  must show it, its logit lens only at the last layer. --lens as for run (default: all, at\n"
    "  the keywords).\n";

// Weights: a "late" channel (hidden dim 0) that only the last layer writes: it is 0 in every token
// embedding and every earlier layer's output, and the last layer's attention adds the constant
// kLateChannel to it at every position (a value channel with zero weights and bias kLateChannel,
// which attention passes through unchanged, routed by o_proj to dim 0 only). Shifting an output
// row along dim 0 therefore raises that token's logit at every position of the model's output and
// nowhere in the logit lens of the earlier layers. kPlantedShift is that shift for the "wait"
// rows in rl.
constexpr float kLateChannel = 3.0f;
constexpr float kPlantedShift = 2.5f;
constexpr float kSftNoise = 0.02f;
constexpr float kRlNoise = 0.004f;  // absolute std of rl's output-layer noise

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

// Rewrites tensor `name` of ts through fn, on its values as floats (stored back in its dtype).
void edit_tensor(std::vector<io::TensorData>& ts, const std::string& name,
                 const std::function<void(std::vector<float>&)>& fn) {
  auto& t = find(ts, name);
  auto v = model::tensor_values(t);
  fn(v);
  model::set_tensor_values(t, v);
}

// Makes hidden dim 0 the late channel described above (for the demo's config: 2 query heads per
// KV head, so value channel 0 of KV head 0 reaches attention-output dims 0 and head_dim).
void shape_late_channel(std::vector<io::TensorData>& ts, const model::ModelConfig& c) {
  const size_t H = size_t(c.hidden_size), Q = size_t(c.num_attention_heads * c.head_dim), D = size_t(c.head_dim);
  const size_t I = size_t(c.intermediate_size), last = size_t(c.num_hidden_layers - 1);
  edit_tensor(ts, "model.embed_tokens.weight", [&](std::vector<float>& v) {
    for (size_t r = 0; r < size_t(c.vocab_size); ++r) v[r * H] = 0.0f;
  });
  for (size_t l = 0; l <= last; ++l) {
    edit_tensor(ts, model::layer_tensor_name(int(l), "mlp.down_proj.weight"), [&](std::vector<float>& v) {
      for (size_t i = 0; i < I; ++i) v[i] = 0.0f;  // row 0: the MLP never writes dim 0
    });
    edit_tensor(ts, model::layer_tensor_name(int(l), "self_attn.o_proj.weight"), [&](std::vector<float>& v) {
      for (size_t i = 0; i < Q; ++i) v[i] = 0.0f;  // row 0
      if (l != last) return;
      for (size_t r = 0; r < H; ++r) v[r * Q] = v[r * Q + D] = 0.0f;  // columns 0 and D: dim 0 only
      v[0] = v[D] = 0.5f;  // the mean of the two heads' constant channel
    });
    if (l != last) continue;
    edit_tensor(ts, model::layer_tensor_name(int(l), "self_attn.v_proj.weight"), [&](std::vector<float>& v) {
      for (size_t i = 0; i < H; ++i) v[i] = 0.0f;  // value channel 0 ignores its input
    });
    edit_tensor(ts, model::layer_tensor_name(int(l), "self_attn.v_proj.bias"),
                [&](std::vector<float>& v) { v[0] = kLateChannel; });
  }
}

// Mean over every position of every demo text (notebook template) of the model's final hidden state.
std::vector<double> mean_final_hidden(const std::string& model_dir, const tok::Tokenizer& tokenizer) {
  auto m = model::Model::load(model_dir);
  const auto data = io::parse_dataset(demo_dataset_jsonl(), "demo data");
  const auto tmpl = analysis::make_template("notebook");
  const size_t H = size_t(m->config().hidden_size);
  std::vector<double> sum(H, 0.0);
  int64_t n = 0;
  for (const auto& r : data.records) {
    const auto enc = tokenizer.encode(analysis::apply_template(tmpl, r.query, r.answer).text, true);
    const auto h = m->forward_hidden(enc.ids);
    for (size_t t = 0; t < enc.ids.size(); ++t) {
      for (size_t i = 0; i < H; ++i) sum[i] += double(h[t * H + i]);
    }
    n += int64_t(enc.ids.size());
  }
  for (double& x : sum) x /= double(n);
  return sum;
}

void write_demo_checkpoints(const std::string& dir, const tok::Tokenizer& tokenizer, uint64_t seed) {
  const model::ModelConfig cfg = demo_config();
  auto base = model::synth_tensors(cfg, seed, io::DType::BF16);
  shape_late_channel(base, cfg);
  // Adds N(0, (kSftNoise · the tensor's own scale)²) to the selected tensors.
  auto add_noise = [&](std::vector<io::TensorData>& ts, uint64_t noise_seed) {
    const auto noise = model::synth_tensors(cfg, noise_seed, io::DType::F32);  // same shapes, fresh draws
    for (size_t i = 0; i < ts.size(); ++i) {
      auto v = model::tensor_values(ts[i]);
      const auto n = model::tensor_values(noise[i]);
      const bool norm = ts[i].name.find("norm") != std::string::npos;
      // synth draws have std 0.1 around 1 (norms) or std 0.15-0.5 around 0: rescale to kSftNoise.
      for (size_t k = 0; k < v.size(); ++k) v[k] += kSftNoise * (norm ? (n[k] - 1.0f) / 0.1f : n[k] / 0.15f);
      model::set_tensor_values(ts[i], v);
    }
  };
  auto sft = base;
  add_noise(sft, seed + 1);
  shape_late_channel(sft, cfg);  // the noise must not open dim 0 to the earlier layers
  // rl: the planted "wait" preference along the late channel, plus output-layer noise in the
  // other hidden dimensions, made orthogonal to sft's mean final hidden state over the demo texts.
  // That noise moves each token's logit up or down from position to position with mean zero, so
  // families nobody planted differ between sft and rl the way noise does, instead of showing only
  // the small, perfectly consistent renormalisation that raising "wait" causes (which a paired
  // test on a deterministic model would always find).
  const std::string tok_json = io::read_text_file(io::join_path(demo_dir(), "tokenizer.json"));
  const std::string tok_cfg = io::read_text_file(io::join_path(demo_dir(), "tokenizer_config.json"));
  auto write = [&](const char* name, const std::vector<io::TensorData>& tensors) {
    const std::string d = io::join_path(dir, name);
    io::make_dirs(d, "a demo checkpoint folder");
    model::write_checkpoint(d, cfg, tensors);
    io::write_file_atomic(io::join_path(d, "tokenizer.json"), tok_json);
    io::write_file_atomic(io::join_path(d, "tokenizer_config.json"), tok_cfg);
    return d;
  };
  write("base", base);
  const std::vector<double> mean_h = mean_final_hidden(write("sft", sft), tokenizer);
  auto rl = sft;
  auto noise_tensors = model::synth_tensors(cfg, seed + 2, io::DType::F32);
  const auto noise = model::tensor_values(find(noise_tensors, "lm_head.weight"));
  edit_tensor(rl, "lm_head.weight", [&](std::vector<float>& v) {
    const size_t H = size_t(cfg.hidden_size);
    double mm = 0;
    for (size_t i = 1; i < H; ++i) mm += mean_h[i] * mean_h[i];
    std::vector<double> w(H);
    for (size_t row = 0; row < size_t(cfg.vocab_size); ++row) {
      double dot = 0;
      for (size_t i = 1; i < H; ++i) {
        w[i] = double(kRlNoise) * double(noise[row * H + i]) / 0.15;  // N(0, kRlNoise²)
        dot += w[i] * mean_h[i];
      }
      for (size_t i = 1; i < H; ++i) v[row * H + i] += static_cast<float>(w[i] - dot / mm * mean_h[i]);
    }
  });
  const auto wait = analysis::build_families({"wait"}, tokenizer).front();
  edit_tensor(rl, "lm_head.weight", [&](std::vector<float>& v) {
    for (int32_t id : wait.token_ids) v[size_t(id) * size_t(cfg.hidden_size)] += kPlantedShift;
  });
  write("rl", rl);
}

}  // namespace

int cmd_demo(int argc, char** argv) {
  Args args(argc, argv, {"out", "threads", "precision", "lens", "device"}, {"quiet", "help"});
  if (args.has("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
  const std::string out = args.get_or("out", "demo-results");
  const bool quiet = args.has("quiet");
  gpu::require_device(args.get_or("device", "cpu"));  // before the checkpoints are written
  io::make_dirs(out, "the demo's results directory");
  const std::string ckpt = io::join_path(out, "checkpoints");
  if (!quiet) std::fprintf(stderr, "logitscope demo: writing checkpoints base, sft, rl to %s\n", ckpt.c_str());
  const tok::Tokenizer tokenizer = tok::load_tokenizer(io::join_path(demo_dir(), "tokenizer.json"));
  write_demo_checkpoints(ckpt, tokenizer, 20261129);
  const std::string data = io::join_path(out, "data.jsonl");
  io::write_file_atomic(data, demo_dataset_jsonl());
  pipeline::RunOptions o;
  for (const char* name : {"base", "sft", "rl"}) o.models.emplace_back(name, io::join_path(ckpt, name));
  o.data_path = data;
  o.out_dir = out;
  o.threads = static_cast<int>(args.get_int("threads", 0, 1, 1024));
  o.quiet = quiet;
  o.max_tokens = 512;
  o.lens_spec = args.get_or("lens", "all");
  o.device = args.get_or("device", o.device);
  o.precision = precision_from_environment();
  if (args.has("precision")) o.precision = parse_precision_flag(args.require("precision"));
  apply_environment(o);
  return pipeline::run(o);
}

}  // namespace lsc::cli
