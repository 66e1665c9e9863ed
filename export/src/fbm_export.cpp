#include "fastbert/export/fbm_export.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/export/checkpoint_reader.h"
#include "fastbert/kernels/block_sparse.h"
#include "calibration.h"
#include "fbm_writer.h"

namespace fastbert {
namespace fs = std::filesystem;
using fbm::LinearFormat;

ExportPrecision parse_export_precision(const std::string& name) {
  if (name == "auto") return ExportPrecision::automatic;
  if (name == "fp32") return ExportPrecision::fp32;
  if (name == "int8") return ExportPrecision::int8;
  throw Error("--precision '" + name + "': expected fp32, int8 or auto");
}

double block_sparsity_4x1(const float* w, int64_t rows, int64_t cols) {
  int64_t zero = 0, total = 0;
  for (int64_t g = 0; g < rows; g += 4) {
    const int64_t r1 = std::min(rows, g + 4);
    for (int64_t c = 0; c < cols; ++c) {
      bool all_zero = true;
      for (int64_t r = g; r < r1 && all_zero; ++r) all_zero = w[r * cols + c] == 0.0f;
      zero += all_zero;
      ++total;
    }
  }
  return total ? static_cast<double>(zero) / static_cast<double>(total) : 0.0;
}

namespace {

// s8 symmetric per output row, the compression stage's rule:
// q = clamp(round_half_even(w / scale), -127, 127).
std::vector<int8_t> quantize_weights(const std::vector<float>& w, int64_t n, int64_t k, const std::vector<float>& s) {
  std::vector<int8_t> q(w.size());
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c)
      q[r * k + c] = static_cast<int8_t>(std::clamp(std::nearbyint(w[r * k + c] / s[r]), -127.0f, 127.0f));
  return q;
}

ExportedLinear write_linear(FbmWriter& out, const Checkpoint& ck, int64_t layer, const std::string& name, int64_t n,
                            int64_t k, ExportPrecision precision, const ExportOptions& options) {
  const std::string ck_name = checkpoint_linear_name(layer, name);
  const std::vector<float>& w = ck.tensor(ck_name + ".weight", {n, k});
  const std::vector<float>& b = ck.tensor(ck_name + ".bias", {n});
  const std::string p = fbm::linear_prefix(layer, name);
  ExportedLinear e;
  e.name = p.substr(0, p.size() - 1);
  e.out_features = n;
  e.in_features = k;
  e.block_sparsity = block_sparsity_4x1(w.data(), n, k);
  e.bytes += out.write(p + "bias", b, {n});
  if (precision == ExportPrecision::fp32) {
    e.format = LinearFormat::dense_fp32;
    e.bytes += out.write(p + "weight", w, {n, k});
    return e;
  }
  auto it = ck.quantization.find(ck_name);
  if (it == ck.quantization.end())
    throw Error((ck.dir / "quantization.json").string() + ": no entry for linear '" + ck_name + "'");
  const LinearQuantization& q = it->second;
  if (static_cast<int64_t>(q.weight_scales.size()) != n)
    throw Error((ck.dir / "quantization.json").string() + ": '" + ck_name + "' has " +
                std::to_string(q.weight_scales.size()) + " weight scales for " + std::to_string(n) + " output rows");
  const std::vector<int8_t> qw = quantize_weights(w, n, k, q.weight_scales);
  e.bytes += out.write(p + "weight_scales", q.weight_scales, {n});
  e.bytes += out.write(p + "input_scale", std::vector<float>{q.input_scale}, {1});
  e.bytes += out.write(p + "input_zero_point", std::vector<int32_t>{q.input_zero_point}, {1});
  if (e.block_sparsity >= options.sparse_threshold) {
    e.format = LinearFormat::sparse_4x1_int8;
    const kernels::BlockSparseMatrix m = kernels::pack_4x1(qw.data(), n, k, nullptr, q.weight_scales.data());
    const int64_t chunks = m.chunks();
    e.bytes += out.write(p + "group_chunk_begin", m.group_chunk_begin, {m.groups() + 1});
    e.bytes += out.write(p + "columns", m.columns, {static_cast<int64_t>(m.columns.size())});
    e.bytes += out.write(p + "values", m.values, {16 * chunks});
    e.bytes += out.write(p + "row_sums", m.row_sums, {n});
    e.bytes += out.write(p + "nonzero_blocks", std::vector<int64_t>{m.nonzero_blocks()}, {1});
  } else {
    e.format = LinearFormat::dense_int8;
    e.bytes += out.write(p + "weight", qw, {n, k});
  }
  return e;
}

}  // namespace

