// Divergences between two models' logits rows at one position (DESIGN §2): exact KL both ways,
// Jensen-Shannon (term by term from the log-ratio: kernels/js_shape.h), total variation. fp32
// logits in, double sums.
#pragma once

#include <span>

#include "analysis/position_metrics.h"

namespace lsc::analysis {

// Cross-model quantities at one position, from two rows over the same token ids (DESIGN §2).
// Rows of different lengths (padded vocabularies) are compared over the common ids, each
// renormalised there; the mass each model puts outside the common ids is reported.
struct PairSummary {
  double kl_ab = 0.0, kl_ba = 0.0;  // nats, exact over the vocabulary, ≥ 0
  double js_bits = 0.0;             // Jensen-Shannon divergence in bits, in [0, 1]
  double tv = 0.0;                  // total variation, in [0, 1]
  double extra_mass_a = 0.0, extra_mass_b = 0.0;  // probability on ids the other model lacks
};

void compare_rows(std::span<const float> a, std::span<const float> b, PairSummary* out);


// The same, reusing each row's log-partition and entropy from summarize_row (one exp per entry
// and model, one log per entry instead of recomputing both rows' statistics).
// Uses AVX-512 where the CPU has it (exp and log polynomials, relative error < 5e-7; sums in double).
void compare_rows(std::span<const float> a, std::span<const float> b, const RowSummary& sa, const RowSummary& sb,
                  PairSummary* out);
// The same through the portable loop only (libm exp/log); tests compare the two on one machine.
void compare_rows_portable(std::span<const float> a, std::span<const float> b, const RowSummary& sa,
                           const RowSummary& sb, PairSummary* out);

}  // namespace lsc::analysis
