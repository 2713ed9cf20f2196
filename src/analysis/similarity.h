// Similarity of two models' hidden states over the same positions: linear CKA (centred kernel
// alignment, Kornblith et al. 2019) and the mean cosine similarity of matching rows. Both in
// double; X and Y are [n, d] row-major fp32 (row i of both = the same position).
#pragma once

#include <cstdint>

namespace lsc::analysis {

// Linear CKA = ‖Ycᵀ Xc‖²_F / (‖Xcᵀ Xc‖_F ‖Ycᵀ Yc‖_F), Xc, Yc = X, Y with column means removed.
// Computed in the Gram form (n × n kernels) when n ≤ d, else in the feature form (d × d); the
// two are equal in exact arithmetic. In [0, 1]; invariant to orthogonal transforms and isotropic
// scaling of either side; NaN when n < 3 (two positions, centred, are one direction: CKA would be
// 1 for any pair) or a side is constant over the positions (no variance).
double linear_cka(const float* x, const float* y, int64_t n, int64_t d);

// Mean over rows of cos(x_i, y_i); rows where either side is the zero vector are left out.
// NaN when no row counts.
double mean_cosine(const float* x, const float* y, int64_t n, int64_t d);

}  // namespace lsc::analysis
