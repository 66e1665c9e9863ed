#include "fastbert/kernels/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "fastbert/common/error.h"
#include "fastbert/kernels/isa.h"
#include "ops_test_util.h"

namespace fastbert {
namespace {

// One attention problem in feature-major layout, with row strides wider than
// B*S so that a kernel reading or writing past its tokens is caught.
struct Problem {
  AttentionShape shape;
  std::vector<int32_t> lengths;
  int64_t ld_in, ld_out;
  std::vector<float> q, k, v;

  Problem(int batch, int seq, int heads, int dh, std::vector<int32_t> valid, unsigned seed)
      : shape{batch, seq, heads, dh}, lengths(std::move(valid)) {
    ld_in = int64_t(batch) * seq + 5;
    ld_out = int64_t(batch) * seq + 3;
    const size_t n = size_t(heads) * dh * ld_in;
    q = test::random_floats(n, seed, -2, 2);
    k = test::random_floats(n, seed + 1, -2, 2);
    v = test::random_floats(n, seed + 2);
  }

  std::vector<float> run(AttentionPath path) const {
    std::vector<float> out(size_t(shape.heads) * shape.head_dim * ld_out, std::numeric_limits<float>::quiet_NaN());
    AttentionArgs a;
    a.shape = shape;
    a.q = q.data(), a.k = k.data(), a.v = v.data(), a.ld_in = ld_in;
    a.valid_lengths = lengths.data();
    a.scale = 1.0f / std::sqrt(float(shape.head_dim));
    a.out = out.data(), a.ld_out = ld_out;
    std::vector<char> ws(attention_workspace_bytes(shape, path, 4));
    attention(a, ws.data(), ws.size(), path);
    return out;
  }

  // Largest |a - b| over the output tokens (the stride padding must stay NaN).
  double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) const {
    double worst = 0;
    const int64_t tokens = int64_t(shape.batch) * shape.seq_len;
    for (int64_t f = 0; f < int64_t(shape.heads) * shape.head_dim; ++f)
      for (int64_t m = 0; m < tokens; ++m) {
        const double x = a[f * ld_out + m], y = b[f * ld_out + m];
        if (std::isnan(x) || std::isnan(y)) return INFINITY;
        worst = std::max(worst, std::abs(x - y));
      }
    return worst;
  }
};

bool cpu_runs(AttentionPath path) {
  for (const AttentionKernel& k : attention_kernels())
    if (k.path == path) return kernels::cpu_supports(k.isa);
  return false;
}

// Stated accuracy against the double-precision reference, |O| <= 1: fp32 paths
// differ only by summation order and the polynomial exp; bf16 rounds Q, K, V
// and P to 8 significant bits; int8 rounds Q, K, V to 1/127 of their head's
// largest value and P to 1/255 of its row's largest weight (measured over
// the cases below: fp32 <= 7.5e-7, bf16 <= 4.7e-3, int8 <= 2.9e-2; random
// scores are the hard case: on the MiniLM teacher int8 attention scored dev
// F1 78.78 against bf16's 78.86 and fp32's 78.91, kernels/src/attention/
// attention_int8_avx512vnni.cpp).
bool is_int8(AttentionPath path) { return path == AttentionPath::int8_avx512vnni || path == AttentionPath::int8_avx2; }

double tolerance(AttentionPath path) {
  if (is_int8(path)) return 4e-2;
  return path == AttentionPath::bf16_avx512bf16 || path == AttentionPath::bf16_amx ? 1e-2 : 5e-6;
}

struct Case {
  int batch, seq, heads, dh;
  std::vector<int32_t> lengths;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {1, 1, 1, 64, {1}},           {1, 7, 2, 32, {7}},         {2, 7, 3, 64, {5, 7}},
      {3, 129, 2, 64, {129, 1, 100}}, {1, 384, 12, 64, {384}},  {2, 384, 1, 32, {383, 17}},
      {1, 33, 5, 30, {33}},         {2, 20, 1, 7, {20, 3}},     {2, 45, 2, 96, {45, 33}},
      {1, 70, 1, 128, {70}},        {3, 1, 4, 32, {1, 0, 1}},   {1, 250, 2, 64, {250}},
      {2, 300, 1, 64, {300, 205}},  {1, 261, 2, 96, {261}},    {1, 200, 1, 128, {199}},
  };
  return c;
}

class AttentionPathTest : public ::testing::TestWithParam<AttentionPath> {};

