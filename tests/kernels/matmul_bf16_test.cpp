// The oneDNN bf16 matmul against a double-precision reference on bf16-rounded inputs, on sizes
// that break vector code and tiling (0, 1, 7, 15, 16, 17, tile edges, large), misaligned pointers,
// with a bias; the vectorised fp32→bf16 conversion against the scalar one; and bitwise equality of
// the bf16 matmul across thread counts; each on plain (mapped) and packed weights. Skips visibly on CPUs without bf16 hardware.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "kernels/cpu/kernels.h"

namespace lsc::cpu {
namespace {

bool have_bf16() { return std::strcmp(bf16_isa(), "none") != 0; }

std::vector<float> randn(size_t n, uint32_t seed, float sd = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = d(g);
  return v;
}

TEST(ConvertBf16, VectorConversionEqualsScalarRoundToNearestEven) {
  // Every rounding case: ties (even and odd), just above/below, NaN, ±Inf, ±0, subnormals, max.
  std::vector<float> x = randn(1000, 5);
  const uint32_t special[] = {0x3f808000u, 0x3f818000u, 0x3f808001u, 0x3f807fffu, 0x7fc00000u,
                              0xffc00001u, 0x7f800001u, 0x7f800000u, 0xff800000u, 0x00000000u,
                              0x80000000u, 0x00000001u, 0x807fffffu, 0x7f7fffffu, 0x7f7f8000u};
  for (uint32_t b : special) {
    float f;
    std::memcpy(&f, &b, 4);
    x.push_back(f);
  }
  for (int off = 0; off < 3; ++off) {  // misaligned starts and tails of every length mod 16
    std::vector<uint16_t> got(x.size());
    f32_to_bf16_rows(x.data() + off, got.data(), static_cast<int64_t>(x.size()) - off);
    for (size_t i = 0; i + off < x.size(); ++i)
      ASSERT_EQ(got[i], f32_to_bf16(x[i + off])) << "element " << i + off;
  }
}

TEST(MatmulBf16, MatchesDoubleReferenceOnBf16RoundedInputs) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  std::printf("  bf16 matmul ISA: %s\n", bf16_isa());
  struct Case {
    int64_t t, n, k;
  };
  // n = 1100 → column blocks of 192 and a tail of 140; t = 600 → a 512-row tile and a tail of 88.
  const Case cases[] = {{0, 5, 7},      {1, 1, 1},       {1, 7, 15},    {7, 16, 16},
                        {15, 17, 17},   {16, 33, 31},    {5, 3, 0},     {65, 40, 100},
                        {130, 19, 257}, {600, 1100, 96}, {3, 1100, 900}};
  for (const Case& c : cases) for (bool packed : {false, true}) {
    if (packed && (c.n == 0 || c.k == 0)) continue;  // nothing to pack
    std::vector<float> x = randn(size_t(c.t * c.k) + 1, 11),
                       wf = randn(size_t(c.n * c.k) + 1, 12, 0.2f), bias = randn(size_t(c.n), 13);
    std::vector<uint16_t> w16(wf.size());  // w16[1..] is the matrix: 2-byte misaligned
    for (size_t i = 0; i < wf.size(); ++i) {
      w16[i] = f32_to_bf16(wf[i]);
      wf[i] = bf16_to_f32(w16[i]);
    }
    std::vector<float> out(size_t(c.t * c.n) + 1, -1.0f);
    MatmulArgs a;
    a.x = x.data() + 1;
    a.n_rows = c.t;
    a.w = {w16.data() + 1, WType::BF16, c.n, c.k};
    a.bias = bias.data();
    a.out = out.data() + 1;
    const auto pk = packed ? pack_bf16(a.w) : nullptr;
    a.w.packed = pk.get();
    matmul_bf16(a);
    for (int64_t i = 0; i < c.t; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        double ref = 0.0, abs_sum = 0.0;
        for (int64_t k = 0; k < c.k; ++k) {
          // The kernel multiplies bf16(x) by the bf16 weight: the reference does too.
          const double xb = double(bf16_to_f32(f32_to_bf16(x[size_t(1 + i * c.k + k)])));
          const double p = xb * double(wf[size_t(1 + j * c.k + k)]);
          ref += p;
          abs_sum += std::fabs(p);
        }
        ref += double(bias[size_t(j)]);
        // Each bf16·bf16 product is exact in fp32 (8 + 8 significant bits ≤ 24). What remains is
        // fp32 accumulation of K products, which vdpbf16ps/AMX may round twice per pair (product
        // sum, then the add): |error| ≤ 2·(K+1)·u·(Σ|p_i| + |bias|), u = 2^-24. Denormal products
        // flushed to zero add at most K·2^-126.
        const double tol =
            2.0 * double(c.k + 1) * 0x1p-24 * (abs_sum + std::fabs(double(bias[size_t(j)]))) +
            double(c.k) * 0x1p-126;
        ASSERT_NEAR(double(out[size_t(1 + i * c.n + j)]), ref, tol)
            << "t=" << c.t << " n=" << c.n << " k=" << c.k << " packed=" << packed << " at " << i << "," << j;
      }
    }
    EXPECT_EQ(out[0], -1.0f) << "wrote before the output";
  }
}

