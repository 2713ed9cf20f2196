// bench_forward: tokens/s of a teacher-forced pass with every per-token statistic (log p, rank,
// entropy, top-5), on Qwen2-shaped checkpoints with random bf16 weights that the bench writes
// itself (synth.h) into a folder it reuses across invocations (--dtype f32: the same values stored
// as F32, as RL checkpoints often are; at --precision bf16 the same logits, bit for bit). Each result is printed next to the
// GEMM ceiling measured in the same run: oneDNN bf16 with its own threading, the better of plain
// and packed weights, on exactly the matrix products of the pass (projections at M = tokens, the
// LM head in chunks of 64 rows), each run as often as the pass runs it. Attention and
// element-wise work are not in the ceiling. After a warm-up pass, ceiling rounds alternate with
// the timed passes (medians of each; the ratio is what a drifting host leaves least disturbed).
// Peak RSS is taken after the first timed pass and before the ceiling allocates anything.
//
// usage: bench_forward [--shape 0.5b|7b] [--layers L] [--tokens T] [--threads N]
//                      [--precision bf16|exact|fp32] [--stats fast|reference] [--reps R] [--dir DIR]
//                      [--chunk ROWS] [--ceiling 0] [--device cpu|cuda|cuda:N] [--dtype bf16|f32]
// --device cuda: the pass on the GPU backend (gpu.h: forward, then every row's statistics on the
// device, as a run's measuring step), the ceiling cuBLASLt's bf16 products of the same shapes.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/position_metrics.h"
#include "analysis/row_reduce.h"
#include "analysis/token_metrics.h"
#include "bench/bench_common.h"
#include "gpu/gpu.h"
#include "io/safetensors_writer.h"
#include "model/model.h"
#include "model/synth.h"
#include "model/tensor_table.h"
#include "io/paths.h"

using namespace lsc;