TEST_P(AttentionPathTest, MatchesDoubleReferenceOnOddShapesAndPadding) {
  const AttentionPath path = GetParam();
  if (!cpu_runs(path)) GTEST_SKIP() << attention_path_name(path) << " is not supported by this CPU";
  unsigned seed = 1;
  for (const Case& c : cases()) {
    const Problem p(c.batch, c.seq, c.heads, c.dh, c.lengths, seed++);
    const double err = p.max_abs_diff(p.run(path), p.run(AttentionPath::fp32_reference));
    EXPECT_LE(err, tolerance(path)) << attention_path_name(path) << " B=" << c.batch << " S=" << c.seq
                                    << " H=" << c.heads << " dh=" << c.dh << " err=" << err;
  }
}

TEST_P(AttentionPathTest, MaskedKeysGetZeroWeightEvenWhenHuge) {
  const AttentionPath path = GetParam();
  if (!cpu_runs(path)) GTEST_SKIP() << attention_path_name(path) << " is not supported by this CPU";
  Problem p(2, 40, 3, 64, {29, 40}, 7);
  const std::vector<float> before = p.run(path);
  // Keys 29..39 of batch row 0 are padding: huge K would dominate the softmax
  // and huge V the output if they got any weight at all.
  for (int64_t f = 0; f < 3 * 64; ++f)
    for (int s = 29; s < 40; ++s) {
      p.k[f * p.ld_in + s] = 1e30f;
      p.v[f * p.ld_in + s] = -1e30f;
    }
  EXPECT_EQ(p.max_abs_diff(before, p.run(path)), 0.0);
}

TEST_P(AttentionPathTest, PaddedQueriesAndEmptyRowsAreZeroNotNaN) {
  const AttentionPath path = GetParam();
  if (!cpu_runs(path)) GTEST_SKIP() << attention_path_name(path) << " is not supported by this CPU";
  const Problem p(3, 21, 2, 32, {0, 21, 9}, 11);
  const std::vector<float> out = p.run(path);
  for (int64_t f = 0; f < 2 * 32; ++f) {
    for (int s = 0; s < 21; ++s) {
      EXPECT_EQ(out[f * p.ld_out + s], 0.0f) << "empty batch row 0, f=" << f << " s=" << s;
      if (s >= 9) {
        EXPECT_EQ(out[f * p.ld_out + 42 + s], 0.0f) << "padded query of row 2, s=" << s;
      }
      EXPECT_FALSE(std::isnan(out[f * p.ld_out + 21 + s]));
    }
  }
}

TEST_P(AttentionPathTest, LargeScoresDoNotOverflowTheSoftmax) {
  const AttentionPath path = GetParam();
  if (!cpu_runs(path)) GTEST_SKIP() << attention_path_name(path) << " is not supported by this CPU";
  // Scores up to ~1000: e^score overflows fp32, the (value, exponent) sum must not.
  Problem p(1, 50, 1, 64, {50}, 13);
  for (float& x : p.q) x *= 16;
  for (float& x : p.k) x *= 16;
  // Scores of several hundred: int8's score error is 1/127 of the largest
  // |q|·|k| products, several units here, enough to reorder near-tied keys
  // (measured 0.11); the other paths' error does not grow with the scores.
  const double bound = (is_int8(path) ? 4 : 2) * tolerance(path);
  EXPECT_LE(p.max_abs_diff(p.run(path), p.run(AttentionPath::fp32_reference)), bound);
}

TEST_P(AttentionPathTest, FusedU8OutputIsExactlyQuantizingTheFp32Output) {
  const AttentionPath path = GetParam();
  if (!cpu_runs(path)) GTEST_SKIP() << attention_path_name(path) << " is not supported by this CPU";
  // S=300 at head_dim 64 takes the 32-query AMX blocks, with a half-filled last one.
  for (const Case& c : {Case{2, 300, 2, 64, {300, 205}}, Case{3, 21, 2, 32, {0, 21, 9}}}) {
    const Problem p(c.batch, c.seq, c.heads, c.dh, c.lengths, 31);
    const int64_t rows = int64_t(c.heads) * c.dh, tokens = int64_t(c.batch) * c.seq, ld_u8 = tokens + 7;
    std::vector<float> out(size_t(rows * p.ld_out), NAN);
    std::vector<uint8_t> q(size_t(rows * ld_u8), 0xAB), q_only(q.size(), 0xAB);
    AttentionArgs a;
    a.shape = p.shape;
    a.q = p.q.data(), a.k = p.k.data(), a.v = p.v.data(), a.ld_in = p.ld_in;
    a.valid_lengths = p.lengths.data();
    a.out = out.data(), a.ld_out = p.ld_out;
    a.out_u8 = q.data(), a.ld_out_u8 = ld_u8;
    a.out_u8_scale = 0.0005f, a.out_u8_zero_point = 131;  // |O| above ~0.06 saturates
    attention(a, nullptr, 0, path);
    int saturated = 0;
    for (int64_t f = 0; f < rows; ++f) {
      for (int64_t m = 0; m < tokens; ++m) {
        const float y = out[f * p.ld_out + m];
        const int want = std::min(255, std::max(0, int(std::nearbyint(y * (1.0f / 0.0005f))) + 131));
        ASSERT_EQ(int(q[f * ld_u8 + m]), want) << attention_path_name(path) << " f=" << f << " m=" << m << " y=" << y;
        saturated += want == 0 || want == 255;
      }
      for (int64_t m = tokens; m < ld_u8; ++m) ASSERT_EQ(q[f * ld_u8 + m], 0xAB) << "wrote past the tokens";
    }
    EXPECT_GT(saturated, 0);
    a.out = nullptr, a.out_u8 = q_only.data();
    attention(a, nullptr, 0, path);
    EXPECT_EQ(q_only, q) << "u8 alone gives the same bytes";
  }
}