TEST(MatmulBf16, BitwiseIdenticalForAnyThreadCount) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  const int64_t t = 700, n = 2000, k = 320;
  std::vector<float> x = randn(size_t(t * k), 21), wf = randn(size_t(n * k), 22, 0.1f);
  std::vector<uint16_t> w16(wf.size());
  for (size_t i = 0; i < wf.size(); ++i) w16[i] = f32_to_bf16(wf[i]);
  const auto pk = pack_bf16({w16.data(), WType::BF16, n, k});
  auto run = [&](int threads, bool packed) {
    omp_set_num_threads(threads);
    std::vector<float> out(size_t(t * n));
    MatmulArgs a;
    a.x = x.data();
    a.n_rows = t;
    a.w = {w16.data(), WType::BF16, n, k};
    if (packed) a.w.packed = pk.get();
    a.out = out.data();
    matmul_bf16(a);
    return out;
  };
  // 16 blocks of 128 columns × 700 rows: up to 3 threads run tasks of 512 rows; 16 threads cut
  // them to 128 rows and 40 threads to 64 (enough tasks for every thread: task_rows), which must
  // change nothing.
  for (bool packed : {false, true}) {
    const auto one = run(1, packed);
    for (int threads : {2, 3, 16, 40}) {
      const auto other = run(threads, packed);
      EXPECT_EQ(0, std::memcmp(one.data(), other.data(), one.size() * 4)) << "packed=" << packed << ", "
                                                                           << threads << " threads";
    }
    omp_set_num_threads(omp_get_num_procs());
  }
}

// Accumulate adds exactly the product that Store writes (same tiles), bias included.
TEST(MatmulBf16, AccumulateAddsExactlyWhatStoreWrites) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  for (bool packed : {false, true}) {
    const int64_t t = 530, n = 1100, k = 96;  // row and column tails
    std::vector<float> x = randn(size_t(t * k), 31), wf = randn(size_t(n * k), 32, 0.2f),
                       bias = randn(size_t(n), 33), base = randn(size_t(t * n), 34);
    std::vector<uint16_t> w16(wf.size());
    for (size_t i = 0; i < wf.size(); ++i) w16[i] = f32_to_bf16(wf[i]);
    const auto pk = pack_bf16({w16.data(), WType::BF16, n, k});
    std::vector<float> stored(size_t(t * n)), accumulated = base;
    MatmulArgs a{x.data(), t, {w16.data(), WType::BF16, n, k}, bias.data(), stored.data()};
    if (packed) a.w.packed = pk.get();
    matmul_bf16(a);
    a.out = accumulated.data();
    a.epilogue = Epilogue::Accumulate;
    matmul_bf16(a);
    for (size_t i = 0; i < stored.size(); ++i)
      ASSERT_EQ(accumulated[i], base[i] + stored[i]) << "packed=" << packed << " at " << i;
  }
}

TEST(MatmulBf16, StoreStreamingWritesWhatStoreWrites) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  const int64_t t = 70, n = 1100, k = 96;  // 1100 columns: blocks start off 64-byte lines
  std::vector<float> x = randn(size_t(t * k), 41), wf = randn(size_t(n * k), 42, 0.2f),
                     bias = randn(size_t(n), 43);
  std::vector<uint16_t> w16(wf.size());
  for (size_t i = 0; i < wf.size(); ++i) w16[i] = f32_to_bf16(wf[i]);
  const auto pk = pack_bf16({w16.data(), WType::BF16, n, k});
  for (bool with_bias : {false, true}) {
    for (int64_t shift : {0, 1, 5}) {  // destination 4·shift bytes past an allocation's start
      std::vector<float> stored(size_t(t * n)), streamed(size_t(t * n + shift), -1.0f);
      MatmulArgs a{x.data(), t, {w16.data(), WType::BF16, n, k, pk.get()},
                   with_bias ? bias.data() : nullptr, stored.data()};
      matmul_bf16(a);
      a.out = streamed.data() + shift;
      a.epilogue = Epilogue::StoreStreaming;
      matmul_bf16(a);
      EXPECT_EQ(0, std::memcmp(stored.data(), streamed.data() + shift, stored.size() * 4))
          << "bias=" << with_bias << " shift=" << shift;
      for (int64_t i = 0; i < shift; ++i) EXPECT_EQ(streamed[size_t(i)], -1.0f) << "wrote before out";
    }
  }
}

