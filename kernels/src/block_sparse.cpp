#include "fastbert/kernels/block_sparse.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "fastbert/common/error.h"

namespace fastbert::kernels {
namespace {

constexpr int kR = BlockSparseMatrix::kBlockRows;
constexpr int kC = BlockSparseMatrix::kChunk;

std::string at(int64_t r, int64_t c) { return "(row " + std::to_string(r) + ", column " + std::to_string(c) + ")"; }

// Both families: `who` is the packing function that reports.
void check_shape(int64_t rows, int64_t cols, const char* who = "pack_4x1") {
  if (rows < 0 || cols < 0)
    throw Error(std::string(who) + ": negative shape " + std::to_string(rows) + "x" + std::to_string(cols));
  if (cols > INT32_MAX) throw Error(std::string(who) + ": " + std::to_string(cols) + " columns do not fit int32 indices");
}

// The two block shapes of the packing functions, with the rule a mask breaks.
struct BlockShape {
  const char* who;    // "pack_4x1"
  const char* name;   // "4x1"
  const char* whole;  // "whole blocks of 4 output rows"
  int rows, cols;     // of one block
};
constexpr BlockShape k4x1{"pack_4x1", "4x1", "whole blocks of 4 output rows", BlockSparseMatrix::kBlockRows, 1};
constexpr BlockShape k1x4{"pack_1x4", "1x4", "whole aligned quads of 4 input columns", 1,
                          BlockSparse1x4Matrix::kBlockCols};

// A rows x cols mask, constant over each block of `shape` (the last block row
// and column may be partial), that keeps exactly round((1 - sparsity) *
// blocks) blocks at positions drawn from `seed`.
std::vector<uint8_t> random_block_mask(int64_t rows, int64_t cols, double sparsity, uint64_t seed,
                                       const BlockShape& shape) {
  check_shape(rows, cols, shape.who);
  if (!(sparsity >= 0.0 && sparsity <= 1.0))
    throw Error(std::string("random_block_mask_") + shape.name + ": sparsity must lie in [0, 1]");
  const int64_t block_rows = (rows + shape.rows - 1) / shape.rows, block_cols = (cols + shape.cols - 1) / shape.cols;
  std::vector<uint8_t> keep(size_t(block_rows * block_cols), 0);
  const int64_t kept = int64_t(std::llround((1.0 - sparsity) * double(block_rows * block_cols)));
  std::fill(keep.begin(), keep.begin() + kept, 1);
  std::mt19937_64 rng(seed);
  std::shuffle(keep.begin(), keep.end(), rng);
  std::vector<uint8_t> mask(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      mask[size_t(r * cols + c)] = keep[size_t((r / shape.rows) * block_cols + c / shape.cols)];
  return mask;
}

// Whether the block of rows [r0, r1) x columns [c0, c1) is kept, after
// checking that the mask is uniform over it and that no value survives
// outside the mask. Without a mask, a block is kept when it holds a nonzero.
bool block_kept(const int8_t* dense, const uint8_t* mask, int64_t cols, int64_t r0, int64_t r1, int64_t c0,
                int64_t c1, const BlockShape& shape) {
  if (!mask) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c)
        if (dense[r * cols + c] != 0) return true;
    return false;
  }
  const bool kept = mask[r0 * cols + c0] != 0;
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = c0; c < c1; ++c) {
      if ((mask[r * cols + c] != 0) != kept)
        throw Error(std::string(shape.who) + ": mask is not constant over the " + shape.name + " block at " +
                    at(r0, c0) + ": element " + at(r, c) + " differs (masks must keep or drop " + shape.whole + ")");
      if (!kept && dense[r * cols + c] != 0)
        throw Error(std::string(shape.who) + ": weight " + at(r, c) + " is " + std::to_string(int(dense[r * cols + c])) +
                    " but the mask drops it");
    }
  return kept;
}

// Symmetric per-row int8 quantization for the fp32 packers: each row's scale
// is its largest kept magnitude / 127 (1 for an empty row); dropped weights
// become 0. `who` names the packer in the error for a non-finite weight.
void quantize_rows(const float* dense, int64_t rows, int64_t cols, const uint8_t* mask, const char* who,
                   std::vector<int8_t>* q, std::vector<float>* scales) {
  q->assign(size_t(rows * cols), 0);
  scales->assign(size_t(rows), 1.0f);
  for (int64_t r = 0; r < rows; ++r) {
    float amax = 0.0f;
    for (int64_t c = 0; c < cols; ++c) {
      const float v = dense[r * cols + c];
      if (!std::isfinite(v)) throw Error(std::string(who) + ": weight " + at(r, c) + " is not finite");
      if (!mask || mask[r * cols + c]) amax = std::max(amax, std::fabs(v));
    }
    const float scale = amax > 0.0f ? amax / 127.0f : 1.0f;
    (*scales)[size_t(r)] = scale;
    for (int64_t c = 0; c < cols; ++c) {
      const bool keep = !mask || mask[r * cols + c];
      (*q)[size_t(r * cols + c)] =
          keep ? int8_t(std::lrint(std::clamp(dense[r * cols + c] / scale, -127.0f, 127.0f))) : 0;
    }
  }
}

}  // namespace

