#include "fastbert/bench/kernels_bench.h"

#include <omp.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <sstream>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/bounded_number.h"
#include "fastbert/common/error.h"
#include "fastbert/common/memory.h"
#include "fastbert/common/output_paths.h"
#include "fastbert/common/threads.h"
#include "fastbert/kernels/block_sparse.h"
#include "fastbert/kernels/dense_int8.h"
#include "fastbert/kernels/dense_matmul.h"
#include "fastbert/kernels/peak.h"
#include "fastbert/kernels/quad_layout.h"
#include "fastbert/kernels/spmm.h"

namespace fastbert::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace fastbert::kernels;

// K and N of --shape: 2^20 features, far beyond any BERT layer (3072 at most).
constexpr int64_t kMaxFeatures = int64_t{1} << 20;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU time of the calling thread: with one thread, all three engines run on
// it, and time the scheduler gives to other processes is not counted.
double thread_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Copies of one input, cycled through so that with `fresh` every call reads
// activations that are not in any cache (the ring is larger than the LLC).
// Buffers are 64-byte aligned, as the runtime's activations are: a row of X
// then starts on a cache line and a 64-token load touches one line, not two.
template <typename T>
struct AlignedBuffer {
  T* data = nullptr;
  explicit AlignedBuffer(const std::vector<T>& src) {
    // Buffers of 2 MiB and more get transparent huge pages, as a runtime
    // would give its activations: with 4 KiB pages, an output written in
    // token blocks touches a new page every row and is bound by TLB misses.
    constexpr size_t kHuge = size_t(2) << 20;
    const size_t raw = std::max<size_t>(src.size(), 1) * sizeof(T);
    const size_t align = raw >= kHuge ? kHuge : 64;
    const size_t bytes = (raw + align - 1) / align * align;
    data = static_cast<T*>(std::aligned_alloc(align, bytes));
    if (!data) throw Error("bench kernels: out of memory");
    if (align == kHuge) madvise(data, bytes, MADV_HUGEPAGE);
    std::copy(src.begin(), src.end(), data);
  }
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
};

// Copies of one input, cycled through so that with `fresh` every call reads
// activations that are not in any cache (the ring is larger than the LLC).
template <typename T>
struct InputRing {
  std::vector<std::unique_ptr<AlignedBuffer<T>>> bufs;
  size_t next = 0;
  InputRing(const std::vector<T>& data, bool fresh) {
    // 3x the last-level cache, but at most 256 MiB per engine (a VM may
    // report the host's whole L3): the copies then at least never sit in L1/L2.
    long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (llc <= 0) llc = 64L << 20;
    const size_t budget = std::min<size_t>(size_t(3) * size_t(llc), size_t(256) << 20);
    const size_t bytes = std::max<size_t>(data.size() * sizeof(T), 1);
    const size_t copies = fresh ? std::clamp<size_t>(budget / bytes + 1, 2, 512) : 1;
    for (size_t i = 0; i < copies; ++i) bufs.push_back(std::make_unique<AlignedBuffer<T>>(data));
  }
  const T* get() {
    const T* p = bufs[next]->data;
    next = (next + 1) % bufs.size();
    return p;
  }
};

// One engine under test: a callable and how many calls make one sample.
struct Engine {
  std::function<void()> call;
  int inner = 1;
  std::vector<double> samples = {};  // seconds per call

  void calibrate() {
    for (int i = 0; i < 2; ++i) call();  // warm up: caches, page faults, lazy init
    const auto t0 = Clock::now();
    call();
    const double t = seconds_since(t0);
    inner = int(std::clamp(0.002 / std::max(t, 1e-9), 1.0, 2000.0));
  }
  void sample(bool cpu_time) {
    if (cpu_time) {
      const double t0 = thread_cpu_seconds();
      for (int i = 0; i < inner; ++i) call();
      samples.push_back((thread_cpu_seconds() - t0) / inner);
      return;
    }
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) call();
    samples.push_back(seconds_since(t0) / inner);
  }
};