namespace {

void write_fbm(const Checkpoint& ck, const fs::path& path, ExportPrecision precision, const ExportOptions& options,
               ExportSummary* summary) {
  const fbm::ModelConfig& c = ck.config;
  const int64_t h = c.hidden_size, inter = c.intermediate_size;
  summary->linears.clear();
  FbmWriter out(path);
  nlohmann::ordered_json manifest;
  manifest["config"] = {{"vocab_size", c.vocab_size},         {"hidden_size", h},
                        {"num_layers", c.num_layers},         {"num_heads", c.num_heads},
                        {"intermediate_size", inter},         {"max_position", c.max_position},
                        {"type_vocab_size", c.type_vocab_size}, {"layer_norm_eps", c.layer_norm_eps},
                        {"hidden_act", "gelu"}};
  manifest["tokenizer"] = nlohmann::ordered_json::parse(tokenizer_spec_to_json(ck.tokenizer.spec));
  if (ck.tokenizer.spec.kind == TokenizerKind::sentencepiece) {
    const std::vector<uint8_t> bytes(ck.tokenizer.model_bytes.begin(), ck.tokenizer.model_bytes.end());
    out.write("tokenizer_sentencepiece_model", bytes, {static_cast<int64_t>(bytes.size())});
  } else {
    // One uint8 blob of newline-terminated tokens, not HDF5 variable-length
    // strings: those live in HDF5's global heap, which HDF5 1.10 reads
    // without bounds checks (the fuzzer crashed it there), before our
    // checksum could reject the file.
    std::vector<uint8_t> blob;
    for (const std::string& t : ck.tokenizer.vocab) {
      blob.insert(blob.end(), t.begin(), t.end());
      blob.push_back('\n');
    }
    out.write("tokenizer_vocab", blob, {static_cast<int64_t>(blob.size())});
  }
  out.write("embeddings/word", ck.tensor("embeddings.word_embeddings.weight", {c.vocab_size, h}), {c.vocab_size, h});
  out.write("embeddings/position", ck.tensor("embeddings.position_embeddings.weight", {c.max_position, h}),
            {c.max_position, h});
  out.write("embeddings/token_type", ck.tensor("embeddings.token_type_embeddings.weight", {c.type_vocab_size, h}),
            {c.type_vocab_size, h});
  out.write("embeddings/layer_norm_gamma", ck.tensor("embeddings.LayerNorm.weight", {h}), {h});
  out.write("embeddings/layer_norm_beta", ck.tensor("embeddings.LayerNorm.bias", {h}), {h});
  nlohmann::ordered_json linears = nlohmann::ordered_json::object();
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const int64_t shapes[fbm::kLinearsPerLayer][2] = {{h, h}, {h, h}, {h, h}, {h, h}, {inter, h}, {h, inter}};
    for (int j = 0; j < fbm::kLinearsPerLayer; ++j) {
      ExportedLinear e =
          write_linear(out, ck, l, fbm::kLayerLinears[j], shapes[j][0], shapes[j][1], precision, options);
      linears[e.name] = fbm::linear_format_name(e.format);
      summary->linears.push_back(std::move(e));
    }
    const std::string p = fbm::layer_prefix(l);
    const std::string ck_p = "encoder.layer." + std::to_string(l) + ".";
    out.write(p + "attention_layer_norm_gamma", ck.tensor(ck_p + "attention.output.LayerNorm.weight", {h}), {h});
    out.write(p + "attention_layer_norm_beta", ck.tensor(ck_p + "attention.output.LayerNorm.bias", {h}), {h});
    out.write(p + "output_layer_norm_gamma", ck.tensor(ck_p + "output.LayerNorm.weight", {h}), {h});
    out.write(p + "output_layer_norm_beta", ck.tensor(ck_p + "output.LayerNorm.bias", {h}), {h});
  }
  manifest["linears"] = linears;
  // The QA head has two outputs: it stays fp32 (its cost is negligible).
  out.write("qa_head/weight", ck.tensor("qa_outputs.weight", {2, h}), {2, h});
  out.write("qa_head/bias", ck.tensor("qa_outputs.bias", {2}), {2});
  manifest["export"] = {{"precision", precision == ExportPrecision::int8 ? "int8" : "fp32"},
                        {"sparse_threshold", options.sparse_threshold},
                        {"calibrated_by_export", summary->calibrated},
                        {"checkpoint", fs::absolute(ck.dir).string()}};
  out.finish(manifest.dump());
}

}  // namespace