INSTANTIATE_TEST_SUITE_P(AllPaths, AttentionPathTest,
                         ::testing::Values(AttentionPath::bf16_amx, AttentionPath::bf16_avx512bf16, AttentionPath::int8_avx512vnni,
                                           AttentionPath::fp32_avx512f, AttentionPath::int8_avx2, AttentionPath::fp32_avx2,
                                           AttentionPath::fp32_reference),
                         [](const auto& info) { return std::string(attention_path_name(info.param)); });

TEST(Attention, HeadDimNotMultipleOf32FallsBackFromAmxToInt8Vnni) {
  if (!kernels::cpu_supports(kernels::Isa::amx)) GTEST_SKIP() << "no AMX";
  EXPECT_EQ(resolve_attention_path(AttentionPath::bf16_amx, AttentionShape{1, 8, 1, 48}),
            AttentionPath::int8_avx512vnni);
}

TEST(Attention, HeadDimNotMultipleOf4FallsBackFromInt8ToBf16) {
  if (!kernels::cpu_supports(kernels::Isa::avx512_bf16)) GTEST_SKIP() << "no AVX512-BF16";
  EXPECT_EQ(resolve_attention_path(AttentionPath::int8_avx512vnni, AttentionShape{1, 8, 1, 30}),
            AttentionPath::bf16_avx512bf16);
}

// int8 attention quantizes each (sequence, head) with its own scales: a head
// whose values are 1000x smaller than its neighbour's keeps the same relative
// accuracy (one scale for the whole tensor would round it to zeros).
TEST(Attention, Int8ScalesEachHeadOnItsOwn) {
  for (AttentionPath path : {AttentionPath::int8_avx512vnni, AttentionPath::int8_avx2}) {
    if (!cpu_runs(path)) continue;
    Problem p(2, 40, 2, 32, {40, 31}, 17);
    const int64_t head = 32 * p.ld_in;
    for (int64_t i = head; i < 2 * head; ++i) p.q[i] *= 1e-3f, p.k[i] *= 1e-3f, p.v[i] *= 1e-3f;
    const std::vector<float> got = p.run(path);
    const std::vector<float> want = p.run(AttentionPath::fp32_reference);
    double worst = 0;
    for (int64_t f = 32; f < 64; ++f)
      for (int64_t m = 0; m < 2 * 40; ++m)
        worst = std::max(worst, double(std::abs(got[f * p.ld_out + m] - want[f * p.ld_out + m])));
    EXPECT_GT(worst, 0) << attention_path_name(path) << ": the small head was not computed at all";
    EXPECT_LE(worst, 1e-3 * tolerance(path)) << attention_path_name(path);
  }
}

// The two int8 paths quantize alike and sum exactly (vpdpbusd on u8 quads,
// vpmaddwd on int16 pairs), so they give the same bits: a model's int8
// results do not depend on whether the CPU has VNNI.
TEST(Attention, Int8Avx2GivesTheBitsOfInt8Vnni) {
  if (!cpu_runs(AttentionPath::int8_avx512vnni)) GTEST_SKIP() << "no AVX512-VNNI to compare with";
  unsigned seed = 40;
  for (const Case& c : cases()) {
    if (c.dh % 4 != 0) continue;  // the VNNI path falls back to bf16 there
    const Problem p(c.batch, c.seq, c.heads, c.dh, c.lengths, seed++);
    EXPECT_EQ(p.max_abs_diff(p.run(AttentionPath::int8_avx2), p.run(AttentionPath::int8_avx512vnni)), 0.0)
        << "B=" << c.batch << " S=" << c.seq << " H=" << c.heads << " dh=" << c.dh;
  }
}

