#pragma once
// n rounded up to a multiple of `multiple` (> 0): paddings of tiles, token
// blocks and 64-byte workspaces, one spelling for every kernel family.
#include <cstdint>

namespace fastbert::detail {

inline int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

}  // namespace fastbert::detail