// What batching several texts into one pass would rest on: with packed weights, a row's result
// does not depend on which rows share its call (offset and count), so rows of one text come out
// the same alone or batched with others. Measured true for oneDNN 2.6's brgemm here; if a future
// oneDNN breaks it, this test says so before batching silently changes results.
TEST(MatmulBf16, PackedRowsDoNotDependOnTheRowsAroundThem) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  const int64_t t = 600, n = 1100, k = 320;
  std::vector<float> x = randn(size_t(t * k), 51), wf = randn(size_t(n * k), 52, 0.1f);
  std::vector<uint16_t> w16(wf.size());
  for (size_t i = 0; i < wf.size(); ++i) w16[i] = f32_to_bf16(wf[i]);
  const auto pk = pack_bf16({w16.data(), WType::BF16, n, k});
  std::vector<float> full(size_t(t * n));
  MatmulArgs a{x.data(), t, {w16.data(), WType::BF16, n, k, pk.get()}, nullptr, full.data()};
  matmul_bf16(a);
  for (int64_t off : {0, 5, 100, 511, 512}) {
    for (int64_t m : {1, 3, 17, 64, 88}) {
      std::vector<float> part(size_t(m * n));
      MatmulArgs b{x.data() + off * k, m, a.w, nullptr, part.data()};
      matmul_bf16(b);
      EXPECT_EQ(0, std::memcmp(part.data(), full.data() + off * n, part.size() * 4)) << "rows " << off << "+" << m;
    }
  }
}

// A gate/up pair for the fused epilogues: x [t, k], gate and up [n, k] in bf16 (random, seeds
// from `seed`), their biases, and the pair packed with pack_bf16_pair.
struct GateUp {
  int64_t t, n, k;
  std::vector<float> x, bg, bu;
  std::vector<uint16_t> g16, u16;
  WeightMatrix gw, uw;
  std::shared_ptr<const PackedBf16> pair;
  GateUp(int64_t t_, int64_t n_, int64_t k_, uint32_t seed) : t(t_), n(n_), k(k_) {
    x = randn(size_t(t * k), seed);
    const std::vector<float> gf = randn(size_t(n * k), seed + 1, 0.2f), uf = randn(size_t(n * k), seed + 2, 0.2f);
    bg = randn(size_t(n), seed + 3);
    bu = randn(size_t(n), seed + 4);
    for (size_t i = 0; i < gf.size(); ++i) {
      g16.push_back(f32_to_bf16(gf[i]));
      u16.push_back(f32_to_bf16(uf[i]));
    }
    gw = {g16.data(), WType::BF16, n, k};
    uw = {u16.data(), WType::BF16, n, k};
    pair = pack_bf16_pair(gw, uw);
  }
};

// The fused gate/up pair with SwiGLU and bf16 output against the unfused steps: the product of
// each half within the accumulation bound of MatchesDoubleReference (the pair is another oneDNN
// call shape), then silu·up and the bf16 rounding as swiglu_fast and f32_to_bf16 do them.
TEST(MatmulBf16, FusedGateUpSwigluMatchesTheUnfusedSteps) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  const GateUp c(520, 1100, 200, 41);
  const int64_t t = c.t, n = c.n, k = c.k;
  const std::vector<float>& x = c.x;
  const std::vector<float>& bg = c.bg, &bu = c.bu;
  const WeightMatrix &gw = c.gw, &uw = c.uw;
  const auto& pair = c.pair;
  for (bool with_bias : {false, true}) {
    std::vector<uint16_t> fused(size_t(t * n));
    MatmulArgs a{x.data(), t, {nullptr, WType::BF16, 2 * n, k, pair.get()}, with_bias ? bg.data() : nullptr, nullptr};
    a.epilogue = Epilogue::SwigluBf16;
    a.bias_up = with_bias ? bu.data() : nullptr;
    a.out16 = fused.data();
    omp_set_num_threads(1);
    matmul_bf16(a);
    std::vector<uint16_t> fused3(fused.size());
    a.out16 = fused3.data();
    omp_set_num_threads(3);
    matmul_bf16(a);
    omp_set_num_threads(omp_get_num_procs());
    EXPECT_EQ(fused, fused3) << "1 vs 3 threads";
    // Unfused: each half separately (packed alone), then swiglu_fast.
    std::vector<float> g(size_t(t * n)), u(size_t(t * n)), act(size_t(t * n));
    const auto pg = pack_bf16(gw), pu = pack_bf16(uw);
    MatmulArgs ag{x.data(), t, gw, with_bias ? bg.data() : nullptr, g.data()}, au = ag;
    ag.w.packed = pg.get();
    au.w = uw;
    au.w.packed = pu.get();
    au.bias = with_bias ? bu.data() : nullptr;
    au.out = u.data();
    matmul_bf16(ag);
    matmul_bf16(au);
    swiglu_fast(g.data(), u.data(), t * n, act.data());
    int64_t differ = 0;
    for (size_t i = 0; i < act.size(); ++i) {
      const float want = bf16_to_f32(f32_to_bf16(act[i])), got = bf16_to_f32(fused[i]);
      // Equal, or one bf16 step apart where the two oneDNN call shapes rounded g or u differently.
      if (got != want) {
        ++differ;
        ASSERT_NEAR(double(got), double(want), std::fabs(double(want)) * 0x1p-7 + 1e-6) << "bias=" << with_bias << " at " << i;
      }
    }
    std::printf("  fused vs unfused bf16 activations (bias=%d): %lld of %zu differ by one bf16 step\n",
                int(with_bias), static_cast<long long>(differ), act.size());
  }
}

