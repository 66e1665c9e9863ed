#include <gtest/gtest.h>

#include <random>

#include "fastbert/common/error.h"
#include "fastbert/kernels/block_sparse.h"

namespace fastbert::kernels {
namespace {

std::vector<int8_t> masked_random(const std::vector<uint8_t>& mask, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> dist(-128, 127);
  std::vector<int8_t> w(mask.size());
  for (size_t i = 0; i < w.size(); ++i) w[i] = mask[i] ? int8_t(dist(rng)) : 0;
  return w;
}

TEST(BlockSparse, PackUnpackRoundTripsOnOddShapes) {
  for (auto [rows, cols, sparsity] : {std::tuple{1, 1, 0.0}, {7, 13, 0.5}, {33, 70, 0.8}, {64, 64, 0.9}, {5, 3, 1.0}}) {
    const auto mask = random_block_mask_4x1(rows, cols, sparsity, 7);
    const auto dense = masked_random(mask, 11);
    const BlockSparseMatrix w = pack_4x1(dense.data(), rows, cols, mask.data());
    EXPECT_EQ(unpack(w), dense) << rows << "x" << cols;
    EXPECT_EQ(w.chunks() * 4 % 4, 0);
    for (int64_t g = 0; g < w.groups(); ++g) {
      // Padding repeats a real column; columns are in range.
      for (int64_t c = w.group_chunk_begin[g] * 4; c < w.group_chunk_begin[g + 1] * 4; ++c) {
        EXPECT_GE(w.columns[c], 0);
        EXPECT_LT(w.columns[c], cols);
      }
    }
    int32_t sum0 = 0;
    for (int c = 0; c < cols; ++c) sum0 += dense[c];
    EXPECT_EQ(w.row_sums[0], sum0);
  }
}

TEST(BlockSparse, RandomMaskDropsTheRequestedFractionOfBlocks) {
  const auto mask = random_block_mask_4x1(64, 100, 0.75, 3);
  int kept = 0;
  for (int g = 0; g < 16; ++g)
    for (int c = 0; c < 100; ++c) kept += mask[g * 4 * 100 + c];
  EXPECT_EQ(kept, 400);
  const auto dense = masked_random(mask, 5);
  EXPECT_NEAR(pack_4x1(dense.data(), 64, 100, mask.data()).density(), 0.25, 1e-9);
}

TEST(BlockSparse, NullMaskKeepsBlocksWithANonzero) {
  std::vector<int8_t> dense(8 * 3, 0);
  dense[2 * 3 + 1] = 5;   // group 0, column 1
  dense[7 * 3 + 2] = -3;  // group 1, column 2
  const BlockSparseMatrix w = pack_4x1(dense.data(), 8, 3);
  EXPECT_EQ(w.nonzero_blocks(), 2);
  EXPECT_EQ(w.chunks(), 2);  // one padded chunk per group
  EXPECT_EQ(unpack(w), dense);
}

TEST(BlockSparse, PackRejectsMaskThatSplitsABlock) {
  std::vector<int8_t> dense(8 * 4, 1);
  std::vector<uint8_t> mask(8 * 4, 1);
  mask[2 * 4 + 3] = 0;
  dense[2 * 4 + 3] = 0;
  try {
    pack_4x1(dense.data(), 8, 4, mask.data());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not constant over the 4x1 block"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("row 2, column 3"), std::string::npos) << e.what();
  }
}

TEST(BlockSparse, PackRejectsWeightOutsideTheMask) {
  std::vector<int8_t> dense(4 * 2, 0);
  std::vector<uint8_t> mask(4 * 2, 0);
  dense[1 * 2 + 1] = 9;
  try {
    pack_4x1(dense.data(), 4, 2, mask.data());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mask drops it"), std::string::npos) << e.what();
  }
}

TEST(BlockSparse, PackRejectsNegativeShapeAndBadScales) {
  EXPECT_THROW(pack_4x1(nullptr, -1, 4), Error);
  std::vector<int8_t> dense(4, 1);
  const float bad[4] = {1.0f, 0.0f, 1.0f, 1.0f};
  EXPECT_THROW(pack_4x1(dense.data(), 4, 1, nullptr, bad), Error);
  EXPECT_THROW(random_block_mask_4x1(4, 4, 1.5, 0), Error);
}

TEST(BlockSparse, Fp32PackQuantizesPerRowSymmetrically) {
  const int rows = 6, cols = 9;
  std::vector<float> dense(rows * cols);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  for (auto& v : dense) v = dist(rng);
  const auto mask = random_block_mask_4x1(rows, cols, 0.5, 2);
  const BlockSparseMatrix w = pack_4x1_fp32(dense.data(), rows, cols, mask.data());
  const auto q = unpack(w);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      if (!mask[r * cols + c]) {
        EXPECT_EQ(q[r * cols + c], 0);
        continue;
      }
      EXPECT_NEAR(q[r * cols + c] * w.scales[r], dense[r * cols + c], w.scales[r] * 0.5f + 1e-6f);
    }
  std::vector<float> nan(4, 0.0f);
  nan[2] = NAN;
  EXPECT_THROW(pack_4x1_fp32(nan.data(), 4, 1), Error);
}

}  // namespace
}  // namespace fastbert::kernels
