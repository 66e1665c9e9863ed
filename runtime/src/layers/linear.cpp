#include "layers/linear.h"

#include <algorithm>
#include <string>
#include <vector>

#include "fastbert/common/error.h"
#include "fastbert/kernels/dense_int8.h"
#include "fastbert/kernels/dense_matmul.h"
#include "fastbert/kernels/isa.h"
#include "fastbert/kernels/spmm.h"

namespace fastbert::layers {
namespace {

using fbm::LinearFormat;

// dense_fp32: the weights stay in the mapping. With feature-major activations
// the layer is the row-major product Y[N][M] = W[N][K] X[K][M] + b (oneDNN's
// sgemm; measured on MiniLM, 2 threads, seq 128 batch 8: 81 seq/s where the
// blocked loop this replaces ran 36).
class DenseFp32Layer : public Linear {
 public:
  DenseFp32Layer(const fbm::FbmFile& file, const std::string& prefix, int64_t n, int64_t k) {
    n_ = n;
    k_ = k;
    bias_ = file.array<float>(prefix + "bias", {n}).data;
    weights_ = file.array<float>(prefix + "weight", {n, k}).data;
    stored_bytes_ = 4 * n * k + 4 * n;
  }
  LinearFormat format() const override { return LinearFormat::dense_fp32; }
  const char* implementation() const override { return "onednn_sgemm_f32"; }
  void forward(const LinearIo& io) const override {
    kernels::linear_f32_feature_major(weights_, bias_, io.x, io.ld, io.y, io.ld, n_, k_, io.m);
  }

 private:
  const float* weights_ = nullptr;
  const float* bias_ = nullptr;
};

// An int8 layer, dense or 4x1 block-sparse in the file, run on one of two
// engines chosen by its block sparsity (int8_runs_dense): the 4x1 SpMM, or
// the dense int8 matmul (kernels::DenseInt8Primitive: AMX tiles, VNNI or
// AVX2). The packed arrays are copied once into the engine's own weights;
// bias and scales stay in the mapping.
class SparseLinearLayer : public Linear {
 public:
  // A dense_int8 layer: on the SpMM its weights are packed with every 4x1
  // block kept (zeros included: a dense layer costs what dense costs).
  SparseLinearLayer(const fbm::FbmFile& file, const std::string& prefix, int64_t n, int64_t k,
                    const LinearFusion& wanted, bool dense, double dense_below)
      : dense_(dense) {
    n_ = n;
    k_ = k;
    const std::string src = file.path().string() + ": " + prefix;
    const float* scales = file.array<float>(prefix + "weight_scales", {n}).data;
    auto weights = file.array<int8_t>(prefix + "weight", {n, k});
    bias_ = file.array<float>(prefix + "bias", {n}).data;
    read_input_quant(file, prefix, src);
    stored_bytes_ = n * k + 8 * n;
    block_sparsity_ = 0;
    if (int8_runs_dense(block_sparsity_, dense_below) && kernels::DenseInt8Primitive::builds_at_isa_cap()) {
      create_dense(weights.data, scales, wanted);
      return;
    }
    const std::vector<uint8_t> all_blocks(static_cast<size_t>(n * k), 1);
    create(std::make_shared<kernels::BlockSparseMatrix>(kernels::pack_4x1(weights.data, n, k, all_blocks.data(), scales)),
           wanted);
  }