TEST(Attention, OddHeadDimFallsBackFromInt8Avx2ToFp32Avx2) {
  if (!cpu_runs(AttentionPath::int8_avx2)) GTEST_SKIP() << "no AVX2";
  EXPECT_EQ(resolve_attention_path(AttentionPath::int8_avx2, AttentionShape{1, 8, 1, 63}), AttentionPath::fp32_avx2);
  EXPECT_EQ(resolve_attention_path(AttentionPath::int8_avx2, AttentionShape{1, 8, 1, 62}), AttentionPath::int8_avx2);
}

TEST(Attention, OddHeadDimFallsBackFromBf16ToFp32) {
  if (!kernels::cpu_supports(kernels::Isa::avx512_bf16)) GTEST_SKIP() << "no AVX512-BF16";
  EXPECT_EQ(resolve_attention_path(AttentionPath::bf16_avx512bf16, AttentionShape{1, 8, 1, 63}),
            AttentionPath::fp32_avx512f);
}

TEST(Attention, BadArgumentsAreErrorsNamingTheProblem) {
  Problem p(2, 8, 1, 16, {8, 9}, 3);
  auto message = [&](auto&& mutate) -> std::string {
    std::vector<float> out(16 * p.ld_out);
    AttentionArgs a;
    a.shape = p.shape;
    a.q = p.q.data(), a.k = p.k.data(), a.v = p.v.data(), a.ld_in = p.ld_in;
    a.valid_lengths = p.lengths.data();
    a.out = out.data(), a.ld_out = p.ld_out;
    std::vector<char> ws(attention_workspace_bytes(p.shape, AttentionPath::fp32_reference, 1));
    size_t ws_bytes = ws.size();
    mutate(a, ws_bytes);
    try {
      attention(a, ws.data(), ws_bytes, AttentionPath::fp32_reference);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message([](AttentionArgs&, size_t&) {}).find("valid_lengths[1]=9"), std::string::npos);
  p.lengths[1] = 8;
  EXPECT_EQ(message([](AttentionArgs&, size_t&) {}), "");
  EXPECT_NE(message([](AttentionArgs& a, size_t&) { a.ld_in = 15; }).find("ld_in=15"), std::string::npos);
  EXPECT_NE(message([](AttentionArgs& a, size_t&) { a.shape.heads = 0; }).find("heads=0"), std::string::npos);
  EXPECT_NE(message([](AttentionArgs&, size_t& bytes) { bytes = 8; }).find("workspace"), std::string::npos);
  EXPECT_NE(message([](AttentionArgs& a, size_t&) { a.out = nullptr; }).find("no output"), std::string::npos);
  std::vector<uint8_t> q(16 * p.ld_out);
  EXPECT_NE(message([&](AttentionArgs& a, size_t&) {
              a.out_u8 = q.data(), a.ld_out_u8 = p.ld_out, a.out_u8_zero_point = -1;
            }).find("out_u8_zero_point=-1"),
            std::string::npos);
}

TEST(Attention, WorkspaceForOneThreadAndInternalScratchGiveTheSameResult) {
  if (!cpu_runs(AttentionPath::fp32_avx512f) && !cpu_runs(AttentionPath::fp32_avx2)) GTEST_SKIP() << "no SIMD path";
  const Problem p(2, 50, 3, 64, {50, 31}, 5);
  const AttentionPath path = resolve_attention_path(AttentionPath::automatic, p.shape);
  const std::vector<float> full = p.run(path);
  std::vector<float> out(full.size(), NAN), out2(full.size(), NAN);
  AttentionArgs a;
  a.shape = p.shape;
  a.q = p.q.data(), a.k = p.k.data(), a.v = p.v.data(), a.ld_in = p.ld_in;
  a.valid_lengths = p.lengths.data();
  a.scale = 0.125f;
  a.out = out.data(), a.ld_out = p.ld_out;
  std::vector<char> ws(attention_workspace_bytes(p.shape, path, 1));
  attention(a, ws.data(), ws.size(), path);
  a.out = out2.data();
  attention(a, nullptr, 0, path);
  EXPECT_EQ(p.max_abs_diff(out, full), 0.0);
  EXPECT_EQ(p.max_abs_diff(out2, full), 0.0);
}

}  // namespace
}  // namespace fastbert
