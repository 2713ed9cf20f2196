// Kernels against double-precision references, for every ISA this CPU runs, on sizes that break
// vector code (0, 1, 7, 15, 16, 17, large) and on misaligned pointers.
#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/kernels.h"

namespace lsc::cpu {
namespace avx512 {
void expf_n(const float* x, int64_t n, float* out);  // attention_exact_avx512.cpp
}
namespace avx2 {
void expf_n(const float* x, int64_t n, float* out);  // attention_exact_avx2.cpp
}
namespace {

std::vector<float> randn(size_t n, uint32_t seed, float sd = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = d(g);
  return v;
}

TEST(Convert, F16ToF32IsExactForAll65536Values) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint32_t e = (h >> 10) & 31, m = h & 1023;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    const float got = f16_to_f32(static_cast<uint16_t>(h));
    if (e == 31) {
      EXPECT_TRUE(m ? std::isnan(got) : std::isinf(got)) << h;
      continue;
    }
    const double want = e == 0 ? sign * std::ldexp(double(m), -24) : sign * std::ldexp(1024.0 + m, int(e) - 25);
    ASSERT_EQ(double(got), want) << "f16 bits " << h;
  }
}

TEST(Convert, Bf16RoundTripAndRoundToNearestEven) {
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: ties to even → 1.0.
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f + 0x1p-16f), 0x3f81);
}

struct Case {
  int64_t t, n, k;
};

class MatmulIsa : public ::testing::TestWithParam<const char*> {};

TEST_P(MatmulIsa, MatchesDoubleReferenceWithinForwardErrorBound) {
  const CpuKernels* kern = cpu_kernels_for(GetParam());
  if (kern == nullptr) GTEST_SKIP() << "skipped: this CPU cannot run " << GetParam();
  const Case cases[] = {{0, 5, 7},  {1, 1, 1},   {1, 7, 15},   {7, 16, 16}, {15, 17, 17}, {16, 33, 31},
                        {5, 3, 0},  {65, 40, 100}, {130, 19, 257}};
  for (WType wt : {WType::F32, WType::BF16, WType::F16}) {
    for (const Case& c : cases) {
      // One extra element in front misaligns every pointer by 4 bytes.
      std::vector<float> x = randn(size_t(c.t * c.k) + 1, 1), wf = randn(size_t(c.n * c.k), 2, 0.2f),
                         bias = randn(size_t(c.n), 3);
      std::vector<uint16_t> w16(wf.size());
      for (size_t i = 0; i < wf.size(); ++i) {
        if (wt == WType::BF16) {
          w16[i] = f32_to_bf16(wf[i]);
          wf[i] = bf16_to_f32(w16[i]);
        } else if (wt == WType::F16) {
          // any bit pattern of a small normal value; compare against its exact decoding
          uint32_t b;
          std::memcpy(&b, &wf[i], 4);
          w16[i] = static_cast<uint16_t>(((b >> 16) & 0x8000) | 0x3000 | (b & 0x3ff));
          wf[i] = f16_to_f32(w16[i]);
        }
      }
      std::vector<float> out(size_t(c.t * c.n) + 1, -1.0f);
      MatmulArgs a;
      a.x = x.data() + 1;
      a.n_rows = c.t;
      a.w = {wt == WType::F32 ? static_cast<const void*>(wf.data()) : static_cast<const void*>(w16.data()), wt, c.n,
             c.k};
      a.bias = bias.data();
      a.out = out.data() + 1;
      kern->matmul(a);
      for (int64_t i = 0; i < c.t; ++i) {
        for (int64_t j = 0; j < c.n; ++j) {
          double ref = 0.0, abs_sum = 0.0;
          for (int64_t k = 0; k < c.k; ++k) {
            const double p = double(x[size_t(1 + i * c.k + k)]) * double(wf[size_t(j * c.k + k)]);
            ref += p;
            abs_sum += std::fabs(p);
          }
          ref += double(bias[size_t(j)]);
          // fp32 accumulation of K products + a bias: |error| ≤ (K+1)·u·(Σ|a_i·b_i| + |bias|), u = 2^-24.
          const double tol = double(c.k + 1) * 0x1p-24 * (abs_sum + std::fabs(double(bias[size_t(j)]))) + 1e-30;
          ASSERT_NEAR(double(out[size_t(1 + i * c.n + j)]), ref, tol)
              << GetParam() << " t=" << c.t << " n=" << c.n << " k=" << c.k << " at " << i << "," << j;
        }
      }
      EXPECT_EQ(out[0], -1.0f) << "wrote before the output";
    }
  }
}