  SparseLinearLayer(const fbm::FbmFile& file, const std::string& prefix, int64_t n, int64_t k,
                    const LinearFusion& wanted, double dense_below) {
    n_ = n;
    k_ = k;
    const std::string src = file.path().string() + ": " + prefix;
    auto w = std::make_shared<kernels::BlockSparseMatrix>();
    w->rows = n;
    w->cols = k;
    const int64_t groups = w->groups();
    // Every count below comes from the file, and a checksum proves nothing
    // (anyone can recompute it): bound each group's chunk count by what K
    // allows before any product is formed, and form the array sizes with
    // overflow checks, so no wrapped size can pass the shape checks.
    constexpr int64_t kChunk = kernels::BlockSparseMatrix::kChunk;
    auto begin = file.array<int64_t>(prefix + "group_chunk_begin", {groups + 1});
    if (begin.data[0] != 0)
      throw Error(src + "group_chunk_begin[0] is " + std::to_string(begin.data[0]) + ", expected 0");
    const int64_t max_group_chunks = (k + kChunk - 1) / kChunk;
    for (int64_t g = 0; g < groups; ++g) {
      if (begin.data[g + 1] < begin.data[g])
        throw Error(src + "group_chunk_begin decreases at group " + std::to_string(g + 1) + " (" +
                    std::to_string(begin.data[g]) + " then " + std::to_string(begin.data[g + 1]) + ")");
      if (begin.data[g + 1] - begin.data[g] > max_group_chunks)
        throw Error(src + "group_chunk_begin gives group " + std::to_string(g) + " " +
                    std::to_string(begin.data[g + 1] - begin.data[g]) + " chunks; " + std::to_string(k) +
                    " input columns allow at most " + std::to_string(max_group_chunks));
    }
    const int64_t chunks = begin.data[groups];
    int64_t column_count = 0, value_count = 0;
    if (__builtin_mul_overflow(chunks, int64_t{kChunk}, &column_count) ||
        __builtin_add_overflow(column_count, int64_t{kernels::BlockSparseMatrix::kSentinelColumns}, &column_count) ||
        __builtin_mul_overflow(chunks, int64_t{kChunk * kernels::BlockSparseMatrix::kBlockRows}, &value_count))
      throw Error(src + "group_chunk_begin ends at " + std::to_string(chunks) + " chunks, too many to address");
    auto columns = file.array<int32_t>(prefix + "columns", {column_count});
    auto values = file.array<int8_t>(prefix + "values", {value_count});
    auto scales = file.array<float>(prefix + "weight_scales", {n});
    auto row_sums = file.array<int32_t>(prefix + "row_sums", {n});
    auto nonzero = file.array<int64_t>(prefix + "nonzero_blocks", {1});
    for (int64_t i = 0; i < columns.size(); ++i)
      if (columns.data[i] < 0 || columns.data[i] >= k)
        throw Error(src + "columns[" + std::to_string(i) + "] is " + std::to_string(columns.data[i]) +
                    ", outside 0.." + std::to_string(k - 1));
    if (nonzero.data[0] < 0 || nonzero.data[0] > kChunk * chunks)
      throw Error(src + "nonzero_blocks is " + std::to_string(nonzero.data[0]) + ", outside 0.." +
                  std::to_string(kChunk * chunks) + " (4 per chunk)");
    // The kernel folds the activation zero point in through row_sums: a wrong
    // sum would shift every output of its row without any error.
    for (int64_t g = 0; g < groups; ++g) {
      for (int64_t r = 0; r < kernels::BlockSparseMatrix::kBlockRows; ++r) {
        const int64_t row = g * kernels::BlockSparseMatrix::kBlockRows + r;
        int64_t sum = 0;
        for (int64_t c = begin.data[g]; c < begin.data[g + 1]; ++c)
          for (int64_t j = 0; j < kChunk; ++j) sum += values.data[16 * c + 4 * r + j];
        if (row < n ? sum != row_sums.data[row] : sum != 0)
          throw Error(src + (row < n ? "row_sums[" + std::to_string(row) + "] is " + std::to_string(row_sums.data[row]) +
                                           ", the row's weights sum to " + std::to_string(sum)
                                     : "values hold nonzero weights in padding row " + std::to_string(row)));
      }
    }
    w->group_chunk_begin.assign(begin.data, begin.data + groups + 1);
    w->columns.assign(columns.data, columns.data + columns.size());
    w->values.assign(values.data, values.data + values.size());
    w->scales.assign(scales.data, scales.data + n);
    w->row_sums.assign(row_sums.data, row_sums.data + n);
    w->nonzero_blocks_ = nonzero.data[0];
    bias_ = file.array<float>(prefix + "bias", {n}).data;
    read_input_quant(file, prefix, src);
    stored_bytes_ = 8 * (groups + 1) + 4 * columns.size() + values.size() + 16 * n;
    block_sparsity_ = 1.0 - w->density();
    if (int8_runs_dense(block_sparsity_, dense_below) && kernels::DenseInt8Primitive::builds_at_isa_cap()) {
      const std::vector<int8_t> unpacked = kernels::unpack(*w);
      create_dense(unpacked.data(), w->scales.data(), wanted);
      return;
    }
    create(std::move(w), wanted);
  }

