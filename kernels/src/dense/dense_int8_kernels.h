#pragma once
// The library's own dense int8 matmuls on the runtime's feature-major layout:
//   acc (N x M, int32) = W (N x K, s8) x X (K x M, u8 or s8)
// Both reorder X once per call into the quad layout [K/4][M][4]
// (quad_layout.h), each thread into its own copy, and hand the exact int32
// sums to an epilogue a few output rows at a time, so any epilogue on them
// gives reference_spmm's bits.
//
// * AMX tiles (dense_int8_amx): W is the tiles' A operand as it is (16 rows
//   of 64 K-bytes a tile) and the quad layout is exactly the B operand's (16
//   quads of 16 tokens a tile), so the sums come out feature-major, 16 rows
//   x 16 tokens.
// * AVX512-VNNI / AVX-VNNI (dense_int8_avx512vnni / dense_int8_avxvnni): 8
//   output rows x 48 tokens of sums in 24 zmm registers (4 rows x 24 tokens
//   in 12 ymm, twice); per quad row, 3 loads of the activations' quads and
//   one broadcast of each row's 4 weights feed the vpdpbusd.
// * AVX2 (dense_int8_avx2): 4 rows x 8 tokens in 8 ymm, twice; per quad
//   row 2 loads widened to int16 and a broadcast of each row's 4 int16
//   weights feed vpmaddwd + vpaddd.
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <vector>

namespace fastbert::detail {

// Each kernel block is kBlockRows x kBlockTokens sums: 2 x 2 accumulator
// tiles, fed by 2 A and 2 B tiles per 64 K-bytes (all 8 tiles).
constexpr int kAmxBlockRows = 32;
constexpr int kAmxBlockTokens = 32;
constexpr int kAmxKStep = 64;
// The epilogue receives rows of up to this many tokens at once.
constexpr int kAmxEpilogueTokens = 256;

// W with rows padded to a multiple of 32 and columns to a multiple of 64,
// zeros in the padding, 64-byte aligned.
class AmxInt8Weights {
 public:
  AmxInt8Weights(const int8_t* w, int64_t n, int64_t k);
  int64_t rows() const { return n_; }
  int64_t cols() const { return k_; }
  int64_t padded_rows() const { return n_pad_; }
  int64_t padded_cols() const { return k_pad_; }
  const int8_t* data() const { return data_.get(); }

 private:
  struct Free {
    void operator()(int8_t* p) const;
  };
  int64_t n_ = 0, k_ = 0, n_pad_ = 0, k_pad_ = 0;
  std::unique_ptr<int8_t, Free> data_;
};

// Receives the sums of `rows` output rows row0.. over `tokens` tokens t0..,
// sum (r, t) at acc[r * ld_acc + t]. Called from the OpenMP threads, for
// each (row, token) once.
using DenseRowsEpilogue =
    std::function<void(int64_t row0, int rows, int64_t t0, int64_t tokens, const int32_t* acc, int64_t ld_acc)>;

// Bytes of the quad-layout copies of X (one per thread of the calling team,
// omp_get_max_threads()) that dense_int8_amx needs.
int64_t dense_int8_amx_workspace_bytes(const AmxInt8Weights& w, int64_t m);

// Runs on the calling OpenMP team size (omp_get_max_threads(), as when the
// workspace was sized); the CPU must
// have AMX granted (Isa::amx). x: K rows of m bytes, ldx apart; x_signed
// selects s8 x s8 (TDPBSSD) over s8 x u8 (TDPBSUD). workspace: at least
// dense_int8_amx_workspace_bytes, 64-byte aligned.
void dense_int8_amx(const AmxInt8Weights& w, const void* x, int64_t ldx, int64_t m, bool x_signed,
                    uint8_t* workspace, const DenseRowsEpilogue& epilogue);

// W as the quad-layout kernels read it: groups of 8 rows, per quad of K the
// 8 rows' 4 weights as one Word each ([group][quad][row]); rows padded to a
// multiple of 8 and K to a multiple of 4 with zeros. Word int32_t: the 4
// bytes, vpdpbusd's operand (VNNI); int64_t: the 4 weights as int16,
// vpmaddwd's (AVX2).
template <class Word>
class QuadWeights {
 public:
  static constexpr int kRows = 8;
  QuadWeights(const int8_t* w, int64_t n, int64_t k)
      : n_(n), k_(k), quads_((k + 3) / 4), groups_((n + kRows - 1) / kRows) {
    using Bits = std::make_unsigned_t<Word>;
    constexpr int kLaneBits = 8 * int(sizeof(Word)) / 4;
    constexpr Bits kLaneMask = Bits(~Bits{0}) >> (8 * sizeof(Word) - kLaneBits);
    data_.assign(size_t(groups_ * quads_ * kRows), 0);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c) {
        Word& word = data_[size_t(((r / kRows) * quads_ + c / 4) * kRows + r % kRows)];
        const Bits lane = Bits(std::make_signed_t<Word>(w[r * k + c])) & kLaneMask;  // sign-extended to the lane
        word = Word(Bits(word) | lane << (kLaneBits * (c % 4)));
      }
  }
  int64_t rows() const { return n_; }
  int64_t cols() const { return k_; }
  int64_t quads() const { return quads_; }
  int64_t groups() const { return groups_; }
  const Word* group(int64_t g) const { return data_.data() + g * quads_ * kRows; }

 private:
  int64_t n_ = 0, k_ = 0, quads_ = 0, groups_ = 0;
  std::vector<Word> data_;
};
using VnniInt8Weights = QuadWeights<int32_t>;
using Avx2Int8Weights = QuadWeights<int64_t>;

// Bytes of the per-thread quad-layout copies of X (one per thread of the
// calling team) that the VNNI and AVX2 kernels need.
int64_t dense_int8_quad_workspace_bytes(int64_t quads, int64_t m);

// As dense_int8_amx, for a CPU with AVX512-VNNI (zmm) or AVX-VNNI (ymm,
// without AVX-512). vpdpbusd multiplies u8 by s8 only, so s8 activations are
// stored in the quad copy as u8 (x + 128): the sums are then those of
// x + 128, which the epilogue's compensation takes out like a zero point of
// 128.
void dense_int8_avx512vnni(const VnniInt8Weights& w, const void* x, int64_t ldx, int64_t m, bool x_signed,
                           uint8_t* workspace, const DenseRowsEpilogue& epilogue);
void dense_int8_avxvnni(const VnniInt8Weights& w, const void* x, int64_t ldx, int64_t m, bool x_signed,
                        uint8_t* workspace, const DenseRowsEpilogue& epilogue);

// As the AVX-VNNI kernel with AVX2 only (no vpdpbusd): each quad of
// activations widened to int16 once per 4 output rows and multiplied by the
// rows' int16 weights with vpmaddwd, which neither saturates nor rounds
// (vpmaddubsw would saturate u8 x s8 pairs), so the sums are exact; the
// same u8 + 128 storage of s8 activations.
void dense_int8_avx2(const Avx2Int8Weights& w, const void* x, int64_t ldx, int64_t m, bool x_signed,
                     uint8_t* workspace, const DenseRowsEpilogue& epilogue);

}  // namespace fastbert::detail