// split_bf16_rows: the parts sum to x within 2^-8 of each part's remainder, the vector split
// equals the scalar definition (the header's), and a non-finite first part leaves zeros.
TEST(SplitBf16, PartsAreTheRoundedRemaindersAndSumToX) {
  std::vector<float> x = randn(1003, 7);
  for (float f : {0.0f, -0.0f, 1e-40f, 3.0e38f, INFINITY, -INFINITY, NAN, 0x1.fffffep127f}) x.push_back(f);
  const int64_t n = static_cast<int64_t>(x.size());
  for (int parts = 1; parts <= 3; ++parts) {
    std::vector<uint16_t> p0(x.size()), p1(x.size()), p2(x.size());
    uint16_t* const out[3] = {p0.data(), p1.data(), p2.data()};
    split_bf16_rows(x.data(), n, parts, out);
    for (int64_t i = 0; i < n; ++i) {
      const float xi = x[size_t(i)];
      float r = xi;
      const uint16_t want0 = f32_to_bf16(r);
      ASSERT_EQ(p0[size_t(i)], want0) << "part 0 of element " << i;
      const bool finite = std::isfinite(bf16_to_f32(want0));
      r = finite ? r - bf16_to_f32(want0) : 0.0f;
      if (parts >= 2) {
        ASSERT_EQ(p1[size_t(i)], f32_to_bf16(r)) << "part 1 of element " << i;
        r = finite ? r - bf16_to_f32(p1[size_t(i)]) : 0.0f;
      }
      if (parts == 3) {
        ASSERT_EQ(p2[size_t(i)], f32_to_bf16(r)) << "part 2 of element " << i;
      }
      if (!finite || !std::isfinite(xi)) continue;
      double sum = 0.0;
      for (int q = 0; q < parts; ++q) sum += double(bf16_to_f32(out[q][i]));
      // Each part rounds the remainder to 8 significant bits (relative error ≤ 2^-8), and 3 parts
      // hold all 24 bits of an fp32 number: its exact value (above bf16's subnormal range).
      if (parts == 3 && std::fabs(xi) > 1e-30f) {
        EXPECT_EQ(sum, double(xi)) << "3 parts of element " << i << " = " << xi;
      }
      EXPECT_LE(std::fabs(sum - double(xi)), std::ldexp(std::fabs(double(xi)), -8 * parts) + 1e-38)
          << parts << " parts of element " << i << " = " << xi;
    }
  }
}

