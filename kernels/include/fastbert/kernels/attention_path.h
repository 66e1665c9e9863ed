#pragma once
// The attention implementations a caller may choose (kernels/attention.h
// runs them; the engine's options name one), apart from the kernel API.

namespace fastbert {

enum class AttentionPath {
  automatic,        // the best the CPU supports and FASTBERT_ISA allows (kernels/isa.h)
  bf16_amx,         // Q·Kᵀ and P·V on AMX tiles (bf16 inputs, fp32 sums)
  bf16_avx512bf16,  // Q·Kᵀ and P·V with vdpbf16ps (bf16 inputs, fp32 sums)
  int8_avx512vnni,  // Q·Kᵀ and P·V with vpdpbusd (per-head int8 Q, K, V; u8 weights; int32 sums)
  fp32_avx512f,
  int8_avx2,        // int8_avx512vnni's quantization and bits, with vpmaddwd on int16 pairs (no VNNI)
  fp32_avx2,
  fp32_reference,   // scalar, double accumulation: the ground truth
};

const char* attention_path_name(AttentionPath path);

}  // namespace fastbert