struct Row {
  int64_t k, n, m;
  double sparsity;
  std::string family;  // "4x1" or "1x4"
  double spmm_ms = 0, int8_ms = 0, fp32_ms = 0, gops = 0, peak_pct = 0, pack_ms = 0, setup_ms = 0;
  // The runtime's own dense int8 (DenseInt8Primitive: AMX tiles or a VNNI
  // kernel on the feature-major layout), which is what the crossover
  // sparsity chooses between; 0 where the ISA cap declines it.
  double runtime_dense_ms = 0;
};

const std::vector<KernelShape> kBertShapes = {{768, 768},   {768, 3072},  {3072, 768}, {1024, 1024},
                                              {1024, 4096}, {4096, 1024}, {256, 256},  {256, 1024}};

void write_csv(const std::string& path, const std::vector<Row>& rows, const Int8Peak& peak, int threads, bool fresh, bool cpu_time,
               const std::string& int8_impl, const std::string& fp32_impl, const std::string& runtime_dense_impl,
               double codegen_ms) {
  std::ostringstream s;
  s << "# fastbert bench kernels: threads=" << threads << " activations=" << (fresh ? "fresh" : "cache-hot")
    << " spmm_output=f32(scale,bias) timer=" << (cpu_time ? "thread-cpu-time" : "wall-clock") << "\n";
  s << "# cpu=" << cpu_model_name() << "\n";
  s << "# peak_gops=" << std::fixed << std::setprecision(1) << peak.gops << " (" << peak.loop << ")\n";
  s << "# onednn_int8_impl=" << int8_impl << " onednn_fp32_impl=" << fp32_impl
    << " runtime_dense_int8_impl=" << runtime_dense_impl << "\n";
  s << "# first_codegen_ms=" << std::setprecision(3) << codegen_ms << "\n";
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) == 3)
    s << "# load_average_at_end=" << std::setprecision(2) << load[0] << "," << load[1] << "," << load[2]
      << " (other processes share the cores when this exceeds the thread count)\n";
  s << "k,n,m,sparsity,spmm_ms,onednn_int8_ms,onednn_fp32_ms,speedup_vs_int8,speedup_vs_fp32,peak_pct,spmm_gops,"
       "pack_ms,setup_ms,family,runtime_dense_int8_ms,speedup_vs_runtime_dense\n";
  for (const Row& r : rows) {
    s << r.k << "," << r.n << "," << r.m << "," << std::setprecision(0) << r.sparsity << std::setprecision(4) << ","
      << r.spmm_ms << "," << r.int8_ms << "," << r.fp32_ms << "," << std::setprecision(3) << r.int8_ms / r.spmm_ms
      << "," << r.fp32_ms / r.spmm_ms << "," << std::setprecision(1) << r.peak_pct << "," << r.gops << ","
      << std::setprecision(3) << r.pack_ms << "," << r.setup_ms << "," << r.family << "," << std::setprecision(4)
      << r.runtime_dense_ms << "," << std::setprecision(3)
      << (r.runtime_dense_ms > 0 ? r.runtime_dense_ms / r.spmm_ms : 0.0) << "\n";
  }
  write_file_atomic(path, s.str());
}