// Split-bf16 products (x_parts 2 and 3) against a double reference on the fp32 x itself: 3 parts
// are as accurate as fp32 accumulation; the results do not depend on the thread count or on the
// rows around a row (the zero-padded last slice included).
TEST(MatmulBf16, SplitBf16IsFp32GradeAndRowAndThreadInvariant) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  const int64_t t = 130, n = 300, k = 700;
  std::vector<float> x = randn(size_t(t * k), 51), wf = randn(size_t(n * k), 52, 0.2f), bias = randn(size_t(n), 53);
  std::vector<uint16_t> w16(wf.size());
  for (size_t i = 0; i < wf.size(); ++i) {
    w16[i] = f32_to_bf16(wf[i]);
    wf[i] = bf16_to_f32(w16[i]);
  }
  const auto pk = pack_bf16({w16.data(), WType::BF16, n, k});
  auto run = [&](int parts, int threads, int64_t row0, int64_t rows) {
    omp_set_num_threads(threads);
    std::vector<float> out(size_t(rows * n));
    MatmulArgs a{x.data() + row0 * k, rows, {w16.data(), WType::BF16, n, k, pk.get()}, bias.data(), out.data()};
    a.x_parts = parts;
    matmul_bf16(a);
    omp_set_num_threads(omp_get_num_procs());
    return out;
  };
  double worst[4] = {0, 0, 0, 0};  // max |error| / (K·2^-24·Σ|x·w|) per part count
  for (int parts = 1; parts <= 3; ++parts) {
    const auto out = run(parts, 2, 0, t);
    for (int64_t i = 0; i < t; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double ref = double(bias[size_t(j)]), abs_sum = std::fabs(ref);
        for (int64_t q = 0; q < k; ++q) {
          const double p = double(x[size_t(i * k + q)]) * double(wf[size_t(j * k + q)]);
          ref += p;
          abs_sum += std::fabs(p);
        }
        const double err = std::fabs(double(out[size_t(i * n + j)]) - ref) / (double(k) * 0x1p-24 * abs_sum);
        worst[parts] = std::max(worst[parts], err);
      }
    }
    if (parts > 1) {
      EXPECT_EQ(run(parts, 1, 0, t), out) << parts << " parts: 1 vs 2 threads";
      EXPECT_EQ(run(parts, 3, 0, t), out) << parts << " parts: 3 vs 2 threads";
      // Rows 64..129 alone (their last slice padded) are the same rows of the 130-row call.
      const auto tail = run(parts, 2, 64, t - 64);
      EXPECT_EQ(0, std::memcmp(tail.data(), out.data() + 64 * n, tail.size() * 4)) << parts << " parts: rows";
    }
  }
  std::printf("  max error / (K·2^-24·Σ|x·w|): 1 part %.3g, 2 parts %.3g, 3 parts %.3g\n", worst[1], worst[2],
              worst[3]);
  // 3 parts are x exactly, so the products are exact and only the fp32 accumulation of the three
  // partial sums rounds: within 2·(K+1)·u·Σ|p| (the bound above). 2 parts leave up to 2^-16 of
  // each x, 1 part (bf16 x) up to 2^-8.
  EXPECT_LE(worst[3], 2.0 * double(k + 1) / double(k));
  EXPECT_LT(worst[3], worst[2]);
  EXPECT_LT(worst[2], worst[1]);
}

// Epilogue::Swiglu on a gate/up pair with split-bf16 = swiglu_fast() of the separately computed gate
// and up (to fp32 rounding: the pair and the single matrices are different oneDNN call shapes).
TEST(MatmulBf16, SplitSwigluEpilogueMatchesTheUnfusedSteps) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  const GateUp c(100, 1100, 200, 61);
  const int64_t t = c.t, n = c.n, k = c.k;
  const std::vector<float>& x = c.x;
  const std::vector<float>& bg = c.bg, &bu = c.bu;
  const WeightMatrix &gw = c.gw, &uw = c.uw;
  const auto& pair = c.pair;
  std::vector<float> fused(size_t(t * n)), g(size_t(t * n)), u(size_t(t * n)), act(size_t(t * n));
  MatmulArgs a{x.data(), t, {nullptr, WType::BF16, 2 * n, k, pair.get()}, bg.data(), fused.data()};
  a.epilogue = Epilogue::Swiglu;
  a.bias_up = bu.data();
  a.x_parts = 3;
  matmul_bf16(a);
  MatmulArgs ag{x.data(), t, gw, bg.data(), g.data()}, au{x.data(), t, uw, bu.data(), u.data()};
  ag.x_parts = au.x_parts = 3;
  matmul_bf16(ag);
  matmul_bf16(au);
  swiglu_fast(g.data(), u.data(), t * n, act.data());
  for (size_t i = 0; i < act.size(); ++i) {
    ASSERT_NEAR(fused[i], act[i], 1e-5 * (1.0 + std::fabs(double(act[i])))) << "at " << i;
  }
}

}  // namespace
}  // namespace lsc::cpu

