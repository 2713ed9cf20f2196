// Tokenizer throughput: encode() of ~8 MB of reasoning-style records (English, LaTeX, Chinese,
// digits, ChatML tokens), built here deterministically, in MB/s (median and p10/p90 of N
// repetitions after a warm-up), one JSON line per result, as one text and record by record. The
// ceiling in the same run is one validating pass over the same bytes (UTF-8 check), the least any
// tokenizer must do. The reference (HF tokenizers via npm) runs from run_tokenizer_bench.sh on the
// records this writes with --write-jsonl; equal ids_fnv1a means equal ids.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "lsc_commit.h"  // LSC_GIT_COMMIT (generated at build time: cmake/commit.cmake)
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

using Clock = std::chrono::steady_clock;

// Records (one reasoning trace each, ~2-4 kB) totalling ~size_bytes: paragraphs in the style of
// R1 traces, varied by the record index so that numbers and some words differ between records.
std::vector<std::string> build_records(size_t size_bytes) {
  static const char* kParagraphs[] = {
      "<think>\nOkay, so I need to find the value of x such that 3x + 7 = 22. Let me think about "
      "this "
      "step by step. First, subtract 7 from both sides: 3x = 15. Then divide by 3, so x = "
      "5.\n\nWait, let "
      "me check that again. If x = 5, then 3(5) + 7 = 15 + 7 = 22. Yes, that's correct.\n\n",
      "Hmm, but what about the case where $n$ is even? We have \\[ \\sum_{k=1}^{n} k^2 = "
      "\\frac{n(n+1)(2n+1)}{6} "
      "\\] and for $n = 2m$ this becomes $\\frac{2m(2m+1)(4m+1)}{6}$. Actually, let me "
      "double-check the "
      "factorization: \\(\\sqrt{x^2 + y^2} \\le |x| + |y|\\), so the bound holds. Therefore the "
      "answer is "
      "\\boxed{\\dfrac{7}{2}}.\n\n",
      "等一下，让我检查一下。设这个数为 x，那么 2x + 3 = 11，所以 x = 4。我们再验证一次：2×4 + 3 = "
      "11，正确。"
      "因此，答案是 4。\n\n",
      "Alternatively, consider the integral $\\int_0^1 x^{n} \\, dx = \\frac{1}{n+1}$. However, "
      "the problem "
      "asks for the limit as n → ∞, which is 0. So the sequence converges. Let's verify with n = "
      "10: "
      "1/11 ≈ 0.0909.\n</think>\n\nThe final answer is $\\boxed{0}$.<|im_end|>\n",
      "<|im_start|>user\nProblem: A train travels 120 km in 1.5 hours. What is its average speed "
      "in km/h?"
      "<|im_end|>\n<|im_start|>assistant\n",
  };
  std::vector<std::string> records;
  size_t total = 0;
  for (size_t r = 0; total < size_bytes; ++r) {
    std::string rec;
    for (size_t k = 0; k < 4 + r % 5; ++k) {
      const size_t i = r * 7 + k;
      rec += kParagraphs[i % std::size(kParagraphs)];
      rec += "Step " + std::to_string(i) + ": the value is " + std::to_string((i * 7919) % 100003) +
             ".\n";
    }
    total += rec.size();
    records.push_back(std::move(rec));
  }
  return records;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

struct Stats {
  double median_s, p10_s, p90_s;
  double median_cpu_s;  // process CPU time: robust when other jobs share the cores
};

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

double quantile(std::vector<double> t, double f) {
  std::sort(t.begin(), t.end());
  return t[size_t(f * double(t.size() - 1) + 0.5)];
}

template <typename F>
Stats time_reps(int reps, F&& f) {
  f();  // warm-up (fills the word cache, faults in pages)
  std::vector<double> wall, cpu;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    f();
    cpu.push_back(cpu_seconds() - c0);
    wall.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return {quantile(wall, 0.5), quantile(wall, 0.1), quantile(wall, 0.9), quantile(cpu, 0.5)};
}

uint32_t fnv1a_ids(const std::vector<int32_t>& ids) {
  uint32_t h = 2166136261u;
  for (int32_t id : ids) {
    for (int b = 0; b < 4; ++b) {
      h ^= (uint32_t(id) >> (8 * b)) & 0xFF;
      h *= 16777619u;
    }
  }
  return h;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  std::string tokenizer = std::string(LSC_FIXTURES_DEFAULT) + "/tokenizers/qwen2.5/tokenizer.json";
  std::string write_jsonl;
  size_t size_mb = 8;
  int reps = 7;
  bool text_mode = true;  // --records-only leaves out the one-string mode (e.g. for profiling)
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_tokenizer: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--tokenizer")
      tokenizer = next();
    else if (a == "--write-jsonl")
      write_jsonl = next();
    else if (a == "--mb")
      size_mb = std::stoul(next());
    else if (a == "--reps")
      reps = std::stoi(next());
    else if (a == "--records-only")
      text_mode = false;
    else {
      std::fprintf(stderr,
                   "usage: bench_tokenizer [--tokenizer FILE] [--mb N] [--reps N] [--write-jsonl "
                   "PATH] [--records-only]\n");
      return 2;
    }
  }
  const std::vector<std::string> records = build_records(size_mb << 20);
  std::string text;
  for (const auto& r : records) text += r;
  if (!write_jsonl.empty()) {  // the same records for tokenizer_reference.mjs
    std::ofstream out(write_jsonl, std::ios::binary);
    for (const auto& r : records) {
      out << "{\"text\": \"";
      for (char c : r) {
        if (c == '"' || c == '\\')
          out << '\\' << c;
        else if (c == '\n')
          out << "\\n";
        else
          out << c;
      }
      out << "\"}\n";
    }
  }
  const auto t0 = Clock::now();
  const lsc::tok::Tokenizer tok = lsc::tok::load_tokenizer(tokenizer);
  const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();

  // Mode "text": the whole ~8 MB as one string. Mode "records": each record encoded on its own,
  // as a run over a JSONL of traces does; the ids of all records are hashed in order.
  std::vector<int32_t> ids_text, ids_records;
  Stats enc_text{};
  if (text_mode) enc_text = time_reps(reps, [&] { ids_text = tok.encode(text, false).ids; });
  const Stats enc_records = time_reps(reps, [&] {
    ids_records.clear();
    for (const auto& r : records) {
      const auto e = tok.encode(r, false);
      ids_records.insert(ids_records.end(), e.ids.begin(), e.ids.end());
    }
  });
  const Stats scan = time_reps(reps, [&] {
    if (lsc::tok::find_invalid_utf8(text, nullptr) != std::string_view::npos) std::abort();
  });
  std::string decoded;
  const Stats dec = time_reps(reps, [&] { decoded = tok.decode(ids_records); });
  if (decoded != text)
    std::fprintf(stderr, "bench_tokenizer: warning: decode(encode(text)) != text\n");

  const double mb = double(text.size()) / 1e6;
  const std::string cpu = json_escape(cpu_model());
  auto line = [&](const char* bench, const char* mode, const Stats& st,
                  const std::vector<int32_t>& ids) {
    std::printf(
        "{\"bench\": \"%s\", \"impl\": \"logitscope\", \"mode\": \"%s\", \"median_s\": %.4f, "
        "\"p10_s\": %.4f, "
        "\"p90_s\": %.4f, \"mb_per_s\": %.1f, \"median_cpu_s\": %.4f, \"mb_per_cpu_s\": %.1f, "
        "\"ceiling_utf8_scan_mb_per_s\": %.0f, \"tokenizer\": \"%s\", "
        "\"text_bytes\": %zu, \"n_records\": %zu, \"n_tokens\": %zu, \"ids_fnv1a\": %u, "
        "\"threads\": 1, "
        "\"reps\": %d, \"load_s\": %.3f, \"commit\": \"%s\", \"compiler\": \"%s\", \"flags\": "
        "\"%s\", "
        "\"cpu\": \"%s\"}\n",
        bench, mode, st.median_s, st.p10_s, st.p90_s, mb / st.median_s, st.median_cpu_s,
        mb / st.median_cpu_s, mb / scan.median_s, json_escape(tokenizer).c_str(), text.size(),
        records.size(), ids.size(), fnv1a_ids(ids), reps, load_s, LSC_GIT_COMMIT, LSC_COMPILER,
        LSC_FLAGS, cpu.c_str());
  };
  if (text_mode) line("tokenizer_encode", "text", enc_text, ids_text);
  line("tokenizer_encode", "records", enc_records, ids_records);
  line("tokenizer_decode", "text", dec, ids_records);
  return 0;
}
