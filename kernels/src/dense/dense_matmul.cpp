#include "fastbert/kernels/dense_matmul.h"

#include <dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>
#include <vector>

#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"
#include "fastbert/kernels/isa.h"

namespace fastbert::kernels {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// FASTBERT_ISA caps oneDNN too, at the lattice level's oneDNN name. oneDNN
// takes its cap once, before it generates any code, so this runs before the
// first primitive or sgemm; without FASTBERT_ISA oneDNN keeps its own choice.
void cap_onednn_isa() {
  static const bool done = [] {
    const Isa cap = isa_cap();
    if (cap == best_cpu_isa()) return true;
    using C = dnnl::cpu_isa;
    const C isa = cap == Isa::reference     ? C::sse41
                  : cap == Isa::avx2        ? C::avx2
                  : cap == Isa::avx_vnni    ? C::avx2_vnni
                  : cap == Isa::avx512bw    ? C::avx512_core
                  : cap == Isa::avx512_vnni ? C::avx512_core_vnni
                  : cap == Isa::avx512_bf16 ? C::avx512_core_bf16
                                            : C::avx512_core_amx;
    dnnl::set_max_cpu_isa(isa);
    return true;
  }();
  (void)done;
}

dnnl::engine& cpu_engine() {
  static dnnl::engine engine = [] {
    cap_onednn_isa();
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return engine;
}

dt to_dnnl(DenseType t) {
  switch (t) {
    case DenseType::f32: return dt::f32;
    case DenseType::u8: return dt::u8;
    case DenseType::s8: return dt::s8;
  }
  return dt::f32;
}

// The explicit primitive cache: one matmul per distinct shape/type/layout key.
struct PrimitiveCache {
  std::mutex mutex;
  std::map<std::string, dnnl::matmul::primitive_desc> entries;
};
PrimitiveCache& cache() {
  static PrimitiveCache c;
  return c;
}

template <typename Make>
dnnl::matmul::primitive_desc cached(const std::string& key, Make make) {
  PrimitiveCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.entries.find(key);
  if (it == c.entries.end()) it = c.entries.emplace(key, make()).first;
  return it->second;
}

std::string impl_name(const dnnl::primitive_desc_base& pd) {
  const char* s = nullptr;
  dnnl_primitive_desc_query(pd.get(), dnnl_query_impl_info_str, 0, &s);
  return s ? s : "?";
}

}  // namespace

struct DenseLinear::Impl {
  DenseLinearDesc desc;
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  memory weights;          // reordered once
  std::vector<float> bias;  // n, zero when none
  bool int8 = false;
};

DenseLinear::DenseLinear(const DenseLinearDesc& d, const void* weights, const float* w_scales, const float* bias)
    : impl_(std::make_unique<Impl>()) {
  if (d.m <= 0 || d.k <= 0 || d.n <= 0)
    throw Error("DenseLinear: shape " + std::to_string(d.m) + "x" + std::to_string(d.k) + "x" + std::to_string(d.n) +
                " must be positive");
  if (!weights) throw Error("DenseLinear: null weights");
  Impl& im = *impl_;
  im.desc = d;
  im.int8 = d.x_type != DenseType::f32;
  if (im.int8 && !w_scales) throw Error("DenseLinear: int8 weights need per-output scales");
  if (im.int8)
    for (int64_t j = 0; j < d.n; ++j)
      if (!(std::isfinite(d.x_scale * w_scales[j]) && d.x_scale * w_scales[j] > 0.0f))
        throw Error("DenseLinear: scale of output " + std::to_string(j) + " must be finite and positive");
  if (d.x_zero_point != 0 && d.x_type != DenseType::u8)
    throw Error("DenseLinear: a zero point needs u8 inputs");
  im.bias.assign(size_t(d.n), 0.0f);
  if (bias) im.bias.assign(bias, bias + d.n);
  std::vector<float> scales;
  if (im.int8) {
    scales.resize(size_t(d.n));
    const int8_t* w = static_cast<const int8_t*>(weights);
    for (int64_t j = 0; j < d.n; ++j) {
      scales[j] = d.x_scale * w_scales[j];
      int64_t row_sum = 0;
      for (int64_t p = 0; p < d.k; ++p) row_sum += w[j * d.k + p];
      // oneDNN 2.x adds an int8 matmul's bias before the output scale:
      // dst = scale * (acc + bias), so the bias is stored divided by it.
      im.bias[j] = float((double(im.bias[j]) - double(scales[j]) * double(d.x_zero_point) * double(row_sum)) /
                         double(scales[j]));
    }
  }

  const dt xt = to_dnnl(d.x_type), wt = im.int8 ? dt::s8 : dt::f32;
  const memory::dims x_strides = d.x_feature_major ? memory::dims{1, d.m} : memory::dims{d.k, 1};
  const memory::dims y_strides = d.y_feature_major ? memory::dims{1, d.m} : memory::dims{d.n, 1};
  // Constant scales are part of the primitive, so they are part of the key.
  std::ostringstream key;
  key << "linear:" << d.m << "x" << d.k << "x" << d.n << ":" << int(d.x_type) << d.x_feature_major
      << d.y_feature_major;
  for (float sc : scales) key << ":" << sc;
  im.pd = cached(key.str(), [&] {
    memory::desc x_md({d.m, d.k}, xt, x_strides);
    memory::desc w_md({d.k, d.n}, wt, tag::any);
    memory::desc b_md({1, d.n}, dt::f32, tag::ab);
    memory::desc y_md({d.m, d.n}, dt::f32, y_strides);
    dnnl::primitive_attr attr;
    if (im.int8) attr.set_output_scales(2, scales);
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(x_md, w_md, b_md, y_md), attr, cpu_engine());
  });
  im.prim = dnnl::matmul(im.pd);