ExportSummary export_fbm(const fs::path& checkpoint_dir, const fs::path& out_path, const ExportOptions& options) {
  if (!(options.sparse_threshold >= 0 && options.sparse_threshold <= 1))
    throw Error("--sparse-threshold must be in [0, 1]");
  Checkpoint ck = read_checkpoint(checkpoint_dir);
  ExportSummary summary;
  summary.checkpoint_bytes = ck.weights_bytes;
  summary.precision = options.precision;
  if (summary.precision == ExportPrecision::automatic)
    summary.precision = ck.has_quantization || !options.calibration_data.empty() ? ExportPrecision::int8
                                                                                 : ExportPrecision::fp32;
  if (summary.precision == ExportPrecision::int8 && !ck.has_quantization) {
    if (options.calibration_data.empty())
      throw Error(checkpoint_dir.string() + ": int8 export needs quantization.json (activation scales from the "
                                            "compression stage's calibration) or --calibration-data; or export "
                                            "with --precision fp32");
    // The fp32 export of the same checkpoint measures the ranges; it is a
    // temporary file next to the output, removed afterwards.
    AtomicPath fp32_model(out_path.string() + ".calibration");
    ExportSummary scratch;
    write_fbm(ck, fp32_model.temp_path(), ExportPrecision::fp32, options, &scratch);
    ck.quantization = calibrate_int8(ck, fp32_model.temp_path(), options.calibration_data, options.calibration_windows);
    summary.calibrated = true;
  }
  AtomicPath atomic(out_path);
  write_fbm(ck, atomic.temp_path(), summary.precision, options, &summary);
  atomic.commit();
  summary.file_bytes = static_cast<int64_t>(fs::file_size(out_path));
  return summary;
}

std::string format_export_summary(const ExportSummary& s) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-34s %12s %9s %-16s %12s\n", "linear", "shape", "sparsity", "format", "bytes");
  out += line;
  for (const ExportedLinear& e : s.linears) {
    const std::string shape = std::to_string(e.out_features) + "x" + std::to_string(e.in_features);
    std::snprintf(line, sizeof line, "%-34s %12s %8.1f%% %-16s %12lld\n", e.name.c_str(), shape.c_str(),
                  100.0 * e.block_sparsity, fbm::linear_format_name(e.format), static_cast<long long>(e.bytes));
    out += line;
  }
  if (s.calibrated) out += "int8 activation ranges calibrated by the export (min-max, runtime fp32)\n";
  std::snprintf(line, sizeof line, "file: %lld bytes; fp32 checkpoint (model.safetensors): %lld bytes; ratio %.3f\n",
                static_cast<long long>(s.file_bytes), static_cast<long long>(s.checkpoint_bytes),
                s.checkpoint_bytes ? static_cast<double>(s.file_bytes) / static_cast<double>(s.checkpoint_bytes) : 0.0);
  out += line;
  return out;
}

}  // namespace fastbert
