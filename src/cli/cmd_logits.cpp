// `logitscope logits`: one teacher-forced pass over given ids; full logits to .npy (small inputs)
// and/or per-position log p, rank and entropy to JSON, streamed chunk by chunk.
#include <omp.h>

#include <cstdio>
#include <memory>
#include <string>

#include "analysis/token_metrics.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "io/atomic_file.h"
#include "io/error.h"
#include "io/json.h"
#include "io/paths.h"
#include "io/npy.h"
#include "kernels/cpu/kernels.h"
#include "gpu/gpu.h"
#include "model/model.h"

namespace lsc::cli {

namespace {

constexpr const char* kHelp =
    "usage: logitscope logits --model DIR (--ids 1,2,3 | --ids-file FILE) [--npy OUT.npy]\n"
    "                         [--summary OUT.json] [--threads N] [--precision exact|fp32|bf16]\n"
    "                         [--device cpu|cuda|cuda:N|cuda:auto] [--chunk-rows N]\n"
    "  One teacher-forced forward pass over token ids: --ids a comma-separated list, --ids-file a\n"
    "  file of ids separated by commas or whitespace (e.g. one per line) or a JSON array.\n"
    "  --precision (or LSC_PRECISION): exact (default) meets the\n"
    "  transformers reference to 1e-4 by the fastest method on this CPU (split-bf16 on AMX, else\n"
    "  the fp32 products); fp32 is the plain fp32 reference path, bit for bit; bf16 runs the matrix\n"
    "  multiplies in bf16 with fp32 accumulation (AMX or AVX512-BF16; fp32 where the CPU has\n"
    "  neither or the weights are not stored as bf16). The summary names the method that ran.\n"
    "   --npy writes float32 logits [n_tokens, vocab]\n"
    "  (row t predicts token t+1). --summary writes, for every position t >= 1, the log-prob of\n"
    "  token t read from row t-1, its rank (1 = argmax) and the entropy of row t-1 in nats.\n"
    "  Without --npy or --summary the summary goes to stdout. --chunk-rows: LM-head rows per chunk\n"
    "  (default 256, as run's, capped so a chunk's logits stay under 256 MiB; any gives the same\n"
    "  logits, bit for bit).\n";

}  // namespace

int cmd_logits(int argc, char** argv) {
  Args args(argc, argv, {"model", "ids", "ids-file", "npy", "summary", "threads", "chunk-rows", "precision", "device"},
            {"help"});
  if (args.has("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
  const std::string dir = args.require("model");
  if (args.has("ids") == args.has("ids-file")) throw UsageError("give exactly one of --ids and --ids-file");
  if (args.has("threads")) omp_set_num_threads(static_cast<int>(args.get_int("threads", 1, 1, 1024)));

  model::Precision precision = precision_from_environment();
  if (args.has("precision")) {
    precision = parse_precision_flag(args.require("precision"));
  }

  std::vector<int64_t> raw;
  std::string ids_where;
  if (args.has("ids")) {
    ids_where = "--ids";
    raw = parse_int_list(args.require("ids"), ids_where);
  } else {
    ids_where = args.require("ids-file");
    raw = parse_int_list(io::read_text_file(ids_where), ids_where);
  }
  const std::string device = args.get_or("device", "cpu");
  gpu::require_device(device);  // before the model is read
  auto m = model::Model::load(dir);
  if (const std::string unused = model::unused_tensors_warning(*m); !unused.empty()) {
    std::fprintf(stderr, "logitscope: warning: %s\n", unused.c_str());
  }
  std::vector<int32_t> ids;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] < 0 || raw[i] >= m->config().vocab_size) {
      throw InputError(ids_where, "token id at position " + std::to_string(i),
                       "an id in [0, " + std::to_string(m->config().vocab_size) + ")", std::to_string(raw[i]));
    }
    ids.push_back(static_cast<int32_t>(raw[i]));
  }
  m->validate_ids(ids, ids_where);

  const int64_t vocab = m->config().vocab_size;
  std::unique_ptr<io::NpyWriter> npy;
  if (args.has("npy")) npy = std::make_unique<io::NpyWriter>(args.require("npy"), static_cast<int64_t>(ids.size()), vocab);
  analysis::PositionCollector collector(ids);
  const int device_index = gpu::parse_device(device, 0, 1);
  const model::PrecisionUsed used = m->precision_used(precision);
  std::string method = used.method(), isa = used.isa;
  if (device_index >= 0) {  // the pass and the LM head on the GPU, the logits rows copied back
    const auto g = gpu::GpuModels::create(device_index, {m.get()}, precision, static_cast<int64_t>(ids.size()), 2, {});
    const std::vector<float> hidden = g->forward_hidden(0, ids, {});
    const int64_t n_t = static_cast<int64_t>(ids.size()), h = m->config().hidden_size, chunk = g->chunk_rows();
    std::vector<float> logits(static_cast<size_t>(std::min(chunk, n_t) * vocab));
    for (int64_t t0 = 0; t0 < n_t; t0 += chunk) {
      const int64_t n = std::min(chunk, n_t - t0);
      g->lm_head(0, hidden.data() + t0 * h, n, logits.data());
      if (npy) npy->write_rows(logits.data(), n);
      collector.add_rows(t0, n, vocab, logits.data());
    }
    method = g->method(0);
    isa = g->device().describe();
  } else {
    m->forward(ids, [&](const model::LogitsChunk& ch) {
      if (npy) npy->write_rows(ch.logits, ch.n_rows);
      collector.add_rows(ch.first_pos, ch.n_rows, ch.vocab, ch.logits);
    }, model::ForwardOptions{args.get_int("chunk-rows", model::kLmHeadChunkRows, 1, 1 << 20), {}, precision, {}});
  }
  if (npy) npy->commit();

  if (args.has("summary") || !args.has("npy")) {
    io::Json j;
    j["format"] = "logitscope-logits-summary/1";
    j["model"] = dir;
    j["n_tokens"] = ids.size();
    j["vocab_size"] = vocab;
    j["precision_requested"] = model::precision_name(precision);
    j["precision"] = method;
    j["isa"] = isa;
    j["ids"] = ids;
    io::Json pos = io::Json::array();
    for (const auto& p : collector.metrics()) {
      pos.push_back({{"pos", p.pos}, {"token", p.token}, {"logprob", p.logprob}, {"rank", p.rank},
                     {"entropy_nats", p.entropy_nats}});
    }
    j["positions"] = std::move(pos);
    const std::string text = j.dump(1) + "\n";
    if (args.has("summary")) {
      io::write_file_atomic(args.require("summary"), text);
    } else {
      std::fputs(text.c_str(), stdout);
    }
  }
  return 0;
}

}  // namespace lsc::cli
