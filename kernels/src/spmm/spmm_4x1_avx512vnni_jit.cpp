// The 4x1 block-sparse int8 kernel for AVX512-VNNI, generated with Xbyak.
//
// Per chunk (4 columns c0..c3 of the group) and 64-token tile:
//   4 loads   x_j = X[c_j, m..m+63]                       (gather by offsets)
//   8 unpacks vpunpck{l,h}bw then vpunpck{l,h}wd: v_q lane L holds, per
//             dword, the 4 inputs of token 16L + 4q + i   (in-lane, port 5)
//   4 broadcast loads of the rows' weight dwords, then
//   16 vpdpbusd acc[r][q] += v_q . w[r][0..3]
// Every interleaved vector feeds the 4 rows of the group. The token
// permutation is undone once per tile in the epilogue (a 4x4 transpose of
// 128-bit lanes), so X and Y are both in plain token order. The whole
// epilogue (scale and bias, GELU, residual, requantization) runs on the
// registers before the single store: a separate pass over the output cost
// 1.7-2.3x the kernel's own time on MiniLM shapes (K = 384).
//
// What bounds it on Sapphire Rapids: zmm vpdpbusd issues on ports 0 and 5,
// zmm byte/word unpacks on port 5 only, so a chunk needs at least
// (16 + 8) / 2 = 12 cycles for 16 vpdpbusd that alone would take 8: the
// ceiling is 2/3 of the vpdpbusd peak. Merging four arbitrary input rows
// into 4-byte lanes takes 2 ALU operations per output vector in every scheme
// we know (two-source shuffles; ternlog merges 3 sources at most), so 4x1
// blocks keep this bound on this core; 8x1/16x1 blocks amortise it over more rows.
#include "spmm_4x1_avx512vnni_jit.h"

#include <xbyak/xbyak.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <tuple>

#include "math/gelu_cubic.h"

namespace fastbert::kernels {
namespace {

using namespace Xbyak;

// Offsets into Spmm4x1JitConstants::values.
enum Constant {
  kAbsMask = 0,
  kGeluRange,
  kGeluSegmentsPerUnit,
  kGeluLastSegment,
  kInvOutScale,
  kOutZeroPoint,  // int32
  kOutLowBound,
  kOutHighBound,
  kConstantCount
};
static_assert(kConstantCount <= 24, "Spmm4x1JitConstants::values is too small");

class Generator : public CodeGenerator {
 public:
  explicit Generator(const Spmm4x1JitEpilogue& e) : CodeGenerator(16384), e_(e) {
    const Reg64 args = rdi;
    push(rbx);
    push(rbp);
    push(r12);
    push(r13);
    push(r14);
    push(r15);

    mov(x_, ptr[args + offsetof(Spmm4x1JitArgs, x)]);
    mov(ldx_, ptr[args + offsetof(Spmm4x1JitArgs, ldx)]);
    mov(y_, ptr[args + offsetof(Spmm4x1JitArgs, y)]);
    mov(ldy_, ptr[args + offsetof(Spmm4x1JitArgs, ldy_bytes)]);
    lea(ldy3_, ptr[ldy_ + ldy_ * 2]);
    mov(tiles_, ptr[args + offsetof(Spmm4x1JitArgs, full_tiles)]);
    if (e_.residual) mov(res_, ptr[args + offsetof(Spmm4x1JitArgs, residual)]);

    Label tile_loop, tail, done;
    test(tiles_, tiles_);
    jz(tail, T_NEAR);
    L(tile_loop);
    tile(args, false);
    add(x_, kSpmm4x1JitTile);
    add(y_, kSpmm4x1JitTile * output_size(e_.output));
    if (e_.residual) add(res_, kSpmm4x1JitTile * 4);
    dec(tiles_);
    jnz(tile_loop, T_NEAR);

    L(tail);
    mov(rax, ptr[args + offsetof(Spmm4x1JitArgs, tail_load_mask)]);
    test(rax, rax);
    jz(done, T_NEAR);
    kmovq(k1, rax);
    for (int j = 0; j < 4; ++j) kmovw(Opmask(2 + j), ptr[args + offsetof(Spmm4x1JitArgs, tail_store_mask) + 2 * j]);
    tile(args, true);

    L(done);
    // Streaming stores are weakly ordered: fence them before the caller (or
    // another thread after the OpenMP barrier) reads the output.
    if (e_.streaming) sfence();
    vzeroupper();
    pop(r15);
    pop(r14);
    pop(r13);
    pop(r12);
    pop(rbp);
    pop(rbx);
    ret();
  }

 private:
  static Zmm acc(int r, int q) { return Zmm(r * 4 + q); }