  // W is n x k row-major, i.e. the k x n weights in "ba" order.
  memory user_w(memory::desc({d.k, d.n}, wt, tag::ba), cpu_engine(), const_cast<void*>(weights));
  im.weights = memory(im.pd.weights_desc(), cpu_engine());
  dnnl::stream s(cpu_engine());
  dnnl::reorder(user_w, im.weights).execute(s, user_w, im.weights);
  s.wait();
}

DenseLinear::~DenseLinear() = default;
DenseLinear::DenseLinear(DenseLinear&&) noexcept = default;
DenseLinear& DenseLinear::operator=(DenseLinear&&) noexcept = default;
const DenseLinearDesc& DenseLinear::desc() const { return impl_->desc; }
std::string DenseLinear::implementation() const { return impl_name(impl_->pd); }

void DenseLinear::execute(const void* x, float* y) const {
  const Impl& im = *impl_;
  if (!x || !y) throw Error("DenseLinear::execute: null input or output");
  auto& eng = cpu_engine();
  memory x_mem(im.pd.src_desc(), eng, const_cast<void*>(x));
  memory y_mem(im.pd.dst_desc(), eng, y);
  memory bias_mem(im.pd.query_md(dnnl::query::exec_arg_md, DNNL_ARG_BIAS), eng, const_cast<float*>(im.bias.data()));
  dnnl::stream s(eng);
  im.prim.execute(s, {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_WEIGHTS, im.weights}, {DNNL_ARG_BIAS, bias_mem},
                      {DNNL_ARG_DST, y_mem}});
  s.wait();
}

void batched_matmul_f32(const BatchedMatmulDesc& d, const float* a, const float* b, float* c) {
  if (d.batch <= 0 || d.m <= 0 || d.n <= 0 || d.k <= 0)
    throw Error("batched_matmul_f32: shape must be positive");
  if (!a || !b || !c) throw Error("batched_matmul_f32: null operand");
  const memory::dims a_strides{d.stride_a, d.lda, 1};
  const memory::dims b_strides = d.trans_b ? memory::dims{d.stride_b, 1, d.ldb} : memory::dims{d.stride_b, d.ldb, 1};
  const memory::dims c_strides{d.stride_c, d.ldc, 1};
  std::ostringstream key;
  key << "batched:" << d.batch << "x" << d.m << "x" << d.n << "x" << d.k << ":" << d.lda << "," << d.ldb << ","
      << d.ldc << "," << d.stride_a << "," << d.stride_b << "," << d.stride_c << "," << d.trans_b << "," << d.alpha;
  auto pd = cached(key.str(), [&] {
    memory::desc a_md({d.batch, d.m, d.k}, dt::f32, a_strides);
    memory::desc b_md({d.batch, d.k, d.n}, dt::f32, b_strides);
    memory::desc c_md({d.batch, d.m, d.n}, dt::f32, c_strides);
    dnnl::primitive_attr attr;
    if (d.alpha != 1.0f) attr.set_output_scales(0, {d.alpha});
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, c_md), attr, cpu_engine());
  });
  auto& eng = cpu_engine();
  memory a_mem(pd.src_desc(), eng, const_cast<float*>(a));
  memory b_mem(pd.weights_desc(), eng, const_cast<float*>(b));
  memory c_mem(pd.dst_desc(), eng, c);
  dnnl::stream s(eng);
  dnnl::matmul(pd).execute(s, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
  s.wait();
}

void linear_f32_feature_major(const float* w, const float* bias, const float* x, int64_t ldx, float* y, int64_t ldy,
                              int64_t n, int64_t k, int64_t m) {
  if (n <= 0 || k <= 0 || m < 0 || ldx < m || ldy < m)
    throw Error("linear_f32_feature_major: bad shape n=" + std::to_string(n) + " k=" + std::to_string(k) +
                " m=" + std::to_string(m) + " ldx=" + std::to_string(ldx) + " ldy=" + std::to_string(ldy));
  if (m == 0) return;
  // The bias first, then y += W x: sgemm's beta = 1 reads it back.
#pragma omp parallel for schedule(static) num_threads(threads_for_work(0.2 * double(n * m)))
  for (int64_t r = 0; r < n; ++r) std::fill(y + r * ldy, y + r * ldy + m, bias ? bias[r] : 0.0f);
  cap_onednn_isa();
  const dnnl_status_t status = dnnl_sgemm('N', 'N', n, m, k, 1.0f, w, k, x, ldx, 1.0f, y, ldy);
  if (status != dnnl_success)
    throw Error("linear_f32_feature_major: oneDNN sgemm failed with status " + std::to_string(int(status)));
}

void clear_dense_primitive_cache() {
  std::lock_guard<std::mutex> lock(cache().mutex);
  cache().entries.clear();
}

size_t dense_primitive_cache_size() {
  std::lock_guard<std::mutex> lock(cache().mutex);
  return cache().entries.size();
}

bool onednn_int8_exact_at_isa_cap() { return isa_cap() == Isa::avx_vnni || isa_allowed(Isa::avx512_vnni); }

}  // namespace fastbert::kernels
