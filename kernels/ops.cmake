# Non-GEMM compute kernels of the runtime: attention, LayerNorm, softmax, GELU.
# Each ISA's code carries per-function target attributes, so the library is
# built for the baseline x86-64 and picks its path at run time (src/isa.cpp).
add_library(fastbert_kernels_ops
  ${CMAKE_CURRENT_LIST_DIR}/src/attention/attention.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/attention/attention_fp32_reference.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/attention/attention_fp32_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/attention/attention_int8_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/attention/attention_fp32_avx512f.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/attention/attention_bf16_avx512bf16.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/attention/attention_int8_avx512vnni.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/attention/attention_bf16_amx.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/normalization/layer_norm.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/normalization/layer_norm_reference.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/normalization/layer_norm_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/normalization/layer_norm_avx512f.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/softmax/softmax.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/softmax/softmax_reference.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/softmax/softmax_twopass_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/softmax/softmax_twopass_avx512f.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/activation/gelu.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/activation/gelu_reference.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/activation/gelu_avx2.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/activation/gelu_avx512f.cpp)
target_include_directories(fastbert_kernels_ops PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_LIST_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(fastbert_kernels_ops PUBLIC fastbert_kernels fastbert_common OpenMP::OpenMP_CXX)
add_library(fastbert::kernels_ops ALIAS fastbert_kernels_ops)

# Measurement program (not a test, not installed).
add_executable(attention_speed ${CMAKE_CURRENT_LIST_DIR}/tools/attention_speed.cpp)
target_link_libraries(attention_speed PRIVATE fastbert_kernels_ops)
# GCC 12's AVX-512 headers trip -W(maybe-)uninitialized on their own
# _mm512_undefined_* placeholders; silenced only where those headers are used.
set_source_files_properties(
  ${CMAKE_CURRENT_LIST_DIR}/src/attention/attention_fp32_avx512f.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/attention/attention_bf16_avx512bf16.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/attention/attention_int8_avx512vnni.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/attention/attention_bf16_amx.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/normalization/layer_norm_avx512f.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/softmax/softmax_twopass_avx512f.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/activation/gelu_avx512f.cpp
  PROPERTIES COMPILE_OPTIONS "-Wno-uninitialized;-Wno-maybe-uninitialized")
# The scalar GELU must not contract its multiplies into fused multiply-adds
# of its own: it matches the SIMD paths and the SpMM epilogues bit for bit.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/src/activation/gelu_reference.cpp
  PROPERTIES COMPILE_OPTIONS -ffp-contract=off)