namespace lsc::cpu {
namespace {

TEST(AttentionFast, MatchesReferenceAttentionAndIsThreadCountInvariant) {
  struct Case {
    int64_t t, h, hkv, d;
  };
  const Case cases[] = {
      {1, 2, 1, 16},    {7, 4, 2, 64},    {17, 2, 2, 24},  {100, 14, 2, 64},
      {260, 4, 1, 128}, {33, 28, 4, 128}, {40, 20, 2, 64}, {35, 9, 1, 64}};  // groups 1-10
  for (const Case& c : cases) {
    std::mt19937 g(static_cast<uint32_t>(c.t));
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> q(size_t(c.t * c.h * c.d)), k(size_t(c.t * c.hkv * c.d)), v(k.size());
    for (auto* a : {&q, &k, &v}) {
      for (float& x : *a) x = nd(g);
    }
    const float scale = 1.0f / std::sqrt(float(c.d));
    std::vector<float> ref(q.size()), got(q.size()), got3(q.size());
    attention_causal(q.data(), k.data(), v.data(), c.t, c.h, c.hkv, c.d, scale, ref.data());
    omp_set_num_threads(1);
    attention_causal_fast(q.data(), k.data(), v.data(), c.t, c.h, c.hkv, c.d, scale, got.data());
    omp_set_num_threads(3);
    attention_causal_fast(q.data(), k.data(), v.data(), c.t, c.h, c.hkv, c.d, scale, got3.data());
    omp_set_num_threads(omp_get_num_procs());
    EXPECT_EQ(0, std::memcmp(got.data(), got3.data(), got.size() * 4))
        << "1 vs 3 threads, t=" << c.t;
    for (size_t i = 0; i < ref.size(); ++i) {
      // Outputs are convex combinations of v (|v| ≲ 4): score rounding (d-term fp32 sums,
      // ~d·u·|q||k| ≈ 1e-5 on scores) and exp's 2e-7 relative error move weights by ~1e-5 relative:
      // 1e-4 absolute.
      ASSERT_NEAR(got[i], ref[i], 1e-4) << "t=" << c.t << " d=" << c.d << " at " << i;
    }
  }
}

}  // namespace
}  // namespace lsc::cpu

