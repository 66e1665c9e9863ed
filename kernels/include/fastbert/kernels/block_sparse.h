#pragma once
#include <cstdint>
#include <vector>

namespace fastbert::kernels {

// A weight matrix W (rows = N_out, cols = K) pruned in 4x1 blocks (4 consecutive
// output rows x 1 input column), stored block-compressed by row group:
//
//   group g covers rows 4g..4g+3 (the last group is zero-padded past `rows`);
//   its nonzero columns are listed in `columns`, padded to a multiple of 4 so
//   that every "chunk" of 4 columns feeds one vpdpbusd (4 int8 per lane);
//   chunk c of the whole matrix holds columns[4c..4c+3] and 16 int8 values at
//   values[16c..16c+15] laid out row-major as [row 0..3][column 0..3], i.e. the
//   4 bytes of one row are the dword that is broadcast into vpdpbusd.
//   Padding slots repeat a real column of the group with zero weights, so they
//   never read outside X. `columns` ends with kSentinelColumns zeros past the
//   last chunk: the JIT kernel loads one chunk ahead.
//
// Weights are symmetric int8 with a per-output-row fp32 scale; row_sums (the
// sum of a row's int8 weights) let the kernel fold an activation zero point
// into its int32 initial value.
struct BlockSparseMatrix {
  static constexpr int kBlockRows = 4;
  static constexpr int kChunk = 4;
  static constexpr int kSentinelColumns = 4;

  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int64_t> group_chunk_begin;  // groups()+1 entries, in chunks
  std::vector<int32_t> columns;            // 4 per chunk, then the sentinels
  std::vector<int8_t> values;              // 16 per chunk
  std::vector<float> scales;               // per row (1.0 when packed from int8)
  std::vector<int32_t> row_sums;           // per row

  int64_t groups() const { return (rows + kBlockRows - 1) / kBlockRows; }
  int64_t chunks() const { return group_chunk_begin.empty() ? 0 : group_chunk_begin.back(); }
  // Nonzero 4x1 blocks (padding excluded) and the fraction of blocks kept.
  int64_t nonzero_blocks() const { return nonzero_blocks_; }
  double density() const;

  int64_t nonzero_blocks_ = 0;
};

// Packs a dense row-major int8 matrix. `mask` (rows x cols, nonzero = kept) must
// be constant within every 4x1 block and the matrix must be zero where the mask
// is zero; violations throw fastbert::Error naming the first offending element.
// A null mask keeps every block that holds a nonzero value.
BlockSparseMatrix pack_4x1(const int8_t* dense, int64_t rows, int64_t cols, const uint8_t* mask = nullptr,
                           const float* row_scales = nullptr);

// Quantizes a dense fp32 matrix per output row (symmetric, scale = max|w|/127)
// keeping the blocks selected by `mask` (same rule as above; null = nonzero blocks).
BlockSparseMatrix pack_4x1_fp32(const float* dense, int64_t rows, int64_t cols, const uint8_t* mask = nullptr);

// Back to a dense row-major int8 matrix (rows x cols), for tests and exports.
std::vector<int8_t> unpack(const BlockSparseMatrix& w);

// Keeps the given fraction of 4x1 blocks at random positions (for tests and the
// benchmark): returns a rows x cols mask, constant within each 4x1 block.
std::vector<uint8_t> random_block_mask_4x1(int64_t rows, int64_t cols, double sparsity, uint64_t seed);

// A weight matrix W (rows = N_out, cols = K) pruned in 1x4 blocks: 1 output
// row x 4 consecutive input columns 4q..4q+3 (aligned quads; the last quad of
// a row is partial when K is not a multiple of 4 and its missing columns hold
// zeros). Stored row by row: row r's blocks are blocks [row_block_begin[r],
// row_block_begin[r+1]), each a quad index `quads[b]` and the 4 int8 weights
// values[4b..4b+3] in column order, the dword that is broadcast into
// vpdpbusd against the [K/4][M][4] activation layout (quad_layout.h).
struct BlockSparse1x4Matrix {
  static constexpr int kBlockCols = 4;

  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int64_t> row_block_begin;  // rows+1 entries
  std::vector<int32_t> quads;            // per block, in [0, quads_per_row())
  std::vector<int8_t> values;            // 4 per block
  std::vector<float> scales;             // per row (1.0 when packed from int8)
  std::vector<int32_t> row_sums;         // per row

  int64_t quads_per_row() const { return (cols + kBlockCols - 1) / kBlockCols; }
  int64_t blocks() const { return row_block_begin.empty() ? 0 : row_block_begin.back(); }
  // The fraction of 1x4 blocks kept.
  double density() const;
};

// The 1x4 counterparts of pack_4x1 / pack_4x1_fp32 / unpack /
// random_block_mask_4x1: the mask must be constant within every aligned quad
// of a row, and the matrix zero where the mask is zero (violations throw
// fastbert::Error naming the first offending element); a null mask keeps
// every block that holds a nonzero value.
BlockSparse1x4Matrix pack_1x4(const int8_t* dense, int64_t rows, int64_t cols, const uint8_t* mask = nullptr,
                              const float* row_scales = nullptr);
BlockSparse1x4Matrix pack_1x4_fp32(const float* dense, int64_t rows, int64_t cols, const uint8_t* mask = nullptr);
std::vector<int8_t> unpack(const BlockSparse1x4Matrix& w);
std::vector<uint8_t> random_block_mask_1x4(int64_t rows, int64_t cols, double sparsity, uint64_t seed);

// Checks the invariants the 1x4 kernels rely on (offsets, quad indices in
// range, array sizes); throws fastbert::Error naming what is wrong.
void check_1x4(const BlockSparse1x4Matrix& w, const char* who);

}  // namespace fastbert::kernels