  void tile(const Reg64& args, bool tail) {
    mov(rax, ptr[args + offsetof(Spmm4x1JitArgs, acc_init)]);
    // Broadcast loads, not register copies: they use load ports only.
    for (int r = 0; r < 4; ++r)
      for (int q = 0; q < 4; ++q) vpbroadcastd(acc(r, q), ptr[rax + 4 * r]);
    mov(cols_, ptr[args + offsetof(Spmm4x1JitArgs, columns)]);
    mov(w_, ptr[args + offsetof(Spmm4x1JitArgs, values)]);
    mov(chunks_, ptr[args + offsetof(Spmm4x1JitArgs, chunks)]);

    Label chunk_loop, epilogue;
    test(chunks_, chunks_);
    jz(epilogue, T_NEAR);
    const Reg64 off[4] = {rax, rcx, rdx, rsi};
    const Zmm x[4] = {zmm16, zmm17, zmm18, zmm19};
    // Software pipelining: the rows of chunk i+1 are loaded while chunk i is
    // multiplied, so their L2 latency hides behind 16 vpdpbusd. The last
    // iteration reads the 4 sentinel columns that pack_4x1 appends.
    auto load_x = [&](int chunk_offset) {
      for (int j = 0; j < 4; ++j) {
        mov(off[j].cvt32(), ptr[cols_ + 16 * chunk_offset + 4 * j]);
        imul(off[j], ldx_);
        if (tail)
          vmovdqu8(x[j] | k1 | T_z, ptr[x_ + off[j]]);
        else
          vmovdqu8(x[j], ptr[x_ + off[j]]);
      }
    };
    load_x(0);
    L(chunk_loop);
    const Zmm a_lo = zmm20, a_hi = zmm21, b_lo = zmm22, b_hi = zmm23;
    vpunpcklbw(a_lo, x[0], x[1]);
    vpunpckhbw(a_hi, x[0], x[1]);
    vpunpcklbw(b_lo, x[2], x[3]);
    vpunpckhbw(b_hi, x[2], x[3]);
    load_x(1);
    const Zmm v[4] = {zmm24, zmm25, zmm26, zmm27};
    vpunpcklwd(v[0], a_lo, b_lo);
    vpunpckhwd(v[1], a_lo, b_lo);
    vpunpcklwd(v[2], a_hi, b_hi);
    vpunpckhwd(v[3], a_hi, b_hi);
    // vpbroadcastd from memory is a pure load (no port-5 uop): 4 loads
    // instead of 16 embedded broadcasts.
    const Zmm wr[4] = {zmm28, zmm29, zmm30, zmm31};
    for (int r = 0; r < 4; ++r) vpbroadcastd(wr[r], ptr[w_ + 4 * r]);
    for (int q = 0; q < 4; ++q)
      for (int r = 0; r < 4; ++r) vpdpbusd(acc(r, q), v[q], wr[r]);
    add(cols_, 16);
    add(w_, 16);
    dec(chunks_);
    jnz(chunk_loop, T_NEAR);

    L(epilogue);
    const bool affine = e_.output != OutputType::s32;
    if (affine) {
      mov(scale_, ptr[args + offsetof(Spmm4x1JitArgs, scale)]);
      mov(bias_, ptr[args + offsetof(Spmm4x1JitArgs, bias)]);
      mov(const_, ptr[args + offsetof(Spmm4x1JitArgs, constants)]);
    }
    if (e_.residual) {
      mov(ldr_, ptr[args + offsetof(Spmm4x1JitArgs, ldr_bytes)]);
      lea(ldr3_, ptr[ldr_ + ldr_ * 2]);
    }
    if (e_.gelu) {  // once per tile, for the 16 vectors of its 4 rows
      mov(gelu_table_, reinterpret_cast<uintptr_t>(&gelu_cubic::table()));
      vpxord(gelu_zero_, gelu_zero_, gelu_zero_);  // vpxord, vpandd: AVX512F (vxorps needs DQ)
    }
    Label rows_done;
    for (int r = 0; r < 4; ++r) {
      if (r > 0) {
        cmp(qword[args + offsetof(Spmm4x1JitArgs, rows)], r);
        jle(rows_done, T_NEAR);
      }
      // acc[q] lane j holds tokens 16j + 4q .. 16j + 4q + 3. An output of
      // floats is stored in token order, so its accumulators are transposed
      // first (o_j lane q = acc[q] lane j). A u8/s8 output is not: scale,
      // GELU and rounding act lane by lane, and the saturating packs of
      // acc[0..3] put lane j's 16 bytes in token order by themselves (a
      // residual, rarely fused here, is transposed into the accumulators'
      // order instead). That saves 2 shuffles a vector and the 2-uop
      // vpmovusdb: on the MiniLM intermediate (384 -> 1536, GELU, u8) at 90 %
      // sparsity, batch 8, Zen 4, 2 threads, its share of the model fell from
      // 24.6-25.5 % to 23.0-23.9 % (three interleaved pairs).
      const bool packed = e_.output == OutputType::u8 || e_.output == OutputType::s8;
      const Zmm t[4] = {zmm16, zmm17, zmm18, zmm19};
      const Zmm in_order[4] = {zmm20, zmm21, zmm22, zmm23};
      const Zmm acc_row[4] = {acc(r, 0), acc(r, 1), acc(r, 2), acc(r, 3)};
      if (!packed) transpose_lanes(in_order, acc_row, t);
      const Zmm* o = packed ? acc_row : in_order;
      if (affine) {
        vbroadcastss(zmm24, ptr[scale_ + 4 * r]);
        for (int j = 0; j < 4; ++j) {
          vcvtdq2ps(o[j], o[j]);
          vfmadd213ps(o[j], zmm24, ptr_b[bias_ + 4 * r]);
        }
      }
      if (e_.gelu)
        for (int j = 0; j < 4; ++j) gelu(o[j]);
      if (e_.residual) {
        const RegExp res_row = r == 0 ? RegExp(res_) : r == 1 ? res_ + ldr_ : r == 2 ? res_ + ldr_ * 2 : res_ + ldr3_;
        if (packed) {
          for (int j = 0; j < 4; ++j) {
            if (tail)
              vmovups(in_order[j] | Opmask(2 + j) | T_z, ptr[res_row + 64 * j]);
            else
              vmovups(in_order[j], ptr[res_row + 64 * j]);
          }
          const Zmm res_acc_order[4] = {zmm25, zmm26, zmm27, zmm28};
          transpose_lanes(res_acc_order, in_order, t);
          for (int j = 0; j < 4; ++j) vaddps(o[j], o[j], res_acc_order[j]);
        } else {
          for (int j = 0; j < 4; ++j) {
            if (tail) {
              vmovups(zmm25 | Opmask(2 + j) | T_z, ptr[res_row + 64 * j]);
              vaddps(o[j], o[j], zmm25);
            } else {
              vaddps(o[j], o[j], ptr[res_row + 64 * j]);
            }
          }
        }
      }
      const RegExp row = r == 0 ? RegExp(y_) : r == 1 ? y_ + ldy_ : r == 2 ? y_ + ldy_ * 2 : y_ + ldy3_;
      if (packed) {
        for (int j = 0; j < 4; ++j) requantize(o[j]);
        vpackssdw(t[0], o[0], o[1]);
        vpackssdw(t[1], o[2], o[3]);
        if (e_.output == OutputType::u8)
          vpackuswb(t[0], t[0], t[1]);
        else
          vpacksswb(t[0], t[0], t[1]);
        if (tail)
          vmovdqu8(ptr[row] | k1, t[0]);
        else
          vmovdqu8(ptr[row], t[0]);
      } else {
        for (int j = 0; j < 4; ++j) {
          if (tail)
            vmovdqu32(ptr[row + 64 * j] | Opmask(2 + j), o[j]);
          else if (e_.streaming)
            vmovntdq(ptr[row + 64 * j], o[j]);
          else
            vmovdqu32(ptr[row + 64 * j], o[j]);
        }
      }
    }
    L(rows_done);
  }