double BlockSparseMatrix::density() const {
  const int64_t total = groups() * cols;
  return total == 0 ? 0.0 : double(nonzero_blocks_) / double(total);
}

BlockSparseMatrix pack_4x1(const int8_t* dense, int64_t rows, int64_t cols, const uint8_t* mask,
                           const float* row_scales) {
  check_shape(rows, cols);
  if (!dense && rows * cols > 0) throw Error("pack_4x1: null weights");
  BlockSparseMatrix w;
  w.rows = rows;
  w.cols = cols;
  w.scales.assign(rows, 1.0f);
  if (row_scales) {
    for (int64_t r = 0; r < rows; ++r) {
      if (!std::isfinite(row_scales[r]) || row_scales[r] <= 0.0f)
        throw Error("pack_4x1: scale of row " + std::to_string(r) + " is " + std::to_string(row_scales[r]) +
                    " (must be finite and positive)");
      w.scales[r] = row_scales[r];
    }
  }
  w.row_sums.assign(rows, 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) w.row_sums[r] += dense[r * cols + c];

  const int64_t groups = w.groups();
  w.group_chunk_begin.assign(groups + 1, 0);
  std::vector<int32_t> kept;
  for (int64_t g = 0; g < groups; ++g) {
    kept.clear();
    for (int64_t c = 0; c < cols; ++c)
      if (block_kept(dense, mask, cols, g * kR, std::min(rows, g * kR + kR), c, c + 1, k4x1)) kept.push_back(int32_t(c));
    w.nonzero_blocks_ += int64_t(kept.size());
    const int64_t chunks = (int64_t(kept.size()) + kC - 1) / kC;
    w.group_chunk_begin[g + 1] = w.group_chunk_begin[g] + chunks;
    for (int64_t ch = 0; ch < chunks; ++ch) {
      int8_t block[kR * kC] = {};
      for (int j = 0; j < kC; ++j) {
        const size_t idx = size_t(ch * kC + j);
        if (idx >= kept.size()) {
          w.columns.push_back(kept.front());  // padding: a valid column, zero weights
          continue;
        }
        const int32_t c = kept[idx];
        w.columns.push_back(c);
        for (int r = 0; r < kR; ++r) {
          const int64_t row = g * kR + r;
          if (row < rows) block[r * kC + j] = dense[row * cols + c];
        }
      }
      w.values.insert(w.values.end(), block, block + kR * kC);
    }
  }
  w.columns.insert(w.columns.end(), BlockSparseMatrix::kSentinelColumns, 0);
  return w;
}

BlockSparseMatrix pack_4x1_fp32(const float* dense, int64_t rows, int64_t cols, const uint8_t* mask) {
  check_shape(rows, cols);
  std::vector<int8_t> q;
  std::vector<float> scales;
  quantize_rows(dense, rows, cols, mask, "pack_4x1_fp32", &q, &scales);
  // Dropped weights are zero now, so of pack_4x1's mask checks only block
  // uniformity can fail.
  return pack_4x1(q.data(), rows, cols, mask, scales.data());
}

std::vector<int8_t> unpack(const BlockSparseMatrix& w) {
  std::vector<int8_t> dense(size_t(w.rows * w.cols), 0);
  for (int64_t g = 0; g < w.groups(); ++g) {
    for (int64_t ch = w.group_chunk_begin[g]; ch < w.group_chunk_begin[g + 1]; ++ch) {
      for (int j = 0; j < kC; ++j) {
        const int32_t c = w.columns[size_t(ch * kC + j)];
        for (int r = 0; r < kR; ++r) {
          const int64_t row = g * kR + r;
          const int8_t v = w.values[size_t(ch * kR * kC + r * kC + j)];
          if (row < w.rows && v != 0) dense[size_t(row * w.cols + c)] = v;
        }
      }
    }
  }
  return dense;
}

std::vector<uint8_t> random_block_mask_4x1(int64_t rows, int64_t cols, double sparsity, uint64_t seed) {
  return random_block_mask(rows, cols, sparsity, seed, k4x1);
}