namespace lsc::cpu {
namespace avx512 {
void attention_block_rows(const float* s, int64_t n_rows, int64_t n, int64_t valid0, int64_t period, float scale,
                          float* m, double* l, uint16_t* p16, float* alpha);
}  // namespace avx512
namespace {

// The online softmax step of the bf16 attention on its own: p = bf16(e^{scale·(s − max)}) within
// one bf16 step of the double value, masked keys exactly 0, l the double sum of the bf16 values,
// alpha exactly 1 where the running max did not move and e^{scale·(m_old − m_new)} where it did,
// and each row's results the same whether it runs alone or with others (4-row groups and a tail;
// in step 1 the first group has every key valid and runs without lane masks, a lone row with them).
TEST(AttentionBf16, BlockSoftmaxStepMatchesItsDefinition) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  constexpr int64_t kRows = 7, kN = 128, kPeriod = 4;
  const float scale = 0.125f;
  std::vector<float> m(kRows, -INFINITY), alpha(kRows);
  std::vector<double> l(kRows, 0.0);
  std::vector<uint16_t> p16(kRows * kN);
  for (int step = 0; step < 2; ++step) {
    // Step 0: few valid keys per row (5 + r mod 4); step 1: all valid, every other row with a
    // new maximum.
    const int64_t valid0 = step == 0 ? 5 : 1000;
    std::vector<float> s = randn(size_t(kRows * kN), 91u + uint32_t(step), 8.0f);
    if (step == 1) {
      for (int64_t r = 0; r < kRows; ++r) {
        for (int64_t i = 0; i < kN; ++i) {
          float& x = s[size_t(r * kN + i)];
          x = r % 2 == 0 ? std::min(x, m[size_t(r)]) : x;
        }
      }
      s[size_t(1 * kN + 17)] = m[1] + 40.0f;
    }
    const std::vector<float> m_old = m;
    const std::vector<double> l_old = l;
    std::vector<float> m1 = m, alpha1(kRows);
    std::vector<double> l1 = l;
    std::vector<uint16_t> p1(kRows * kN);
    avx512::attention_block_rows(s.data(), kRows, kN, valid0, kPeriod, scale, m.data(), l.data(), p16.data(),
                                 alpha.data());
    for (int64_t r = 0; r < kRows; ++r) {
      // The same row alone: valid0 shifted so that its n_valid is the same.
      avx512::attention_block_rows(s.data() + r * kN, 1, kN, valid0 + r % kPeriod, kPeriod, scale, m1.data() + r,
                                   l1.data() + r, p1.data() + r * kN, alpha1.data() + r);
    }
    EXPECT_EQ(0, std::memcmp(p16.data(), p1.data(), p16.size() * 2)) << "step " << step;
    EXPECT_EQ(0, std::memcmp(l.data(), l1.data(), l.size() * 8)) << "step " << step;
    EXPECT_EQ(0, std::memcmp(m.data(), m1.data(), m.size() * 4)) << "step " << step;
    for (int64_t r = 0; r < kRows; ++r) {
      const int64_t n_valid = std::min(kN, valid0 + r % kPeriod);
      double mx = -INFINITY, sum = 0.0;
      for (int64_t i = 0; i < n_valid; ++i) mx = std::max(mx, double(s[size_t(r * kN + i)]));
      ASSERT_EQ(float(std::max(double(m_old[size_t(r)]), mx)), m[size_t(r)]) << "row " << r;
      for (int64_t i = 0; i < kN; ++i) {
        const float p = bf16_to_f32(p16[size_t(r * kN + i)]);
        if (i >= n_valid) {
          ASSERT_EQ(p16[size_t(r * kN + i)], 0) << "masked key " << i << " of row " << r;
          continue;
        }
        const double want = std::exp(double(scale) * (double(s[size_t(r * kN + i)]) - double(m[size_t(r)])));
        ASSERT_LE(std::fabs(double(p) - want), std::ldexp(want, -8) + 1e-37) << "key " << i << " of row " << r;
        sum += double(p);
      }
      if (m_old[size_t(r)] == m[size_t(r)]) {
        ASSERT_EQ(alpha[size_t(r)], 1.0f) << "row " << r << ": the max did not move";
      } else if (step == 0) {
        ASSERT_EQ(alpha[size_t(r)], 0.0f);
      } else {
        ASSERT_NEAR(alpha[size_t(r)], std::exp(double(scale) * (double(m_old[size_t(r)]) - double(m[size_t(r)]))),
                    1e-7);
      }
      ASSERT_NEAR(l[size_t(r)], l_old[size_t(r)] * double(alpha[size_t(r)]) + sum, 1e-6 * (1.0 + l[size_t(r)]));
    }
    if (step == 1) {
      EXPECT_EQ(alpha[0], 1.0f);
      EXPECT_LT(alpha[1], 1e-2f);
    }
  }
}

// The bf16-tile attention against a double-precision attention on the same bf16-rounded q, k and
// v (what remains is the rounding of the softmax weights to bf16 and fp32 sums: within 2^-7 of
// the largest |v|), and bitwise invariance under chunked queries (the chunks of a prefill, cut
// anywhere) and thread counts. Head sizes 16-128, groups 1-8, lengths across query and key
// blocks.
TEST(AttentionBf16, MatchesRoundedReferenceAndIsChunkAndThreadInvariant) {
  if (!have_bf16()) GTEST_SKIP() << "skipped: no AMX or AVX512-BF16 on this CPU";
  struct Case {
    int64_t t, h, hkv, d;
  };
  const Case cases[] = {{1, 2, 1, 64},   {7, 4, 2, 16},   {65, 2, 2, 24},  {129, 14, 2, 64},
                        {300, 4, 1, 128}, {200, 8, 8, 64}, {140, 7, 1, 64}};
  for (const Case& c : cases) {
    std::mt19937 g(static_cast<uint32_t>(c.t * 31 + c.d));
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> q(size_t(c.t * c.h * c.d)), k(size_t(c.t * c.hkv * c.d)), v(k.size());
    for (auto* a : {&q, &k, &v}) {
      for (float& x : *a) x = nd(g);
    }
    const float scale = 1.0f / std::sqrt(float(c.d));
    auto rounded = [](float x) { return double(bf16_to_f32(f32_to_bf16(x))); };
    std::vector<float> got(q.size()), got3(q.size()), exact(q.size());
    omp_set_num_threads(2);
    attention_causal_bf16_rows(q.data(), k.data(), v.data(), c.t, 0, c.h, c.hkv, c.d, scale, got.data());
    attention_causal(q.data(), k.data(), v.data(), c.t, c.h, c.hkv, c.d, scale, exact.data());
    omp_set_num_threads(3);
    attention_causal_bf16_rows(q.data(), k.data(), v.data(), c.t, 0, c.h, c.hkv, c.d, scale, got3.data());
    omp_set_num_threads(omp_get_num_procs());
    EXPECT_EQ(0, std::memcmp(got.data(), got3.data(), got.size() * 4)) << "2 vs 3 threads, t=" << c.t;
    for (int64_t chunk : {37, 64}) {
      std::vector<float> chunked(q.size());
      for (int64_t q0 = 0; q0 < c.t; q0 += chunk) {
        const int64_t n = std::min(chunk, c.t - q0);
        attention_causal_bf16_rows(q.data() + q0 * c.h * c.d, k.data(), v.data(), n, q0, c.h, c.hkv, c.d, scale,
                                   chunked.data() + q0 * c.h * c.d);
      }
      EXPECT_EQ(0, std::memcmp(got.data(), chunked.data(), got.size() * 4)) << "chunks of " << chunk << ", t=" << c.t;
    }
    const int64_t group = c.h / c.hkv;
    double worst = 0.0, worst_exact = 0.0;
    for (int64_t t = 0; t < c.t; ++t) {
      for (int64_t h = 0; h < c.h; ++h) {
        const int64_t hk = h / group;
        std::vector<double> sc(size_t(t + 1));
        double mx = -INFINITY;
        for (int64_t s = 0; s <= t; ++s) {
          double dot = 0.0;
          for (int64_t i = 0; i < c.d; ++i)
            dot += rounded(q[size_t((t * c.h + h) * c.d + i)]) * rounded(k[size_t((s * c.hkv + hk) * c.d + i)]);
          sc[size_t(s)] = dot * double(scale);
          mx = std::max(mx, sc[size_t(s)]);
        }
        double sum = 0.0;
        for (double& x : sc) sum += (x = std::exp(x - mx));
        for (int64_t i = 0; i < c.d; ++i) {
          double ref = 0.0, vmax = 0.0;
          for (int64_t s = 0; s <= t; ++s) {
            const double vv = rounded(v[size_t((s * c.hkv + hk) * c.d + i)]);
            ref += sc[size_t(s)] * vv;
            vmax = std::max(vmax, std::fabs(vv));
          }
          ref /= sum;
          const size_t at = size_t((t * c.h + h) * c.d + i);
          worst = std::max(worst, std::fabs(double(got[at]) - ref));
          worst_exact = std::max(worst_exact, std::fabs(double(got[at]) - double(exact[at])));
          ASSERT_NEAR(double(got[at]), ref, std::ldexp(vmax, -7) + 1e-6)
              << "t=" << c.t << " d=" << c.d << " at query " << t << " head " << h << " dim " << i;
        }
      }
    }
    std::printf("  t=%lld h=%lld/%lld d=%lld: max |Δ| %.2e vs rounded-input reference, %.2e vs fp32 attention\n",
                static_cast<long long>(c.t), static_cast<long long>(c.h), static_cast<long long>(c.hkv),
                static_cast<long long>(c.d), worst, worst_exact);
  }
}

TEST(SwigluFast, MatchesSwigluWithinPolynomialError) {
  std::vector<float> g, u;
  for (int i = -2000; i <= 2000; ++i) {
    g.push_back(static_cast<float>(i) * 0.05f);  // −100 … 100, 0 included
    u.push_back(1.0f + static_cast<float>(i % 7) * 0.3f);
  }
  g.push_back(-1000.0f);
  u.push_back(2.0f);
  std::vector<float> ref(g.size()), got(g.size());
  swiglu(g.data(), u.data(), static_cast<int64_t>(g.size()), ref.data());
  swiglu_fast(g.data(), u.data(), static_cast<int64_t>(g.size()), got.data());
  for (size_t i = 0; i < g.size(); ++i) {
    // exp polynomial ≤ 2e-7 relative, plus float roundings (mul, add, the reciprocal's Newton
    // step ≤ 2e-7): 1e-6 relative.
    EXPECT_NEAR(double(got[i]), double(ref[i]), 1e-6 * std::fabs(double(ref[i])) + 1e-30)
        << "g=" << g[i];
  }
}

}  // namespace
}  // namespace lsc::cpu