  Address constant(int index) { return ptr_b[const_ + 4 * index]; }

  // In place, the float operations of gelu_cubic::gelu in their order
  // (vfmadd213ps a, b, c: a = a * b + c, one rounding, as std::fma; vminps
  // a, b, c: a = b < c ? b : c). Each coefficient table is two registers'
  // worth at gelu_table_: vpermt2ps picks entry i of 32.
  void gelu(const Zmm& y) {
    const Zmm u = zmm25, i = zmm26, f = zmm27, c = zmm28, d = zmm29;
    auto lookup = [&](const Zmm& dst, int k) {
      const int offset = int(offsetof(gelu_cubic::Table, c) + sizeof(float) * gelu_cubic::kSegments * k);
      vmovaps(dst, ptr[gelu_table_ + offset]);
      vpermt2ps(dst, i, ptr[gelu_table_ + offset + 64]);
    };
    vpandd(u, y, constant(kAbsMask));
    vminps(u, u, constant(kGeluRange));
    vmulps(u, u, constant(kGeluSegmentsPerUnit));
    vcvttps2dq(i, u);
    vpminsd(i, i, constant(kGeluLastSegment));
    vcvtdq2ps(f, i);
    vsubps(f, u, f);
    lookup(c, 3);
    lookup(d, 2);
    vfmadd213ps(c, f, d);
    lookup(d, 1);
    vfmadd213ps(c, f, d);
    lookup(d, 0);
    vfmadd213ps(c, f, d);
    vmaxps(y, gelu_zero_, y);  // 0 > y ? 0 : y, NaN stays NaN
    vaddps(y, y, c);
  }