namespace {

model::ModelConfig shape_config(const std::string& shape, int layers) {
  model::ModelConfig c;
  c.arch = model::Arch::Qwen2;
  c.model_type = "qwen2";
  c.architectures = {"Qwen2ForCausalLM"};
  c.max_position_embeddings = 32768;
  c.rope_theta = 1000000.0;
  c.attention_bias = true;
  c.torch_dtype = "bfloat16";
  if (shape == "0.5b") {
    c.hidden_size = 896, c.intermediate_size = 4864, c.num_attention_heads = 14,
    c.num_key_value_heads = 2;
    c.vocab_size = 151936, c.tie_word_embeddings = true;
  } else if (shape == "7b") {
    c.hidden_size = 3584, c.intermediate_size = 18944, c.num_attention_heads = 28,
    c.num_key_value_heads = 4;
    c.vocab_size = 152064, c.tie_word_embeddings = false;
  } else {
    std::fprintf(stderr, "bench_forward: --shape must be 0.5b or 7b\n");
    std::exit(2);
  }
  c.head_dim = c.hidden_size / c.num_attention_heads;
  c.num_hidden_layers = layers;
  return c;
}

// Random bf16 tensors, uniform with the standard deviations of a trained model's scale
// (projections 1/sqrt(fan_in), embeddings 0.05, norms 1 ± 0.1, biases 0.1): fast to make, and
// activations stay O(1) through the layers. Written by a child process so that its memory never
// counts in this process's peak RSS.
void write_random_checkpoint(const std::string& dir, const model::ModelConfig& cfg, io::DType dtype) {
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    // Streamed: one tensor in memory at a time (a 7B checkpoint at 28 layers is 15 GB).
    std::vector<io::TensorSpecOut> specs;
    model::for_each_tensor(cfg, [&](const model::TensorSpec& s) {
      if (s.need == model::Need::Required) specs.push_back({s.name, dtype, s.shape});
    });
    uint64_t state = 0x2545f4914f6cdd1dull;
    try {
      model::write_checkpoint_streamed(dir, cfg, specs, [&](size_t i, std::vector<uint8_t>& bytes) {
        const io::TensorSpecOut& s = specs[i];
        const bool norm = s.name.find("norm") != std::string::npos;
        const bool bias = s.name.size() > 5 && s.name.compare(s.name.size() - 5, 5, ".bias") == 0;
        const bool embed = s.name.find("embed_tokens") != std::string::npos || s.name == "lm_head.weight";
        const float sd = norm    ? 0.1f
                         : bias  ? 0.1f
                         : embed ? 0.05f
                                 : 1.0f / std::sqrt(static_cast<float>(s.shape.back()));
        const float a = std::sqrt(3.0f) * sd, center = norm ? 1.0f : 0.0f;
        const size_t n = bytes.size() / io::dtype_bytes(dtype);
        for (size_t j = 0; j < n; ++j) {
          state ^= state << 13, state ^= state >> 7, state ^= state << 17;  // xorshift64
          const float u = static_cast<float>(state >> 40) * 0x1p-24f * 2.0f - 1.0f;
          const uint16_t b = cpu::f32_to_bf16(center + a * u);
          if (dtype == io::DType::BF16) {
            std::memcpy(bytes.data() + 2 * j, &b, 2);
          } else {  // the bf16 value widened exactly
            const float f = cpu::bf16_to_f32(b);
            std::memcpy(bytes.data() + 4 * j, &f, 4);
          }
        }
      });
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_forward: %s\n", e.what());
      std::_Exit(1);
    }
    std::_Exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench_forward: writing the checkpoint to %s failed\n", dir.c_str());
    std::exit(1);
  }
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The matrix products of one pass, each with how often the pass runs it: rows × cols (out) × k
// (in); the LM head in chunks of lm_rows rows.
struct PassGemm {
  int64_t rows, cols, k, count;
};
std::vector<PassGemm> pass_gemms(const model::ModelConfig& cfg, int64_t tokens, int64_t lm_rows) {
  const int64_t h = cfg.hidden_size, inter = cfg.intermediate_size, layers = cfg.num_hidden_layers;
  const int64_t q_cols = int64_t{cfg.num_attention_heads} * cfg.head_dim,
                kv_cols = int64_t{cfg.num_key_value_heads} * cfg.head_dim;
  const int64_t n_chunks = (tokens + lm_rows - 1) / lm_rows;
  return {{tokens, q_cols, h, layers}, {tokens, kv_cols, h, 2 * layers}, {tokens, h, q_cols, layers},
          {tokens, inter, h, 2 * layers}, {tokens, h, inter, layers},
          {std::min(lm_rows, tokens), cfg.vocab_size, h, n_chunks}};
}

// The attention's two products of one causal pass (Q·Kᵀ and P·V over the keys each query sees:
// T(T+1)/2 pairs per head, 2·head_dim flops each per product). The GEMM ceiling leaves them out;
// at 8192 tokens of the 0.5B shape they are 36% more than the matrix products', at 16384 72%.
double attention_flop(const model::ModelConfig& cfg, int64_t tokens) {
  const double pairs = double(tokens) * double(tokens + 1) / 2.0;
  return double(cfg.num_hidden_layers) * double(cfg.num_attention_heads) * pairs * 2.0 * 2.0 * double(cfg.head_dim);
}

// The GPU pass and its ceiling: every product of the pass through cuBLASLt in bf16 (the LM head in
// the backend's chunks), each as often as the pass runs it.
int bench_gpu(const model::Model& m, const model::ModelConfig& cfg, const std::vector<int32_t>& ids,
              model::Precision prec, int device, int reps, const std::string& shape) {
  const int64_t tokens = int64_t(ids.size()), h = cfg.hidden_size, layers = cfg.num_hidden_layers;
  const auto g = gpu::GpuModels::create(device, {&m}, prec, tokens, 5, {});
  std::vector<int32_t> targets(ids.begin() + 1, ids.end());
  targets.push_back(0);
  std::vector<analysis::RowSummary> rows(size_t(g->chunk_rows()));
  double checksum = 0.0;
  auto pass = [&] {
    const std::vector<float> hidden = g->forward_hidden(0, ids, {});
    checksum = 0.0;
    for (int64_t t0 = 0; t0 < tokens; t0 += g->chunk_rows()) {
      const int64_t n = std::min(g->chunk_rows(), tokens - t0);
      g->summarize(0, hidden.data() + t0 * h, n, targets.data() + t0, 5, rows.data());
      for (int64_t r = 0; r < n; ++r) checksum += rows[size_t(r)].entropy_nats + double(rows[size_t(r)].rank);
    }
  };
  pass();  // warm-up
  std::vector<double> pass_s;
  for (int r = 0; r < std::max(reps, 1); ++r) {
    const auto a = std::chrono::steady_clock::now();
    pass();
    pass_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  double ceiling_s = 0.0, flop = 0.0;
  for (const PassGemm& x : pass_gemms(cfg, tokens, g->chunk_rows())) {
    ceiling_s += gpu::gemm_seconds(device, x.rows, x.k, x.cols, true, 5) * double(x.count);
    flop += 2.0 * double(x.rows * x.cols * x.k) * double(x.count);
  }
  const bench::Timing fwd = bench::timing_of(pass_s);
  io::Json j = bench::base_line("forward");
  j["device"] = g->device().describe();
  j["shape"] = "qwen2-" + shape;
  j["layers"] = layers;
  j["tokens"] = tokens;
  j["precision"] = g->method(0);
  j["precision_requested"] = model::precision_name(prec);
  bench::put_timing(j, fwd);
  j["tok_s"] = double(tokens) / fwd.median_s;
  j["ceiling_s"] = ceiling_s;
  j["ceiling_dtype"] = "bf16 (cuBLASLt)";
  j["ceiling_tok_s"] = double(tokens) / ceiling_s;
  j["ceiling_gflops"] = flop / ceiling_s * 1e-9;
  j["gemm_gflop"] = flop * 1e-9;
  j["frac_of_ceiling"] = ceiling_s / fwd.median_s;
  j["checksum"] = checksum;
  bench::emit(j);
  std::fprintf(stderr, "forward qwen2-%s L=%lld T=%lld on %s, %s: %.1f tok/s, %.0f%% of the cuBLASLt ceiling (%.0f TFLOP/s)\n",
               shape.c_str(), static_cast<long long>(layers), static_cast<long long>(tokens),
               g->device().describe().c_str(), g->method(0).c_str(), double(tokens) / fwd.median_s,
               100.0 * ceiling_s / fwd.median_s, flop / ceiling_s * 1e-12);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string shape = "0.5b", precision = "bf16", stats = "fast", dir, device = "cpu", dtype_name = "bf16";
  int layers = -1, reps = 3, threads = 0;
  bool no_ceiling = false;
  int64_t chunk_opt = 0;  // --chunk: LM-head rows per chunk (default ForwardOptions')  // --ceiling
                          // 0: skip the ceiling (profiling the pass alone)
  int64_t tokens = 512;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(
          stderr,
          "usage: bench_forward [--shape 0.5b|7b] [--layers L] [--tokens T] [--threads N]\n"
          "                     [--precision bf16|exact|fp32] [--stats fast|reference] [--reps R] [--dir "
          "DIR]\n"
          "                     [--chunk ROWS] [--ceiling 0] [--device cpu|cuda|cuda:N] [--dtype bf16|f32]\n");
      return 2;
    }
    const char* v = argv[++i];
    if (a == "--shape")
      shape = v;
    else if (a == "--layers")
      layers = std::atoi(v);
    else if (a == "--tokens")
      tokens = std::atoll(v);
    else if (a == "--threads")
      threads = std::atoi(v);
    else if (a == "--precision")
      precision = v;
    else if (a == "--stats")
      stats = v;
    else if (a == "--reps")
      reps = std::atoi(v);
    else if (a == "--dir")
      dir = v;
    else if (a == "--ceiling")
      no_ceiling = std::string(v) == "0";
    else if (a == "--chunk")
      chunk_opt = std::atoll(v);
    else if (a == "--device")
      device = v;
    else if (a == "--dtype")
      dtype_name = v;
    else {
      std::fprintf(stderr, "bench_forward: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (layers < 0) layers = shape == "7b" ? 2 : 24;
  if (threads > 0) omp_set_num_threads(threads);
  if (dtype_name != "bf16" && dtype_name != "f32") {
    std::fprintf(stderr, "bench_forward: --dtype must be bf16 or f32\n");
    return 2;
  }
  const io::DType dtype = dtype_name == "f32" ? io::DType::F32 : io::DType::BF16;
  model::ModelConfig cfg = shape_config(shape, layers);
  if (dtype == io::DType::F32) cfg.torch_dtype = "float32";
  if (dir.empty()) dir = "/tmp/lsc_bench_qwen2-" + shape + "-L" + std::to_string(layers) + (dtype == io::DType::F32 ? "-f32" : "");
  if (read_file(dir + "/config.json") != model::config_json(cfg) ||
      !io::file_exists(dir + "/model.safetensors")) {
    const auto t0 = std::chrono::steady_clock::now();
    write_random_checkpoint(dir, cfg, dtype);
    std::fprintf(stderr, "bench_forward: wrote %s in %.1f s\n", dir.c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  auto m = model::Model::load(dir);
  const model::Precision prec = model::parse_precision(precision, "--precision");
  const model::PrecisionUsed used = m->precision_used(prec);
  const double stored_gib = double(m->weight_bytes(model::Precision::FP32)) / double(1 << 30);
  const int64_t vocab = cfg.vocab_size, h = cfg.hidden_size, inter = cfg.intermediate_size;
  const int64_t q_cols = int64_t{cfg.num_attention_heads} * cfg.head_dim,
                kv_cols = int64_t{cfg.num_key_value_heads} * cfg.head_dim;
  std::vector<int32_t> ids(static_cast<size_t>(tokens));
  for (int64_t t = 0; t < tokens; ++t)
    ids[size_t(t)] = static_cast<int32_t>((t * 7919 + 13) % vocab);

  if (gpu::is_cuda_spec(device)) return bench_gpu(*m, cfg, ids, prec, gpu::parse_device(device, 0, 1), reps, shape);

  // The pass with every statistic of every position: log p, rank, entropy, top-5.
  double stats_s = 0.0, checksum = 0.0;
  std::vector<analysis::ReducedRow> rows;
  std::vector<int32_t> targets;
  model::ForwardOptions opt;
  opt.precision = prec;
  if (chunk_opt > 0) opt.chunk_rows = chunk_opt;
  const int64_t chunk_rows = opt.chunk_rows;
  auto pass = [&] {
    stats_s = 0.0;
    checksum = 0.0;
    m->forward(
        ids,
        [&](const model::LogitsChunk& c) {
          const auto t0 = std::chrono::steady_clock::now();
          targets.assign(static_cast<size_t>(c.n_rows), -1);
          for (int64_t r = 0; r < c.n_rows; ++r) {
            if (c.first_pos + r + 1 < tokens) targets[size_t(r)] = ids[size_t(c.first_pos + r + 1)];
          }
          if (stats == "reference") {
            for (int64_t r = 0; r < c.n_rows; ++r) {
              std::span<const float> l(c.logits + r * c.vocab, static_cast<size_t>(c.vocab));
              const auto s = analysis::row_stats(l);
              const auto top = analysis::top_k(l, 5);
              const int64_t rank =
                  targets[size_t(r)] >= 0 ? analysis::rank_of(l, targets[size_t(r)]) : 0;
              checksum += s.entropy_nats + double(rank) + double(top[0].second);
            }
          } else {
            rows.resize(static_cast<size_t>(c.n_rows));
            analysis::reduce_rows(c.logits, c.n_rows, c.vocab, targets.data(), 5, rows.data());
            for (const auto& s : rows)
              checksum += s.entropy_nats + double(s.rank) + double(s.top[0].second);
          }
          stats_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        },
        opt);
  };
  // Warm-up (packs the weights) and a first timed pass; peak RSS is read after them, before the
  // ceiling allocates its own matrices.
  std::vector<double> pass_s, stats_each, ceiling_round_s;
  auto timed_pass = [&] {
    const auto a = std::chrono::steady_clock::now();
    pass();
    pass_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
    stats_each.push_back(stats_s);
  };
  pass();
  timed_pass();
  const double peak_rss = bench::peak_rss_gib();

  // The ceiling: the same matrix products through oneDNN, the faster layout (plain or packed)
  // per shape. Its rounds alternate with the passes, so a host that speeds up or slows down
  // during the run moves both sides of the ratio alike.
  const std::vector<PassGemm> gemms = pass_gemms(cfg, tokens, chunk_rows);
  double flop = 0.0;
  std::vector<std::unique_ptr<bench::DnnlGemm>> best_gemm;
  // On a CPU without bf16 matrix support (no AVX512-BF16 or AMX) oneDNN has no bf16 product: the
  // ceiling is then its fp32 product on the same shapes.
  const bool f32_ceiling = std::string(cpu::bf16_isa()) == "none";
  for (const PassGemm& g : gemms) {
    if (no_ceiling) break;
    double best_s = 1e30;
    std::unique_ptr<bench::DnnlGemm> best;
    for (bool packed : {false, true}) {
      auto gemm = std::make_unique<bench::DnnlGemm>(g.rows, g.cols, g.k, packed, f32_ceiling);
      const double t = bench::time_it([&] { gemm->run(); }, 3).median_s;
      if (t < best_s) best_s = t, best = std::move(gemm);
    }
    best_gemm.push_back(std::move(best));
    flop += 2.0 * double(g.rows * g.cols * g.k) * double(g.count);
  }
  auto ceiling_round = [&] {  // every product of a pass, each as often as the pass runs it
    const auto a = std::chrono::steady_clock::now();
    for (size_t i = 0; i < best_gemm.size(); ++i) {
      for (int64_t c = 0; c < gemms[i].count; ++c) best_gemm[i]->run();
    }
    ceiling_round_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  };
  for (int r = 1; r < reps; ++r) {
    if (!no_ceiling) ceiling_round();
    timed_pass();
  }
  if (!no_ceiling) ceiling_round();
  m.reset();
  const bench::Timing fwd = bench::timing_of(pass_s);
  const double stats_med = bench::timing_of(stats_each).median_s;
  const double ceiling_s = no_ceiling ? 0.0 : bench::timing_of(ceiling_round_s).median_s;
  // The share of the ceiling with the attention's products counted at the GEMM rate: how much of
  // the pass is neither (the goals are stated against the GEMM ceiling alone).
  const double attn_flop = attention_flop(cfg, tokens);
  const double frac_with_attention = no_ceiling ? 0.0 : ceiling_s * (1.0 + attn_flop / flop) / fwd.median_s;

  const double weights_gib = double(model::parameter_count(cfg)) * 2.0 / double(1 << 30);
  const double layer_gib = double(2 * (h * q_cols + 2 * h * kv_cols + q_cols * h + 3 * h * inter) +
                                  2 * (q_cols + 2 * kv_cols) + 4 * h) /
                           double(1 << 30);
  io::Json j = bench::base_line("forward");
  j["shape"] = "qwen2-" + shape;
  j["layers"] = layers;
  j["tokens"] = tokens;
  j["hidden"] = h;
  j["intermediate"] = inter;
  j["vocab"] = vocab;
  j["dtype"] = dtype_name + " weights";
  if (dtype != io::DType::BF16) j["stored_gib"] = stored_gib;
  j["precision"] = used.method();
  j["precision_requested"] = precision;
  j["isa"] = used.isa;
  j["bf16_impl"] = cpu::bf16_impl();
  j["stats"] = stats;
  j["lm_chunk_rows"] = chunk_rows;
  bench::put_timing(j, fwd);
  j["tok_s"] = double(tokens) / fwd.median_s;
  if (!no_ceiling) {  // --ceiling 0: no ceiling fields (not 0, inf or NaN)
    j["ceiling_s"] = ceiling_s;
    j["ceiling_dtype"] = f32_ceiling ? "f32" : "bf16";
    j["ceiling_tok_s"] = double(tokens) / ceiling_s;
    j["ceiling_gflops"] = flop / ceiling_s * 1e-9;
    j["gemm_gflop"] = flop * 1e-9;
    j["frac_of_ceiling"] = ceiling_s / fwd.median_s;
    j["attention_gflop"] = attn_flop * 1e-9;
    j["frac_of_ceiling_with_attention"] = frac_with_attention;
  }
  j["stats_s"] = stats_med;
  j["stats_share"] = stats_med / fwd.median_s;
  j["peak_rss_gib"] = peak_rss;
  j["weights_gib"] = weights_gib;
  j["layer_weights_gib"] = layer_gib;
  if (shape == "7b" && layers < 28)
    j["peak_rss_28_layers_gib_extrapolated"] = peak_rss + double(28 - layers) * layer_gib;
  j["checksum"] = checksum;
  bench::emit(j);
  char ceiling[160] = "no ceiling measured";
  if (!no_ceiling) {
    std::snprintf(ceiling, sizeof ceiling, "%.0f%% of GEMM ceiling (%.0f GFLOP/s, %.1f tok/s this run; %.0f%% with attention)",
                  100.0 * ceiling_s / fwd.median_s, flop / ceiling_s * 1e-9, double(tokens) / ceiling_s,
                  100.0 * frac_with_attention);
  }
  std::fprintf(stderr, "forward qwen2-%s L=%d T=%lld threads=%d %s: %.1f tok/s, %s, stats %.1f%%, peak RSS %.2f GiB\n",
               shape.c_str(), layers, static_cast<long long>(tokens), omp_get_max_threads(), used.method().c_str(),
               double(tokens) / fwd.median_s, ceiling, 100.0 * stats_med / fwd.median_s, peak_rss);
  return 0;
}