#include <cpuid.h>

namespace lsc::cpu {
namespace {

bool cpu_reports_amx_bf16() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
  return ((d >> 22) & 1u) && ((d >> 24) & 1u);  // AMX-BF16, AMX-TILE
}

TEST(Bf16Isa, AmxIsUsedWhereTheCpuHasIt) {
  if (!cpu_reports_amx_bf16()) {
    GTEST_SKIP() << "skipped: no AMX (this CPU runs the bf16 path on " << bf16_isa() << ")";
  }
  // The permission request succeeded (else bf16_isa() says avx512_bf16 and logs why), and
  // oneDNN picked an AMX kernel for a model-sized product.
  ASSERT_STREQ(bf16_isa(), "amx");
  std::vector<float> x(64 * 896, 0.5f), out(64 * 896);
  std::vector<uint16_t> w(896 * 896, f32_to_bf16(0.25f));
  MatmulArgs a;
  a.x = x.data();
  a.n_rows = 64;
  a.w = {w.data(), WType::BF16, 896, 896};
  a.out = out.data();
  matmul_bf16(a);
  EXPECT_NE(bf16_impl().find("amx"), std::string::npos) << "oneDNN chose " << bf16_impl();
  EXPECT_EQ(out[0], 0.5f * 0.25f * 896.0f);  // exact: small integers times powers of two
}

}  // namespace
}  // namespace lsc::cpu
