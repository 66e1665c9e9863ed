// The one ISA lattice seen from every kernel family: FASTBERT_ISA is read
// once, a level the CPU lacks is refused with one message whoever asks, and
// the default choice of every family is the best entry of its table that the
// cap allows, computing what the reference entry computes. The ctest variants
// kernels_ops_forced_isa_<level> run these under FASTBERT_ISA=<level>.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fastbert/common/error.h"
#include "fastbert/kernels/attention.h"
#include "fastbert/kernels/gelu.h"
#include "fastbert/kernels/isa.h"
#include "fastbert/kernels/layer_norm.h"
#include "fastbert/kernels/softmax.h"
#include "fastbert/kernels/spmm.h"
#include "ops_test_util.h"

namespace fastbert {
namespace {

using kernels::Isa;

// What `call` threw, or "" if it did not.
template <class F>
std::string error_of(F&& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The entry select_kernel() must pick: the first whose level the CPU has and
// the cap allows.
template <class Kernel>
const char* best_allowed(const std::vector<Kernel>& table) {
  for (const Kernel& k : table)
    if (kernels::cpu_supports(k.isa) && k.isa <= kernels::isa_cap()) return k.name;
  return "";
}

// Under a FASTBERT_ISA the CPU lacks, nothing may run: every family refuses.
bool cap_refused() {
  const char* env = std::getenv("FASTBERT_ISA");
  return env && *env && error_of([] { kernels::isa_cap(); }) != "";
}

TEST(IsaDispatch, EveryFamilyRefusesALevelTheCpuLacksWithTheOneMessage) {
  if (cap_refused()) GTEST_SKIP() << "FASTBERT_ISA names a level this CPU lacks (IsaDispatch.ARefusedOverride...)";
  std::vector<Isa> lacking;
  for (Isa isa : kernels::all_isas())
    if (!kernels::cpu_supports(isa)) lacking.push_back(isa);
  if (lacking.empty()) GTEST_SKIP() << "this CPU supports every level of the lattice";
  for (Isa isa : lacking) {
    const std::string name = kernels::isa_name(isa);
    // The one message, whoever asks.
    auto expect = [&](const std::string& who, const std::string& got) {
      EXPECT_EQ(got, kernels::unsupported_isa_message(who, isa));
      EXPECT_NE(got.find("asks for an instruction set this CPU does not support: " + name + " (it supports reference"),
                std::string::npos)
          << got;
    };
    expect("FASTBERT_ISA=" + name, error_of([&] { kernels::isa_cap_from(name); }));

    std::vector<int8_t> w(16, 1);
    const auto packed = std::make_shared<kernels::BlockSparseMatrix>(kernels::pack_4x1(w.data(), 4, 4));
    kernels::SpmmDesc desc;
    desc.isa = isa;
    expect("SpmmPrimitive", error_of([&] { kernels::SpmmPrimitive(packed, desc); }));

    // An entry of this level, as a table on a CPU that has it would hold it.
    std::vector<float> x(16, 1.0f), y(16), gamma(4, 1.0f), beta(4, 0.0f);
    LayerNormKernel ln = layer_norm_kernels().back();
    ln.isa = isa;
    LayerNormArgs la;
    la.features = 4, la.tokens = 4, la.x = x.data(), la.ld_x = 4, la.gamma = gamma.data(), la.beta = beta.data();
    la.y = y.data(), la.ld_y = 4;
    expect(std::string("layer_norm: ") + ln.name, error_of([&] { layer_norm(la, ln); }));

    GeluKernel ge = gelu_kernels().back();
    ge.isa = isa;
    GeluArgs ga;
    ga.rows = 4, ga.cols = 4, ga.x = x.data(), ga.ld_x = 4, ga.y = y.data(), ga.ld_y = 4;
    expect(std::string("gelu: ") + ge.name, error_of([&] { gelu(ga, ge); }));

    SoftmaxKernel sm = softmax_kernels().front();
    sm.isa = isa;
    expect(std::string("softmax: ") + sm.name, error_of([&] { softmax(x.data(), 4, y.data(), 4, 4, 4, sm); }));

    // Attention's own table entries of this level (bf16_amx without AMX).
    for (const AttentionKernel& k : attention_kernels())
      if (k.isa == isa)
        expect(std::string("attention: ") + attention_path_name(k.path),
               error_of([&] { resolve_attention_path(k.path, AttentionShape{1, 8, 1, 64}); }));
  }
}

TEST(IsaDispatch, OverrideIsReadOnceChangingItLaterChangesNothing) {
  if (cap_refused()) GTEST_SKIP() << "FASTBERT_ISA names a level this CPU lacks";
  const Isa cap = kernels::isa_cap();
  const char* before = std::getenv("FASTBERT_ISA");
  const std::string saved = before ? before : "";
  const AttentionShape shape{1, 8, 1, 64};
  const AttentionPath attention = resolve_attention_path(AttentionPath::automatic, shape);
  // Values that would lower the cap, or be refused, were they read again.
  for (const char* value : {"reference", "avx1024", "amx"}) {
    setenv("FASTBERT_ISA", value, 1);
    EXPECT_EQ(kernels::isa_cap(), cap) << value;
    EXPECT_EQ(kernels::SpmmDesc{}.isa, cap) << value;
    EXPECT_EQ(resolve_attention_path(AttentionPath::automatic, shape), attention) << value;
    EXPECT_STREQ(kernels::select_kernel(layer_norm_kernels()).name, best_allowed(layer_norm_kernels())) << value;
    std::vector<float> x(16, 2.0f);
    EXPECT_NO_THROW(gelu(x.data(), 4, 4, 4, nullptr)) << value;
  }
  if (before) setenv("FASTBERT_ISA", saved.c_str(), 1);
  else unsetenv("FASTBERT_ISA");
}

TEST(IsaDispatch, ARefusedOverrideIsRefusedByEveryFamilyEveryTime) {
  if (!cap_refused()) GTEST_SKIP() << "only under a FASTBERT_ISA this CPU lacks (ctest kernels_ops_forced_isa_*)";
  const std::string first = error_of([] { kernels::isa_cap(); });
  EXPECT_NE(first.find("FASTBERT_ISA="), std::string::npos) << first;
  std::vector<float> x(16, 1.0f), y(16);
  EXPECT_EQ(error_of([&] { softmax(x.data(), 4, y.data(), 4, 4, 4); }), first);
  EXPECT_EQ(error_of([&] { gelu(x.data(), 4, 4, 4, nullptr); }), first);
  EXPECT_EQ(error_of([&] { resolve_attention_path(AttentionPath::automatic, AttentionShape{}); }), first);
  EXPECT_EQ(error_of([] { kernels::SpmmDesc desc; }), first);
}

// Every family's default under the cap in force: the best table entry the
// cap allows, with the results of the reference entry (bit for bit for GELU,
// within each family's stated tolerance for the fp32 reductions).
TEST(IsaDispatch, DefaultOfEveryFamilyIsTheBestEntryTheCapAllowsAndAgreesWithTheReference) {
  if (cap_refused()) GTEST_SKIP() << "FASTBERT_ISA names a level this CPU lacks";
  EXPECT_STREQ(kernels::select_kernel(layer_norm_kernels()).name, best_allowed(layer_norm_kernels()));
  EXPECT_STREQ(kernels::select_kernel(gelu_kernels()).name, best_allowed(gelu_kernels()));
  EXPECT_STREQ(kernels::select_kernel(softmax_kernels()).name, best_allowed(softmax_kernels()));
  const AttentionShape shape{2, 19, 2, 64};
  const AttentionPath path = resolve_attention_path(AttentionPath::automatic, shape);
  for (const AttentionKernel& k : attention_kernels()) {
    if (!kernels::cpu_supports(k.isa) || k.isa > kernels::isa_cap() || !k.accepts(shape)) continue;
    EXPECT_EQ(path, k.path) << "the first allowed entry that accepts the shape";
    break;
  }
  const int64_t features = 37, tokens = 70, ld = 73;
  const std::vector<float> x = test::random_floats(size_t(features * ld), 3, -4, 4);
  const std::vector<float> r = test::random_floats(size_t(features * ld), 4);
  const std::vector<float> gamma = test::random_floats(size_t(features), 5, 0.5f, 1.5f), beta(size_t(features), 0.1f);
  std::vector<float> got(x.size()), want(x.size());
  LayerNormArgs la;
  la.features = features, la.tokens = tokens, la.x = x.data(), la.ld_x = ld, la.residual = r.data(), la.ld_residual = ld;
  la.gamma = gamma.data(), la.beta = beta.data(), la.ld_y = ld;
  la.y = got.data();
  layer_norm(la);
  la.y = want.data();
  layer_norm(la, layer_norm_kernels().back());
  for (int64_t f = 0; f < features; ++f)
    for (int64_t m = 0; m < tokens; ++m) ASSERT_NEAR(got[f * ld + m], want[f * ld + m], 2e-5f);

  GeluArgs ga;
  ga.rows = features, ga.cols = tokens, ga.x = x.data(), ga.ld_x = ld, ga.ld_y = ld;
  ga.y = got.data();
  gelu(ga);
  ga.y = want.data();
  gelu(ga, gelu_kernels().back());
  for (int64_t f = 0; f < features; ++f)
    for (int64_t m = 0; m < tokens; ++m) ASSERT_EQ(got[f * ld + m], want[f * ld + m]);

  softmax(x.data(), ld, got.data(), ld, features, tokens);
  for (const SoftmaxKernel& k : softmax_kernels())
    if (std::strcmp(k.name, "softmax_twopass_reference") == 0) softmax(x.data(), ld, want.data(), ld, features, tokens, k);
  for (int64_t f = 0; f < features; ++f)
    for (int64_t m = 0; m < tokens; ++m) ASSERT_NEAR(got[f * ld + m], want[f * ld + m], 1e-6 * want[f * ld + m] + 1e-37);
}

}  // namespace
}  // namespace fastbert
