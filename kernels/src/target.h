#pragma once
// The per-function target attributes of the lattice's levels (isa.h), one
// spelling each: the library is built for baseline x86-64, and each
// implementation's code is compiled for its level and chosen at run time.
// A level's attribute enables exactly the instructions its cpu_supports()
// check guarantees, so code of a level never runs where they are missing.

#define FASTBERT_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define FASTBERT_TARGET_AVX_VNNI __attribute__((target("avx2,fma,avxvnni")))
#define FASTBERT_TARGET_AVX512BW __attribute__((target("avx512f,avx512bw,avx512vl")))
#define FASTBERT_TARGET_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define FASTBERT_TARGET_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define FASTBERT_TARGET_AMX \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16,amx-int8")))