void write_plot(const std::string& path, const std::vector<Row>& rows, const Int8Peak& peak, int threads, bool fresh) {
  namespace fs = std::filesystem;
  std::vector<int64_t> ms;
  std::vector<std::pair<int64_t, int64_t>> shapes;
  std::vector<std::string> families;
  for (const Row& r : rows) {
    if (std::find(families.begin(), families.end(), r.family) == families.end()) families.push_back(r.family);
    if (std::find(ms.begin(), ms.end(), r.m) == ms.end()) ms.push_back(r.m);
    if (std::find(shapes.begin(), shapes.end(), std::pair{r.k, r.n}) == shapes.end()) shapes.push_back({r.k, r.n});
  }
  const fs::path dir = fs::temp_directory_path() / ("fastbert-plot-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ostringstream script;
  AtomicPath out(path);
  script << "set terminal pngcairo size 1400," << (ms.size() > 2 ? 1000 : 520) << " font 'Sans,10'\n"
         << "set output '" << out.temp_path().string() << "'\n"
         << "set multiplot layout " << (ms.size() > 2 ? 2 : 1) << "," << std::min<size_t>(2, ms.size())
         << " title 'fastbert block-sparse int8 SpMM (4x1: solid, 1x4: dashed) vs oneDNN dense int8 (" << threads << " threads, "
         << (fresh ? "fresh" : "cache-hot") << " activations, " << peak.name << " peak " << int(peak.gops) << " GOP/s)'\n"
         << "set key top left\nset grid\nset xlabel 'sparsity (%)'\nset ylabel 'speedup vs oneDNN int8'\n";
  for (int64_t m : ms) {
    script << "set title 'M = " << m << " tokens'\nplot 100/(100-x) with lines dt 2 lc 'gray' title 'ideal 1/(1-s)'";
    for (size_t f = 0; f < families.size(); ++f)
      for (size_t s = 0; s < shapes.size(); ++s) {
        const auto [k, n] = shapes[s];
        const fs::path data = dir / ("m" + std::to_string(m) + "_" + std::to_string(k) + "x" + std::to_string(n) + "_" +
                                     families[f]);
        std::ostringstream d;
        for (const Row& r : rows)
          if (r.m == m && r.k == k && r.n == n && r.family == families[f])
            d << r.sparsity << " " << r.int8_ms / r.spmm_ms << "\n";
        write_file_atomic(data, d.str());
        script << ", '" << data.string() << "' with linespoints lc " << s + 1 << " dt " << (f == 0 ? 1 : 3)
               << " title '" << k << "x" << n << " " << families[f] << "'";
      }
    script << "\n";
  }
  script << "unset multiplot\n";
  const fs::path script_path = dir / "plot.gp";
  write_file_atomic(script_path, script.str());
  const std::string cmd = "gnuplot '" + script_path.string() + "'";
  const int rc = std::system(cmd.c_str());
  fs::remove_all(dir);
  if (rc != 0) throw Error("bench kernels: gnuplot failed (exit " + std::to_string(rc) + ") writing " + path);
  out.commit();
}

}  // namespace

KernelShape parse_kernel_shape(const std::string& text) {
  KernelShape s;
  char x = 0;
  std::istringstream in(text);
  if (!(in >> s.k >> x >> s.n) || x != 'x' || s.k <= 0 || s.n <= 0 || !in.eof())
    throw Error("bad --shape '" + text + "': expected KxN with positive integers, e.g. 768x3072");
  check_bounded("--shape " + text + ": K", s.k, 1, kMaxFeatures);
  check_bounded("--shape " + text + ": N", s.n, 1, kMaxFeatures);
  return s;
}

