#pragma once
// The one AMX tile configuration of the kernels (palette 1, all 8 tiles 16
// rows of 64 bytes), shared by every AMX path: attention's bf16 tiles and
// the dense int8 matmul. Tile configuration is per-thread state: each thread
// loads it before its first tile instruction and releases it when done.
#include <immintrin.h>

#include <cstdint>

#include "../target.h"

namespace fastbert::detail {

struct alignas(64) AmxTileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

constexpr AmxTileConfig make_full_tile_config() {
  AmxTileConfig cfg{};
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) cfg.colsb[t] = 64, cfg.rows[t] = 16;
  return cfg;
}

// A constant in .rodata, not a stack object: GCC 12 dropped the colsb stores
// of a stack configuration as dead before ldtilecfg (the tile loads then fault).
alignas(64) inline constexpr AmxTileConfig kFullTileConfig = make_full_tile_config();

FASTBERT_TARGET_AMX inline void configure_full_tiles() { _tile_loadconfig(&kFullTileConfig); }

}  // namespace fastbert::detail