  // dst_j lane q = src_q lane j: the 4x4 transpose of 128-bit lanes (its own inverse).
  void transpose_lanes(const Zmm* dst, const Zmm* src, const Zmm* tmp) {
    vshufi64x2(tmp[0], src[0], src[1], 0x44);
    vshufi64x2(tmp[1], src[0], src[1], 0xEE);
    vshufi64x2(tmp[2], src[2], src[3], 0x44);
    vshufi64x2(tmp[3], src[2], src[3], 0xEE);
    vshufi64x2(dst[0], tmp[0], tmp[2], 0x88);
    vshufi64x2(dst[1], tmp[0], tmp[2], 0xDD);
    vshufi64x2(dst[2], tmp[1], tmp[3], 0x88);
    vshufi64x2(dst[3], tmp[1], tmp[3], 0xDD);
  }

  // In place to int32, ready for the saturating packs: the reference's
  // clamp(round_half_even(y / out_scale) + zero_point, lo, hi) with the
  // rounding by the conversion (the default round-to-nearest-even, as
  // quantize_u8.h's vector stores) and the last clamp left to the packs.
  // The first clamp to [lo - zp - 1, hi - zp + 1] is the reference's too: it
  // keeps the conversion and the zero-point add in range.
  void requantize(const Zmm& y) {
    vmulps(y, y, constant(kInvOutScale));
    vmaxps(y, y, constant(kOutLowBound));
    vminps(y, y, constant(kOutHighBound));
    vcvtps2dq(y, y);
    vpaddd(y, y, constant(kOutZeroPoint));
  }

  Spmm4x1JitEpilogue e_;
  const Reg64 x_ = r8, ldx_ = r9, y_ = r10, ldy_ = r11, ldy3_ = r12, tiles_ = r13, res_ = rbp;
  const Reg64 cols_ = r14, w_ = r15, chunks_ = rbx;
  // Free once the chunk loop is done (the chunk registers are reloaded per tile).
  const Reg64 scale_ = rcx, bias_ = rdx, const_ = rsi, ldr_ = r14, ldr3_ = r15, gelu_table_ = rax;
  // Not touched by the epilogue's other steps (zmm16-29).
  const Zmm gelu_zero_ = zmm30;
};

struct Cache {
  std::mutex mutex;
  std::map<Spmm4x1JitEpilogue, std::unique_ptr<Generator>> kernels;
};

}  // namespace

bool Spmm4x1JitEpilogue::operator<(const Spmm4x1JitEpilogue& o) const {
  return std::tie(output, gelu, residual, streaming) < std::tie(o.output, o.gelu, o.residual, o.streaming);
}

Spmm4x1JitConstants::Spmm4x1JitConstants(const Epilogue& e) : values{} {
  auto bits = [](uint32_t b) {
    float f;
    std::memcpy(&f, &b, sizeof f);
    return f;
  };
  values[kAbsMask] = bits(0x7FFFFFFFu);
  values[kGeluRange] = gelu_cubic::kRange;
  values[kGeluSegmentsPerUnit] = gelu_cubic::kSegmentsPerUnit;
  values[kGeluLastSegment] = bits(uint32_t(gelu_cubic::kSegments - 1));
  values[kInvOutScale] = 1.0f / e.out_scale;
  values[kOutZeroPoint] = bits(uint32_t(e.out_zero_point));
  const float low = e.output == OutputType::u8 ? 0.0f : -128.0f, high = e.output == OutputType::u8 ? 255.0f : 127.0f;
  values[kOutLowBound] = low - float(e.out_zero_point) - 1.0f;
  values[kOutHighBound] = high - float(e.out_zero_point) + 1.0f;
}

Spmm4x1JitFn spmm_4x1_avx512vnni_jit(const Spmm4x1JitEpilogue& epilogue) {
  static Cache cache;
  std::lock_guard<std::mutex> lock(cache.mutex);
  auto& slot = cache.kernels[epilogue];
  if (!slot) {
    slot = std::make_unique<Generator>(epilogue);
    slot->ready();
  }
  return slot->getCode<Spmm4x1JitFn>();
}

}  // namespace fastbert::kernels