namespace {

constexpr int kQ = BlockSparse1x4Matrix::kBlockCols;

}  // namespace

double BlockSparse1x4Matrix::density() const {
  const int64_t total = rows * quads_per_row();
  return total == 0 ? 0.0 : double(blocks()) / double(total);
}

BlockSparse1x4Matrix pack_1x4(const int8_t* dense, int64_t rows, int64_t cols, const uint8_t* mask,
                              const float* row_scales) {
  check_shape(rows, cols, "pack_1x4");
  if (!dense && rows * cols > 0) throw Error("pack_1x4: null weights");
  BlockSparse1x4Matrix w;
  w.rows = rows;
  w.cols = cols;
  w.scales.assign(size_t(rows), 1.0f);
  if (row_scales) {
    for (int64_t r = 0; r < rows; ++r) {
      if (!std::isfinite(row_scales[r]) || row_scales[r] <= 0.0f)
        throw Error("pack_1x4: scale of row " + std::to_string(r) + " is " + std::to_string(row_scales[r]) +
                    " (must be finite and positive)");
      w.scales[size_t(r)] = row_scales[r];
    }
  }
  w.row_sums.assign(size_t(rows), 0);
  w.row_block_begin.assign(size_t(rows + 1), 0);
  const int64_t quads = w.quads_per_row();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) w.row_sums[size_t(r)] += dense[r * cols + c];
    int64_t kept = 0;
    for (int64_t q = 0; q < quads; ++q) {
      if (!block_kept(dense, mask, cols, r, r + 1, q * kQ, std::min(cols, q * kQ + kQ), k1x4)) continue;
      ++kept;
      w.quads.push_back(int32_t(q));
      for (int j = 0; j < kQ; ++j) {
        const int64_t c = q * kQ + j;
        w.values.push_back(c < cols ? dense[r * cols + c] : int8_t(0));
      }
    }
    w.row_block_begin[size_t(r + 1)] = w.row_block_begin[size_t(r)] + kept;
  }
  return w;
}

BlockSparse1x4Matrix pack_1x4_fp32(const float* dense, int64_t rows, int64_t cols, const uint8_t* mask) {
  check_shape(rows, cols, "pack_1x4");
  std::vector<int8_t> q;
  std::vector<float> scales;
  quantize_rows(dense, rows, cols, mask, "pack_1x4_fp32", &q, &scales);
  return pack_1x4(q.data(), rows, cols, mask, scales.data());
}

std::vector<int8_t> unpack(const BlockSparse1x4Matrix& w) {
  check_1x4(w, "unpack");
  std::vector<int8_t> dense(size_t(w.rows * w.cols), 0);
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t b = w.row_block_begin[size_t(r)]; b < w.row_block_begin[size_t(r + 1)]; ++b)
      for (int j = 0; j < kQ; ++j) {
        const int64_t c = int64_t(w.quads[size_t(b)]) * kQ + j;
        if (c < w.cols) dense[size_t(r * w.cols + c)] = w.values[size_t(b * kQ + j)];
      }
  return dense;
}

std::vector<uint8_t> random_block_mask_1x4(int64_t rows, int64_t cols, double sparsity, uint64_t seed) {
  return random_block_mask(rows, cols, sparsity, seed, k1x4);
}

void check_1x4(const BlockSparse1x4Matrix& w, const char* who) {
  const std::string name = std::string(who) + ": ";
  if (w.rows < 0 || w.cols < 0 || int64_t(w.row_block_begin.size()) != w.rows + 1 || w.row_block_begin[0] != 0 ||
      int64_t(w.quads.size()) != w.blocks() || int64_t(w.values.size()) != w.blocks() * kQ ||
      int64_t(w.scales.size()) != w.rows || int64_t(w.row_sums.size()) != w.rows)
    throw Error(name + "inconsistent BlockSparse1x4Matrix (" + std::to_string(w.rows) + "x" + std::to_string(w.cols) +
                ", " + std::to_string(w.quads.size()) + " blocks)");
  for (int64_t r = 0; r < w.rows; ++r)
    if (w.row_block_begin[size_t(r + 1)] < w.row_block_begin[size_t(r)])
      throw Error(name + "block offsets of row " + std::to_string(r) + " decrease");
  for (int32_t q : w.quads)
    if (q < 0 || q >= w.quads_per_row())
      throw Error(name + "quad index " + std::to_string(q) + " outside [0, " + std::to_string(w.quads_per_row()) + ")");
}

}  // namespace fastbert::kernels
