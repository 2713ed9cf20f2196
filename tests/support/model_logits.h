// Helpers of the model tests: every logits row of one pass, and reproducible token ids.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model.h"

namespace lsc::test {

// The logits of a pass over ids at `precision` ([ids.size(), vocab]), the LM head in chunks of
// `chunk` rows.
inline std::vector<float> all_logits(const model::Model& m, const std::vector<int32_t>& ids,
                                     model::Precision precision = model::Precision::FP32, int64_t chunk = 64) {
  std::vector<float> out;
  model::ForwardOptions opt;
  opt.chunk_rows = chunk;
  opt.precision = precision;
  m.forward(ids, [&](const model::LogitsChunk& c) { out.insert(out.end(), c.logits, c.logits + c.n_rows * c.vocab); },
            opt);
  return out;
}

// n ids spread over the vocabulary with a fixed stride (the same on every run).
inline std::vector<int32_t> some_ids(int n, int vocab) {
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back((i * 7919 + 13) % vocab);
  return ids;
}

}  // namespace lsc::test