  void read_input_quant(const fbm::FbmFile& file, const std::string& prefix, const std::string& src) {
    input_.scale = file.array<float>(prefix + "input_scale", {1}).data[0];
    input_.zero_point = file.array<int32_t>(prefix + "input_zero_point", {1}).data[0];
    if (!(input_.scale > 0))
      throw Error(src + "input_scale is " + std::to_string(input_.scale) + ", expected a positive number");
    if (input_.zero_point < 0 || input_.zero_point > 255)
      throw Error(src + "input_zero_point is " + std::to_string(input_.zero_point) + ", expected 0..255");
    const float* scales = file.array<float>(prefix + "weight_scales", {n_}).data;
    for (int64_t r = 0; r < n_; ++r)
      if (!(scales[r] > 0))
        throw Error(src + "weight_scales[" + std::to_string(r) + "] is " + std::to_string(scales[r]) +
                    ", expected a positive number");
  }

  void create(std::shared_ptr<kernels::BlockSparseMatrix> w, const LinearFusion& wanted) {
    primitive_ = std::make_unique<kernels::SpmmPrimitive>(std::move(w), desc_for(wanted));
    implementation_ = primitive_->implementation();
  }
  void create_dense(const int8_t* weights, const float* scales, const LinearFusion& wanted) {
    dense_primitive_ = std::make_unique<kernels::DenseInt8Primitive>(weights, scales, n_, k_, desc_for(wanted));
    implementation_ = dense_primitive_->implementation();
  }
  // The epilogue of the fusions this layer does (both engines do the same).
  kernels::SpmmDesc desc_for(const LinearFusion& wanted) {
    kernels::SpmmDesc desc;
    desc.activation = kernels::ActivationType::u8;
    fusion_.residual = wanted.residual;
    fusion_.gelu = wanted.gelu;
    desc.epilogue.gelu = wanted.gelu;
    if (wanted.gelu && wanted.output_u8) {
      fusion_.output_u8 = true;
      fusion_.output = wanted.output;
      desc.epilogue.output = kernels::OutputType::u8;
      desc.epilogue.out_scale = wanted.output.scale;
      desc.epilogue.out_zero_point = wanted.output.zero_point;
    } else {
      desc.epilogue.output = kernels::OutputType::f32;
    }
    return desc;
  }
  LinearFormat format() const override { return dense_ ? LinearFormat::dense_int8 : LinearFormat::sparse_4x1_int8; }
  const char* implementation() const override { return implementation_.c_str(); }
  LinearFusion fusion() const override { return fusion_; }

  void forward(const LinearIo& io) const override {
    kernels::SpmmArgs a;
    a.x = io.x_u8;
    a.ldx = io.ld;
    a.m = io.m;
    a.x_scale = input_.scale;
    a.x_zero_point = input_.zero_point;
    a.bias = bias_;
    if (fusion_.residual) {
      a.residual = io.residual;
      a.ldr = io.ld;
    }
    a.y = fusion_.output_u8 ? static_cast<void*>(io.y_u8) : static_cast<void*>(io.y);
    a.ldy = io.ld;
    if (dense_primitive_)
      dense_primitive_->execute(a);
    else
      primitive_->execute(a);
  }