// Every output of a product is one dot product in a fixed order whatever the tiling: the tiles'
// micro-kernels (and the AVX2 kernel's blocking of K, which keeps each output's accumulator
// across the blocks) give bitwise what the same kernel gives for that row and column alone (a 1×1
// product, computed outside any micro-tile). Shapes past the row tile (64), the driver's task of
// 256 rows, the weight block (16) and several K blocks with a tail.
TEST_P(MatmulIsa, EachOutputIsItsOwnDotProductBitForBit) {
  const CpuKernels* kern = cpu_kernels_for(GetParam());
  if (kern == nullptr) GTEST_SKIP() << "skipped: this CPU cannot run " << GetParam();
  const Case cases[] = {{70, 37, 901}, {9, 21, 4867}, {300, 18, 40}};
  for (const Case& c : cases) {
    const std::vector<float> x = randn(size_t(c.t * c.k), 5), wf = randn(size_t(c.n * c.k), 6, 0.2f);
    std::vector<uint16_t> w16(wf.size());
    for (size_t i = 0; i < wf.size(); ++i) w16[i] = f32_to_bf16(wf[i]);
    for (WType wt : {WType::F32, WType::BF16}) {
      const void* wd = wt == WType::F32 ? static_cast<const void*>(wf.data()) : static_cast<const void*>(w16.data());
      std::vector<float> out(size_t(c.t * c.n));
      MatmulArgs a;
      a.x = x.data();
      a.n_rows = c.t;
      a.w = {wd, wt, c.n, c.k};
      a.out = out.data();
      kern->matmul(a);
      for (int64_t i = 0; i < c.t; ++i) {
        for (int64_t j = 0; j < c.n; ++j) {
          float one = 0.0f;
          MatmulArgs b;
          b.x = x.data() + i * c.k;
          b.n_rows = 1;
          const size_t w_off = size_t(j * c.k) * (wt == WType::F32 ? 4 : 2);
          b.w = {static_cast<const char*>(wd) + w_off, wt, 1, c.k};
          b.out = &one;
          kern->matmul(b);
          ASSERT_EQ(std::memcmp(&one, &out[size_t(i * c.n + j)], 4), 0)
              << GetParam() << " t=" << c.t << " n=" << c.n << " k=" << c.k << " at " << i << "," << j << ": "
              << out[size_t(i * c.n + j)] << " in the tile, " << one << " alone";
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, MatmulIsa, ::testing::Values("scalar", "avx2", "avx512"));

TEST(RmsNorm, HandComputedRow) {
  // x = [3, 4]: mean(x²) = 12.5, 1/sqrt(12.5 + 0) = 0.28284..., w = [1, 2]
  const float x[2] = {3, 4}, w[2] = {1, 2};
  float out[2];
  rms_norm(x, w, 1, 2, 0.0f, out);
  EXPECT_NEAR(out[0], 3 / std::sqrt(12.5), 1e-6);
  EXPECT_NEAR(out[1], 2 * 4 / std::sqrt(12.5), 1e-6);
}

TEST(Rope, PairsHalfAcrossTheHeadNotAdjacent) {
  // head_dim 4: pairs (0,2) and (1,3). Rotate by 90° in pair 0 and 0° in pair 1.
  float x[4] = {1, 2, 3, 4};
  const float cos_t[2] = {0, 1}, sin_t[2] = {1, 0};
  apply_rope(x, 1, 1, 4, cos_t, sin_t);
  // x0' = x0·cos − x2·sin = −3 ; x2' = x2·cos + x0·sin = 1 ; pair (1,3) unchanged.
  EXPECT_FLOAT_EQ(x[0], -3);
  EXPECT_FLOAT_EQ(x[1], 2);
  EXPECT_FLOAT_EQ(x[2], 1);
  EXPECT_FLOAT_EQ(x[3], 4);
}

TEST(Attention, CausalSoftmaxWeightsByHand) {
  // One query head, one kv head, head_dim 2, T = 2, scale 1.
  // t=0 sees only key 0: out = v0. t=1: scores q1·k0 = 0, q1·k1 = ln 3 → weights 1/4, 3/4.
  const float ln3 = std::log(3.0f);
  const float q[4] = {0, 0, ln3, 0};
  const float k[4] = {0, 5, 1, 0};
  const float v[4] = {1, 2, 5, 6};
  float out[4];
  attention_causal(q, k, v, 2, 1, 1, 2, 1.0f, out);
  EXPECT_FLOAT_EQ(out[0], 1);
  EXPECT_FLOAT_EQ(out[1], 2);
  EXPECT_NEAR(out[2], 0.25 * 1 + 0.75 * 5, 1e-6);
  EXPECT_NEAR(out[3], 0.25 * 2 + 0.75 * 6, 1e-6);
}

TEST(Attention, GroupedQueryHeadsShareTheirKvHead) {
  // 4 query heads, 2 kv heads: heads 0,1 read kv 0 and heads 2,3 read kv 1. T = 1: out = v.
  std::vector<float> q(8, 0.3f), k(4, 0.1f), v = {1, 2, 3, 4}, out(8);
  attention_causal(q.data(), k.data(), v.data(), 1, 4, 2, 2, 1.0f, out.data());
  EXPECT_EQ(out, (std::vector<float>{1, 2, 1, 2, 3, 4, 3, 4}));
}

// Chunked prefill: queries [q_first, q_first + n_q) over the cached keys give the rows of the
// whole sequence's attention bit for bit, for the reference and the fast kernel (head sizes 64 and
// 128 take the grouped path of the fast kernel, 24 its other path).
TEST(Attention, QueryChunksOverCachedKeysEqualTheWholeSequence) {
  struct Shape {
    int64_t t, h, hkv, d;
  };
  for (const Shape sh : {Shape{70, 4, 2, 64}, Shape{53, 14, 2, 128}, Shape{40, 3, 1, 24}}) {
    std::mt19937 rng(11);
    std::normal_distribution<float> nd;
    std::vector<float> q(size_t(sh.t * sh.h * sh.d)), k(size_t(sh.t * sh.hkv * sh.d)), v(k.size());
    for (auto* x : {&q, &k, &v}) {
      for (float& e : *x) e = nd(rng);
    }
    const float scale = 1.0f / std::sqrt(float(sh.d));
    using Fn = void (*)(const float*, const float*, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, float,
                        float*);
    for (const Fn fn : {Fn(attention_causal_rows), Fn(attention_causal_fast_rows)}) {
      std::vector<float> whole(q.size()), chunked(q.size());
      fn(q.data(), k.data(), v.data(), sh.t, 0, sh.h, sh.hkv, sh.d, scale, whole.data());
      const int64_t qs = sh.h * sh.d;
      for (int64_t r0 = 0; r0 < sh.t; r0 += 17) {
        const int64_t n = std::min<int64_t>(17, sh.t - r0);
        fn(q.data() + r0 * qs, k.data(), v.data(), n, r0, sh.h, sh.hkv, sh.d, scale, chunked.data() + r0 * qs);
      }
      EXPECT_EQ(0, std::memcmp(whole.data(), chunked.data(), whole.size() * 4)) << "d=" << sh.d;
    }
  }
}

// The fp32 precision's attention of every ISA is the portable reference bit for bit: head sizes
// with and without a tail of 16 lanes, query chunks after cached keys (q_first > 0), grouped heads,
// key counts on and off a multiple of 16. Fails for a kernel that fuses a product into its sum
// (one rounding instead of two) or sums a score in another order.
TEST(Attention, EveryIsaRepeatsTheReferenceBitForBit) {
  struct Shape {
    int64_t t, q_first, h, hkv, d;
  };
  for (const char* isa : {"scalar", "avx2", "avx512"}) {
    const CpuKernels* kern = cpu_kernels_for(isa);
    if (kern == nullptr) continue;
    for (const Shape sh : {Shape{70, 0, 4, 2, 64}, Shape{53, 31, 14, 2, 128}, Shape{40, 9, 3, 1, 24},
                           Shape{33, 0, 2, 2, 8}, Shape{17, 47, 2, 1, 100}}) {
      std::mt19937 rng(23);
      std::normal_distribution<float> nd(0.0f, 2.0f);
      const int64_t n_keys = sh.q_first + sh.t;
      std::vector<float> q(size_t(sh.t * sh.h * sh.d)), k(size_t(n_keys * sh.hkv * sh.d)), v(k.size());
      for (auto* x : {&q, &k, &v}) {
        for (float& e : *x) e = nd(rng);
      }
      const float scale = 1.0f / std::sqrt(float(sh.d));
      std::vector<float> ref(q.size()), got(q.size());
      attention_causal_rows(q.data(), k.data(), v.data(), sh.t, sh.q_first, sh.h, sh.hkv, sh.d, scale, ref.data());
      kern->attention(q.data(), k.data(), v.data(), sh.t, sh.q_first, sh.h, sh.hkv, sh.d, scale, got.data());
      for (size_t i = 0; i < ref.size(); ++i) {
        ASSERT_EQ(0, std::memcmp(&ref[i], &got[i], 4))
            << isa << " t=" << sh.t << " q_first=" << sh.q_first << " d=" << sh.d << " at " << i << ": " << got[i]
            << ", reference " << ref[i];
      }
    }
  }
}

// The AVX-512 and AVX2 vector exp (the fp32 attention's and SwiGLU's) equals libm's expf (which
// the reference calls) on every float in [−0x1.9fe368p6, 0x1.62e42ep6] — all 2.2e9 of them, where
// the results are neither 0 nor inf — plus the floats just past both cuts, −inf, +inf and NaN.
// Fails for a changed table entry, coefficient or rounding (the r = x·32/ln2 − k not fused: one
// float in 2^31).
class VectorExp : public ::testing::TestWithParam<const char*> {};

TEST_P(VectorExp, IsLibmExpfOnEveryFloatOfItsRange) {
  if (cpu_kernels_for(GetParam()) == nullptr) GTEST_SKIP() << "skipped: this CPU cannot run " << GetParam();
  auto* const expf_n = std::string(GetParam()) == "avx512" ? &avx512::expf_n : &avx2::expf_n;
  // Bit patterns: -0 .. −0x1.9fe36ap6 (just past the underflow cut), then +0 .. 0x1.62e430p6 (just
  // past the overflow cut), as one index range.
  const uint32_t neg_first = 0x80000000u, neg_last = 0xc2cff1b5u, pos_last = 0x42b17218u;
  const int64_t n_neg = int64_t{neg_last} - neg_first + 1, n_all = n_neg + pos_last + 1, block = 1 << 16;
  int64_t mismatches = 0;
  uint32_t example = 0;
#pragma omp parallel
  {
    std::vector<float> x(block), got(block);
#pragma omp for schedule(dynamic, 16) reduction(+ : mismatches)
    for (int64_t b0 = 0; b0 < n_all; b0 += block) {
      const int64_t n = std::min<int64_t>(block, n_all - b0);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t j = b0 + i;
        const uint32_t bits = j < n_neg ? neg_first + static_cast<uint32_t>(j) : static_cast<uint32_t>(j - n_neg);
        std::memcpy(&x[size_t(i)], &bits, 4);
      }
      expf_n(x.data(), n, got.data());
      for (int64_t i = 0; i < n; ++i) {
        const float ref = std::exp(x[size_t(i)]);
        if (std::memcmp(&ref, &got[size_t(i)], 4) != 0) {
          ++mismatches;
#pragma omp critical
          std::memcpy(&example, &x[size_t(i)], 4);
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0) << GetParam() << ", e.g. at bits " << std::hex << example;
  const float specials[] = {-0.0f, -104.0f, -150.0f, -3e38f, -INFINITY, NAN, -NAN, 88.8f, 1e30f, INFINITY};
  constexpr int kSpecials = sizeof(specials) / sizeof(specials[0]);
  float got[kSpecials];
  expf_n(specials, kSpecials, got);
  for (int i = 0; i < kSpecials; ++i) {
    const float ref = std::exp(specials[i]);
    EXPECT_EQ(0, std::memcmp(&ref, &got[i], 4)) << GetParam() << " x=" << specials[i] << ": " << got[i] << ", libm " << ref;
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, VectorExp, ::testing::Values("avx2", "avx512"));

TEST(Swiglu, SiluTimesUp) {
  const float g[3] = {0, 1, -2}, u[3] = {5, 2, 3};
  float out[3];
  swiglu(g, u, 3, out);
  EXPECT_FLOAT_EQ(out[0], 0);
  EXPECT_NEAR(out[1], 2 / (1 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(out[2], 3 * -2 / (1 + std::exp(2.0)), 1e-6);
}

// Each ISA's fp32 SwiGLU repeats the reference bit for bit: gates over the whole range of e^−g
// (underflow, overflow, ±0, ±inf, NaN) and a length that leaves a masked tail, in place too
// (out = gate, as the pass calls it).
TEST(Swiglu, EveryIsaRepeatsTheReferenceBitForBit) {
  std::mt19937 rng(31);
  std::normal_distribution<float> nd(0.0f, 6.0f);
  const int64_t n = 4099;
  std::vector<float> g(n), u(n);
  for (int64_t i = 0; i < n; ++i) {
    g[size_t(i)] = nd(rng) * (i % 7 == 0 ? 20.0f : 1.0f);
    u[size_t(i)] = nd(rng);
  }
  const float specials[] = {0.0f, -0.0f, 88.0f, -88.8f, 89.0f, -104.0f, 120.0f, INFINITY, -INFINITY, NAN, 1e-40f};
  for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); ++i) g[i * 5] = specials[i];
  std::vector<float> ref(n);
  swiglu(g.data(), u.data(), n, ref.data());
  for (const char* isa : {"scalar", "avx2", "avx512"}) {
    const CpuKernels* kern = cpu_kernels_for(isa);
    if (kern == nullptr) continue;
    std::vector<float> got(g);
    kern->swiglu(got.data(), u.data(), n, got.data());
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(0, std::memcmp(&ref[size_t(i)], &got[size_t(i)], 4))
          << isa << " at " << i << ": g=" << g[size_t(i)] << " u=" << u[size_t(i)] << ": " << got[size_t(i)]
          << ", reference " << ref[size_t(i)];
    }
  }
}

}  // namespace
}  // namespace lsc::cpu
