// JSONL records built from the texts of the real-vocabulary fixture model (whose reference
// log-probs come from transformers), for CLI tests of `run` and `merge`.
#pragma once

#include <algorithm>
#include <string>

#include "cli/run_cli.h"
#include "io/json.h"

namespace lsc::test {

inline const std::string kModel = fixture("models/qwen2-realvocab-bf16");

inline io::Json texts_json() {
  return io::parse_json(slurp(fixture("expected/qwen2-realvocab-bf16/texts.json")), "texts.json");
}

// A record whose "{query}{answer}" text is the fixture text, split at byte `split` (moved back to
// the start of a UTF-8 character).
inline std::string record_line(const std::string& id, const std::string& text, size_t split, int level, bool correct) {
  split = std::min(split, text.size() - 1);
  while (split > 0 && (static_cast<unsigned char>(text[split]) & 0xc0) == 0x80) --split;
  io::Json j;
  j["id"] = id;
  j["query"] = text.substr(0, split);
  j["answer"] = text.substr(split);
  j["level"] = level;
  j["is_correct"] = correct;
  return j.dump() + "\n";
}

// n records over the fixture texts, with varied splits, levels and correctness.
inline std::string many_records(int n) {
  const io::Json tj = texts_json();
  std::string data;
  for (int i = 0; i < n; ++i) {
    const auto& t = tj.at("texts")[size_t(i % 4)];
    data += record_line("r" + std::to_string(i), t.at("text").get<std::string>(), 20 + size_t(i), 1 + i % 5, i % 3 != 0);
  }
  return data;
}

}  // namespace lsc::test