 private:
  bool dense_ = false;
  const float* bias_ = nullptr;
  LinearFusion fusion_;
  std::unique_ptr<kernels::SpmmPrimitive> primitive_;              // one of these two
  std::unique_ptr<kernels::DenseInt8Primitive> dense_primitive_;
  std::string implementation_;
};

}  // namespace

double default_int8_dense_below_sparsity(kernels::Isa cap) {
  // Measured (docs/kernels.md, session 13, Sapphire Rapids): the 4x1 SpMM
  // against the dense kernel DenseInt8Primitive runs at the cap, on
  // BERT-base's and MiniLM's shapes at M = 128 and 384.
  // * AMX tiles (bench/results/kernels_amx*.csv): 0.65-0.95x at 75 % and
  //   0.95-1.12x at 80 % on 1 thread, 0.82-1.06x and 0.94-1.46x on 2, on
  //   BERT-base's shapes; on MiniLM's 0.76-1.10x and 0.97-1.30x, 0.66-1.20x
  //   and 0.83-1.51x. Whole random-weight models at 80 % ran 1.15-1.87x their
  //   dense exports (model_sparsity_amx.json). Dense below 75 %, not 80 %:
  //   a random 80 % mask leaves some layers just under 0.8, and a crossover
  //   of 0.8 sent those to the tile kernel, which made the 80 % MiniLM-shaped
  //   model 19 % slower at batch 1 (2.31 -> 2.76 ms, 2 threads) and the
  //   demo-shaped one (hidden 64) 3x slower (0.15 -> 0.46 ms). (0.65 against
  //   the oneDNN matmul the tile kernel replaced, which was 1.5-2.3x slower.)
  // * AVX512-VNNI without AMX (the same CPU capped at avx512_bf16, as an
  //   Intel guest that hides AMX runs; kernels_vnni*.csv): 0.65-0.74x at 0 %,
  //   0.91-1.10x at 30 % and 1.02-1.32x at 40 % on 1 and 2 threads: dense
  //   below 30 %. Not measured on Zen 4, where the 4x1 SpMM with every block
  //   kept was 1.06-1.27x faster than the oneDNN matmul of before (which ran
  //   at 49-57 % of the peak on Sapphire Rapids; this kernel at 59-77 %).
  // * AVX-VNNI (ymm; the same CPU capped at avx_vnni, kernels_avxvnni.csv):
  //   0.59-0.70x at 0 %, 0.81-0.94x at 30 %, 1.03-1.31x at 50 %: dense
  //   below 30 % as well.
  // * AVX2 without VNNI (AMD EPYC Zen 3, kernels_avx2*.csv): the 4x1
  //   SpMM's AVX2 path against the vpmaddwd kernel on BERT-base's and
  //   MiniLM's shapes at M = 128 and 384. Session 15, with the SpMM's weights
  //   as packed int16 pairs: 0.72-1.01x at 0 %, 0.94-1.27x at 30 % (10 of 12
  //   points faster), 1.02-1.52x at 40 % on 1 thread (0.75-1.13x, 0.93-1.44x,
  //   0.97-1.60x on 2): dense below 30 %. (Session 14, before the pairs:
  //   0.55-0.66x at 0 %, 0.70-0.88x at 30 %, 0.85-1.01x at 40 %: 40 %.)
  // * avx512bw on a CPU without VNNI (Skylake-SP, or Zen 4 capped there):
  //   the dense kernel is the AVX2 one on ymm, not measured against the
  //   SpMM's zmm path: the SpMM runs, as before. At reference the primitive
  //   does not build.
  const std::string kernel = kernels::DenseInt8Primitive::implementation_at(cap);
  if (kernel == "dense_int8_amx") return 0.75;
  if (kernel == "dense_int8_avx512vnni" || kernel == "dense_int8_avxvnni" ||
      (kernel == "dense_int8_avx2" && cap == kernels::Isa::avx2))
    return 0.3;
  return 0.0;
}

double default_int8_dense_below_sparsity() {
  // The cap the layers' DenseInt8Primitive runs at (a CPU without granted
  // tiles, or FASTBERT_ISA below amx, is no AMX CPU here).
  return default_int8_dense_below_sparsity(kernels::isa_cap());
}

std::unique_ptr<Linear> load_linear(const fbm::FbmFile& file, int64_t layer, const std::string& name,
                                    int64_t out_features, int64_t in_features, const LinearFusion& wanted,
                                    double int8_dense_below_sparsity) {
  const std::string prefix = fbm::linear_prefix(layer, name);
  switch (file.linear_format(layer, name)) {
    case LinearFormat::dense_fp32:
      return std::make_unique<DenseFp32Layer>(file, prefix, out_features, in_features);
    case LinearFormat::dense_int8:
      return std::make_unique<SparseLinearLayer>(file, prefix, out_features, in_features, wanted, /*dense=*/true,
                                                 int8_dense_below_sparsity);
    case LinearFormat::sparse_4x1_int8:
      return std::make_unique<SparseLinearLayer>(file, prefix, out_features, in_features, wanted,
                                                 int8_dense_below_sparsity);
  }
  throw Error(file.path().string() + ": unknown linear format");
}

}  // namespace fastbert::layers