void run_kernel_bench(const KernelBenchOptions& o, std::ostream& out) {
  if (o.repeats < 1) throw Error("bench kernels: --repeats must be >= 1");
  refuse_outputs_over_inputs({}, {{"--csv", o.csv}, {"--plot", o.plot}});
  set_num_threads(o.threads);
  const int threads = num_threads();
  if (o.cpu_time && threads != 1)
    throw Error("bench kernels: --cpu-time measures one thread's CPU time; it needs --threads 1");
  const auto shapes = o.shapes.empty() ? kBertShapes : o.shapes;
  const auto ms = o.ms.empty() ? std::vector<int64_t>{128, 384, 1024, 4096} : o.ms;
  const auto sparsities = o.sparsities.empty() ? std::vector<double>{70, 75, 80, 85, 90} : o.sparsities;
  for (double s : sparsities)
    if (!(s >= 0 && s < 100)) throw Error("bench kernels: sparsity " + std::to_string(s) + " must be in [0, 100)");
  for (int64_t m : ms)
    if (m <= 0) throw Error("bench kernels: --m must be positive");
  // Before anything is allocated: the largest (shape, M) point's weights in
  // every form (int8, fp32, both families' masks, masked copies and packs,
  // oneDNN's two reordered copies: ~16 bytes per weight), activations (u8 in
  // three layouts, fp32, a ring copy of each) and fp32 outputs, plus the four
  // rings' cache-busting copies.
  for (const KernelShape& shape : shapes)
    for (int64_t m : ms) {
      const double k = double(shape.k), n = double(shape.n), tokens = double(m);
      const double bytes = 16 * n * k + 14 * k * tokens + 4 * n * tokens + (o.fresh ? 4.0 * (256 << 20) : 0.0);
      check_memory_fits("bench kernels --shape " + std::to_string(shape.k) + "x" + std::to_string(shape.n) + " --m " +
                            std::to_string(m),
                        bytes);
    }

  // The one-time code generation, measured on its own before any layer.
  double codegen_ms;
  {
    const std::vector<int8_t> tiny(16, 1);
    auto w = std::make_shared<BlockSparseMatrix>(pack_4x1(tiny.data(), 4, 4));
    const auto t0 = Clock::now();
    SpmmPrimitive p(w, SpmmDesc{});
    codegen_ms = seconds_since(t0) * 1e3;
  }
  // The %peak column's yardstick: VNNI's peak, or AVX2's exact int8 one without VNNI.
  const Int8Peak peak = measure_int8_peak(threads, 0.3);
  const double peak1 = peak.gops_1_thread;
  const double mix1 = measure_vnni_4x1_interleave_ceiling_gops(1, 0.2);
  const double loop1x4 = measure_vnni_1x4_inner_loop_ceiling_gops(1, 8, 0.2);
  // The 4x1 implementation a default SpmmDesc runs: the best table entry the cap allows.
  const char* spmm_kernel = "";
  for (const SpmmKernel& k : spmm_4x1_kernels())
    if (!*spmm_kernel && k.isa <= isa_cap() && cpu_supports(k.isa)) spmm_kernel = k.name;
  out << "fastbert bench kernels: " << threads << " threads, " << (o.fresh ? "fresh" : "cache-hot")
      << " activations, median of " << o.repeats << " interleaved samples"
      << (o.cpu_time ? " (thread CPU time)" : " (wall clock)") << "\n"
      << "SpMM: " << spmm_kernel << " (FASTBERT_ISA cap " << isa_name(isa_cap()) << "), 4x1 block-sparse int8 on feature-major X (K x M u8) and 1x4 on "
      << "quad-layout X ([K/4][M][4] u8), same dense weights, each family's own random block mask; fp32 Y with "
      << "per-channel scale and bias; oneDNN: token-major u8 x s8 -> f32 (scales, bias) and fp32 matmul\n"
      << std::fixed << std::setprecision(1) << "measured " << peak.name << " peak: " << peak.gops << " GOP/s on " << threads
      << " threads (" << peak1 << " on 1); first code generation " << std::setprecision(3) << codegen_ms << " ms\n"
      << std::setprecision(1) << "4x1 interleave ceiling (8 unpacks + 16 vpdpbusd, registers only): " << mix1
      << " GOP/s on 1 thread = " << (peak1 > 0 ? 100.0 * mix1 / peak1 : 0.0) << " % of the peak\n"
      << "1x4 inner loop ceiling (broadcast + 8 loads + 8 vpdpbusd per block, L1): " << loop1x4
      << " GOP/s on 1 thread = " << (peak1 > 0 ? 100.0 * loop1x4 / peak1 : 0.0) << " % of the peak\n";
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) == 3 && load[0] > threads)
    out << std::setprecision(2) << "warning: load average " << load[0] << " > " << threads
        << " threads: other processes compete for the cores, timings will be noisy\n";

  std::vector<Row> rows;
  std::string int8_impl, fp32_impl, runtime_dense_impl = "declined at the FASTBERT_ISA cap";
  std::mt19937_64 rng(1234);
  out << std::setw(5) << "K" << std::setw(6) << "N" << std::setw(6) << "M" << std::setw(5) << "sp%" << std::setw(4)
      << "fam" << std::setw(10)
      << "spmm ms" << std::setw(10) << "int8 ms" << std::setw(10) << "fp32 ms" << std::setw(8) << "x int8"
      << std::setw(8) << "x fp32" << std::setw(8) << "GOP/s" << std::setw(7) << "%peak" << std::setw(9) << "pack ms"
      << std::setw(9) << "setup ms" << std::setw(8) << "x rtd" << "\n";
  for (const KernelShape& shape : shapes) {
    const int64_t k = shape.k, n = shape.n;
    std::uniform_int_distribution<int> wd(-127, 127), xd(0, 255);
    std::vector<int8_t> dense_w(size_t(n * k));
    for (auto& v : dense_w) v = int8_t(wd(rng));
    std::vector<float> w_scales(size_t(n), 0.01f), bias(size_t(n), 0.5f), dense_wf(dense_w.size());
    for (size_t i = 0; i < dense_w.size(); ++i) dense_wf[i] = float(dense_w[i]) * 0.01f;
    for (int64_t m : ms) {
      std::vector<uint8_t> x_features(size_t(k * m));
      for (auto& v : x_features) v = uint8_t(xd(rng));
      std::vector<uint8_t> x_tokens(x_features.size());
      for (int64_t i = 0; i < m; ++i)
        for (int64_t p = 0; p < k; ++p) x_tokens[i * k + p] = x_features[p * m + i];
      std::vector<float> x_float(x_tokens.size());
      for (size_t i = 0; i < x_tokens.size(); ++i) x_float[i] = float(x_tokens[i]) * 0.02f;
      InputRing<uint8_t> ring_spmm(x_features, o.fresh), ring_int8(x_tokens, o.fresh);
      InputRing<float> ring_fp32(x_float, o.fresh);
      std::vector<float> y_init(size_t(n * m));
      AlignedBuffer<float> y_buf(y_init);
      float* const y_data = y_buf.data;

      // Dense engines do not depend on the sparsity: built once per (shape, M).
      const DenseLinear int8({m, k, n, DenseType::u8, false, false, 0.02f}, dense_w.data(), w_scales.data(), bias.data());
      const DenseLinear fp32({m, k, n, DenseType::f32}, dense_wf.data(), nullptr, bias.data());
      int8_impl = int8.implementation();
      fp32_impl = fp32.implementation();
      std::unique_ptr<DenseInt8Primitive> runtime_dense;
      if (DenseInt8Primitive::builds_at_isa_cap()) {
        runtime_dense = std::make_unique<DenseInt8Primitive>(dense_w.data(), w_scales.data(), n, k, SpmmDesc{});
        runtime_dense_impl = runtime_dense->implementation();
      }

      std::vector<uint8_t> x_quads(size_t(quad_layout_bytes(k, m)));
      reorder_to_quads(x_features.data(), m, k, m, x_quads.data(), m);
      InputRing<uint8_t> ring_1x4(x_quads, o.fresh);

      for (double sp : sparsities) {
        const uint64_t seed = uint64_t(k * 131 + n * 7 + int64_t(sp));
        const auto mask = random_block_mask_4x1(n, k, sp / 100.0, seed);
        const auto mask_1x4 = random_block_mask_1x4(n, k, sp / 100.0, seed);
        std::vector<int8_t> masked(dense_w.size()), masked_1x4(dense_w.size());
        for (size_t i = 0; i < masked.size(); ++i) {
          masked[i] = mask[i] ? dense_w[i] : 0;
          masked_1x4[i] = mask_1x4[i] ? dense_w[i] : 0;
        }
        auto t0 = Clock::now();
        auto packed = std::make_shared<BlockSparseMatrix>(pack_4x1(masked.data(), n, k, mask.data(), w_scales.data()));
        const double pack_ms = seconds_since(t0) * 1e3;
        t0 = Clock::now();
        const SpmmPrimitive spmm(packed, SpmmDesc{});
        const double setup_ms = seconds_since(t0) * 1e3;
        t0 = Clock::now();
        auto packed_1x4 = std::make_shared<BlockSparse1x4Matrix>(
            pack_1x4(masked_1x4.data(), n, k, mask_1x4.data(), w_scales.data()));
        const double pack_1x4_ms = seconds_since(t0) * 1e3;
        t0 = Clock::now();
        const Spmm1x4Primitive spmm_1x4(packed_1x4, SpmmDesc{});
        const double setup_1x4_ms = seconds_since(t0) * 1e3;

        auto spmm_args = [&](const uint8_t* x) {
          SpmmArgs a;
          a.x = x;
          a.ldx = m;
          a.m = m;
          a.x_scale = 0.02f;
          a.bias = bias.data();
          a.y = y_data;
          a.ldy = m;
          return a;
        };
        Engine e_spmm{[&] { spmm.execute(spmm_args(ring_spmm.get())); }};
        Engine e_1x4{[&] { spmm_1x4.execute(spmm_args(ring_1x4.get())); }};
        Engine e_int8{[&] { int8.execute(ring_int8.get(), y_data); }};
        Engine e_fp32{[&] { fp32.execute(ring_fp32.get(), y_data); }};
        Engine e_dense{[&] { runtime_dense->execute(spmm_args(ring_spmm.get())); }};
        std::vector<Engine*> engines = {&e_spmm, &e_1x4, &e_int8, &e_fp32};
        if (runtime_dense) engines.push_back(&e_dense);
        for (Engine* e : engines) e->calibrate();
        for (int r = 0; r < o.repeats; ++r)
          for (Engine* e : engines) e->sample(o.cpu_time);
        const double runtime_dense_ms = runtime_dense ? median(e_dense.samples) * 1e3 : 0.0;

        const double int8_ms = median(e_int8.samples) * 1e3, fp32_ms = median(e_fp32.samples) * 1e3;
        auto add_row = [&](const char* family, const Engine& e, int64_t nonzero_macs_per_token, double pack,
                           double setup) {
          Row row{k, n, m, sp, family};
          row.spmm_ms = median(e.samples) * 1e3;
          row.int8_ms = int8_ms;
          row.fp32_ms = fp32_ms;
          // Useful work only: nonzero weights x M tokens, 2 ops per MAC.
          const double ops = 2.0 * double(nonzero_macs_per_token) * double(m);
          row.gops = ops / (row.spmm_ms * 1e-3) * 1e-9;
          row.peak_pct = peak.gops > 0 ? 100.0 * row.gops / peak.gops : 0.0;
          row.pack_ms = pack;
          row.setup_ms = setup;
          row.runtime_dense_ms = runtime_dense_ms;
          rows.push_back(row);
          out << std::setw(5) << k << std::setw(6) << n << std::setw(6) << m << std::setw(5) << std::setprecision(0)
              << sp << std::setw(4) << family << std::setprecision(3) << std::setw(10) << row.spmm_ms << std::setw(10)
              << row.int8_ms << std::setw(10) << row.fp32_ms << std::setprecision(2) << std::setw(8)
              << row.int8_ms / row.spmm_ms << std::setw(8) << row.fp32_ms / row.spmm_ms << std::setprecision(0)
              << std::setw(8) << row.gops << std::setprecision(1) << std::setw(7) << row.peak_pct
              << std::setprecision(2) << std::setw(9) << row.pack_ms << std::setprecision(3) << std::setw(9)
              << row.setup_ms << std::setprecision(2) << std::setw(8)
              << (row.runtime_dense_ms > 0 ? row.runtime_dense_ms / row.spmm_ms : 0.0) << std::endl;
        };
        add_row("4x1", e_spmm, packed->nonzero_blocks() * 4, pack_ms, setup_ms);
        add_row("1x4", e_1x4, packed_1x4->blocks() * 4, pack_1x4_ms, setup_1x4_ms);
      }
    }
  }
  out << "oneDNN int8: " << int8_impl << "; oneDNN fp32: " << fp32_impl
      << "; x rtd: speed-up over the runtime's dense int8 (" << runtime_dense_impl << ")\n";
  if (!o.csv.empty()) write_csv(o.csv, rows, peak, threads, o.fresh, o.cpu_time, int8_impl, fp32_impl, runtime_dense_impl,
                              codegen_ms);
  if (!o.plot.empty()) write_plot(o.plot, rows, peak, threads, o.fresh);
}

}  // namespace fastbert::bench
