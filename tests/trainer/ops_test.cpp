// Every CPU op's backward against central finite differences of its forward, and the tiled
// attention against a naive (materialized softmax) reference.
//
// The check: for a random projection w, L(x) = sum(w * f(x)); the backward pass with
// dout = w gives dL/dx, compared with (L(x + h e_i) - L(x - h e_i)) / 2h on sampled
// coordinates, computed in double from the fp32 forward (h = 1e-2, so the tolerance is
// a few 1e-3 of the gradient's norm).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "corpus/error.h"
#include "reference.h"
#include "trainer/backend.h"
#include "trainer/rng.h"

namespace kiln::trainer {
namespace {

using testing::normalized_error;

std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = scale * rng.normal();
  return v;
}

double project(const std::vector<float>& y, const std::vector<float>& w) {
  double s = 0.0;
  for (size_t i = 0; i < y.size(); i++) s += (double)y[i] * w[i];
  return s;
}

// Compares `analytic` (dL/dx) with finite differences of `loss(x)` on up to 64 coordinates.
void check_gradient(std::vector<float>& x, const std::vector<float>& analytic, const std::function<double()>& loss,
                    const char* what, double tolerance = 5e-3) {
  std::vector<float> numeric, picked;
  const size_t stride = std::max<size_t>(1, x.size() / 64);
  for (size_t i = 0; i < x.size(); i += stride) {
    const float saved = x[i];
    const float h = 1e-2f;
    x[i] = saved + h;
    const double up = loss();
    x[i] = saved - h;
    const double down = loss();
    x[i] = saved;
    numeric.push_back((float)((up - down) / (2.0 * h)));
    picked.push_back(analytic[i]);
  }
  EXPECT_LT(normalized_error(picked.data(), numeric.data(), picked.size()), tolerance) << what;
}

class Ops : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> be = make_cpu_backend({.threads = 1});
};

TEST_F(Ops, LayerNormGradients) {
  const int N = 6, C = 20;
  auto x = randn(N * C, 1), w = randn(C, 2), b = randn(C, 3), proj = randn(N * C, 4);
  std::vector<float> out(N * C), mean(N), rstd(N);
  auto loss = [&] {
    be->layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
    return project(out, proj);
  };
  loss();
  std::vector<float> dx(N * C, 0.0f), dw(C, 0.0f), db(C, 0.0f);
  be->layernorm_backward(dx.data(), dw.data(), db.data(), proj.data(), x.data(), w.data(), mean.data(), rstd.data(),
                         N, C);
  check_gradient(x, dx, loss, "layernorm dx");
  check_gradient(w, dw, loss, "layernorm dweight");
  check_gradient(b, db, loss, "layernorm dbias");
}

TEST_F(Ops, RmsNormGradients) {
  const int N = 5, C = 24;
  auto x = randn(N * C, 5), w = randn(C, 6), proj = randn(N * C, 7);
  std::vector<float> out(N * C), rstd(N);
  auto loss = [&] {
    be->rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C);
    return project(out, proj);
  };
  loss();
  std::vector<float> dx(N * C, 0.0f), dw(C, 0.0f);
  be->rmsnorm_backward(dx.data(), dw.data(), proj.data(), x.data(), w.data(), rstd.data(), N, C);
  check_gradient(x, dx, loss, "rmsnorm dx");
  check_gradient(w, dw, loss, "rmsnorm dweight");
}

TEST_F(Ops, MatmulGradients) {
  const int N = 7, C = 12, OC = 9;
  auto x = randn(N * C, 8), w = randn(OC * C, 9), b = randn(OC, 10), proj = randn(N * OC, 11);
  std::vector<float> out(N * OC);
  auto loss = [&] {
    be->matmul_forward(out.data(), x.data(), w.data(), b.data(), N, C, OC);
    return project(out, proj);
  };
  loss();
  std::vector<float> dx(N * C), dw(OC * C, 0.0f), db(OC, 0.0f);
  be->matmul_backward(dx.data(), dw.data(), db.data(), proj.data(), x.data(), w.data(), N, C, OC);
  check_gradient(x, dx, loss, "matmul dinp");
  check_gradient(w, dw, loss, "matmul dweight");
  check_gradient(b, db, loss, "matmul dbias");
}

// bf16 linear layers: operands rounded to bf16 (8-bit mantissa), fp32 accumulation, so the
// results sit within bf16 rounding of the fp32 ones, and the same accumulate/overwrite
// contract holds (dweight and dbias +=, dinp overwritten).
std::unique_ptr<Backend> make_bf16_backend_or_skip() {
  try {
    return make_cpu_backend({.threads = 1, .bf16_matmul = true});
  } catch (const Error& e) {
    return nullptr;
  }
}

TEST_F(Ops, Bf16MatmulMatchesFp32WithinRounding) {
  auto bf = make_bf16_backend_or_skip();
  if (!bf) GTEST_SKIP() << "this CPU has no AVX512-BF16/AMX: bf16 matmuls are not offered";
  const int N = 50, C = 70, OC = 90;  // not multiples of any vector or block width
  const auto x = randn(N * C, 21), w = randn(OC * C, 22), b = randn(OC, 23), dout = randn(N * OC, 24);
  const auto dw0 = randn(OC * C, 25), db0 = randn(OC, 26);
  struct Result {
    std::vector<float> out, dx, dw, db;
  };
  auto run = [&](Backend& backend) {
    Result r{std::vector<float>(N * OC), std::vector<float>(N * C, 7.0f), dw0, db0};
    backend.matmul_forward(r.out.data(), x.data(), w.data(), b.data(), N, C, OC);
    backend.matmul_backward(r.dx.data(), r.dw.data(), r.db.data(), dout.data(), x.data(), w.data(), N, C, OC);
    return r;
  };
  const Result f = run(*be), h = run(*bf);
  const auto check = [](const std::vector<float>& lo, const std::vector<float>& ref, const char* what) {
    const double err = normalized_error(lo.data(), ref.data(), ref.size());
    EXPECT_LT(err, 1e-2) << what;
    return err;
  };
  // The products did go through bf16: their error is that of 8-bit mantissas, not zero.
  EXPECT_GT(check(h.out, f.out, "forward"), 1e-4);
  EXPECT_GT(check(h.dx, f.dx, "dinp"), 1e-4);
  // dweight accumulated onto dw0: compare the increments, which carry the bf16 error.
  std::vector<float> inc_h(OC * C), inc_f(OC * C);
  for (int i = 0; i < OC * C; i++) inc_h[i] = h.dw[i] - dw0[i], inc_f[i] = f.dw[i] - dw0[i];
  EXPECT_GT(check(inc_h, inc_f, "dweight increment"), 1e-4);
  EXPECT_LT(normalized_error(h.db.data(), f.db.data(), OC), 1e-6) << "dbias is an fp32 sum either way";
}

// Attention with the (T,T) softmax materialized: the oracle for the tiled version.
void naive_attention(std::vector<float>& out, const std::vector<float>& qkv, int B, int T, int C, int NH, bool causal) {
  const int hs = C / NH;
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++) {
        std::vector<double> p(T, 0.0);
        double mx = -1e30, sum = 0.0;
        const int len = causal ? t + 1 : T;
        for (int j = 0; j < len; j++) {
          double s = 0.0;
          for (int i = 0; i < hs; i++)
            s += (double)qkv[(b * T + t) * 3 * C + h * hs + i] * qkv[(b * T + j) * 3 * C + C + h * hs + i];
          p[j] = s / std::sqrt((double)hs);
          mx = std::max(mx, p[j]);
        }
        for (int j = 0; j < len; j++) sum += p[j] = std::exp(p[j] - mx);
        for (int i = 0; i < hs; i++) {
          double o = 0.0;
          for (int j = 0; j < len; j++) o += p[j] / sum * qkv[(b * T + j) * 3 * C + 2 * C + h * hs + i];
          out[(b * T + t) * C + h * hs + i] = (float)o;
        }
      }
}

class AttentionOp : public Ops, public ::testing::WithParamInterface<std::tuple<int, bool>> {};

TEST_P(AttentionOp, MatchesNaiveAndFiniteDifferences) {
  const auto [T, causal] = GetParam();  // T = 150 spans three 64-key tiles
  const int B = 2, C = 16, NH = 2;
  auto qkv = randn((size_t)B * T * 3 * C, 12), proj = randn((size_t)B * T * C, 13);
  std::vector<float> out((size_t)B * T * C), lse((size_t)B * NH * T), ref(out.size());
  be->attention_forward(out.data(), lse.data(), qkv.data(), B, T, C, NH, causal);
  naive_attention(ref, qkv, B, T, C, NH, causal);
  EXPECT_LT(normalized_error(out.data(), ref.data(), out.size()), 1e-6);
  auto loss = [&] {
    be->attention_forward(out.data(), lse.data(), qkv.data(), B, T, C, NH, causal);
    return project(out, proj);
  };
  loss();
  std::vector<float> dqkv(qkv.size());
  be->attention_backward(dqkv.data(), proj.data(), qkv.data(), out.data(), lse.data(), B, T, C, NH, causal);
  check_gradient(qkv, dqkv, loss, "attention dqkv");
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionOp,
                         ::testing::Values(std::tuple{5, true}, std::tuple{150, true}, std::tuple{7, false}));

// Document masking: each document of a packed row attends only to itself, so its outputs
// equal plain attention over that document alone (the oracle: the document copied into a
// row of its own), its gradients pass finite differences, and nothing of one document
// reaches another. Starts cover a document crossing a 64-key tile, one of a single token,
// and one starting exactly on a tile boundary (64, 128).
class DocumentMaskedAttention : public Ops, public ::testing::WithParamInterface<bool> {};

TEST_P(DocumentMaskedAttention, EachDocumentAttendsToItselfOnly) {
  const bool causal = GetParam();
  const int B = 2, T = 150, C = 16, NH = 2, C3 = 3 * C;
  const std::vector<std::vector<int>> starts = {{0, 10, 70, 128, 129}, {0, 64, 65, 100}};
  std::vector<int32_t> doc_start((size_t)B * T);
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++)
      for (int s : starts[b])
        if (s <= t) doc_start[(size_t)b * T + t] = s;
  auto qkv = randn((size_t)B * T * C3, 31), proj = randn((size_t)B * T * C, 32);
  std::vector<float> out((size_t)B * T * C), lse((size_t)B * NH * T);
  const AttentionSpan span(causal, doc_start.data());
  be->attention_forward(out.data(), lse.data(), qkv.data(), B, T, C, NH, span);
  for (int b = 0; b < B; b++)
    for (size_t d = 0; d < starts[b].size(); d++) {
      const int begin = starts[b][d], end = d + 1 < starts[b].size() ? starts[b][d + 1] : T, len = end - begin;
      std::vector<float> alone(qkv.begin() + ((size_t)b * T + begin) * C3, qkv.begin() + ((size_t)b * T + end) * C3);
      std::vector<float> ref((size_t)len * C);
      naive_attention(ref, alone, 1, len, C, NH, causal);
      EXPECT_LT(normalized_error(out.data() + ((size_t)b * T + begin) * C, ref.data(), ref.size()), 1e-6)
          << "row " << b << " document at " << begin;
    }
  auto loss = [&] {
    be->attention_forward(out.data(), lse.data(), qkv.data(), B, T, C, NH, span);
    return project(out, proj);
  };
  loss();
  std::vector<float> dqkv(qkv.size());
  be->attention_backward(dqkv.data(), proj.data(), qkv.data(), out.data(), lse.data(), B, T, C, NH, span);
  check_gradient(qkv, dqkv, loss, "masked attention dqkv");
  // Only the last document's outputs projected: every earlier document's qkv gets no gradient.
  std::vector<float> last_only(proj.size(), 0.0f);
  for (int t = 129; t < T; t++) std::copy_n(proj.begin() + (size_t)t * C, C, last_only.begin() + (size_t)t * C);
  be->attention_backward(dqkv.data(), last_only.data(), qkv.data(), out.data(), lse.data(), B, T, C, NH, span);
  for (size_t i = 0; i < (size_t)129 * C3; i++) ASSERT_EQ(dqkv[i], 0.0f) << "gradient leaked to position " << i / C3;
}

INSTANTIATE_TEST_SUITE_P(CausalAndBidirectional, DocumentMaskedAttention, ::testing::Values(true, false));

TEST_F(Ops, DocumentStartsAreChecked) {
  const int B = 1, T = 4, C = 4, NH = 1;
  std::vector<float> qkv(T * 3 * C, 0.5f), out(T * C), lse(T);
  for (const std::vector<int32_t>& bad : {std::vector<int32_t>{0, 0, 3, 2}, {1, 1, 1, 1}, {0, 0, 1, 3}}) {
    EXPECT_THROW(be->attention_forward(out.data(), lse.data(), qkv.data(), B, T, C, NH, AttentionSpan(true, bad.data())),
                 Error);
  }
}

TEST_F(Ops, AttentionDecodeMatchesFullAttention) {
  const int B = 2, T = 9, C = 16, NH = 4, maxT = 12;
  auto qkv = randn((size_t)B * T * 3 * C, 14);
  std::vector<float> out((size_t)B * T * C), lse((size_t)B * NH * T);
  be->attention_forward(out.data(), lse.data(), qkv.data(), B, T, C, NH, true);
  std::vector<float> kc((size_t)B * maxT * C), vc(kc.size()), row_qkv((size_t)B * 3 * C), row_out((size_t)B * C);
  for (int t = 0; t < T; t++) {
    for (int b = 0; b < B; b++)
      std::copy_n(qkv.begin() + ((size_t)b * T + t) * 3 * C, 3 * C, row_qkv.begin() + (size_t)b * 3 * C);
    be->attention_decode(row_out.data(), kc.data(), vc.data(), row_qkv.data(), B, t, maxT, C, NH);
    for (int b = 0; b < B; b++)
      EXPECT_LT(normalized_error(row_out.data() + b * C, out.data() + ((size_t)b * T + t) * C, C), 1e-6);
  }
}

TEST_F(Ops, RopeGradientsAndInverse) {
  const int B = 2, T = 5, C = 16, NH = 2;
  auto x = randn((size_t)B * T * 3 * C, 15), proj = randn(x.size(), 16);
  std::vector<float> y;
  auto loss = [&] {
    y = x;
    be->rope_forward(y.data(), B, T, C, NH, 0);
    return project(y, proj);
  };
  loss();
  std::vector<float> dx = proj;
  be->rope_backward(dx.data(), B, T, C, NH);
  check_gradient(x, dx, loss, "rope");
  loss();
  std::vector<float> back = y;  // the backward (inverse rotation) undoes the forward
  be->rope_backward(back.data(), B, T, C, NH);
  EXPECT_LT(normalized_error(back.data(), x.data(), x.size()), 1e-6);
}

TEST_F(Ops, GeluGradients) {
  auto x = randn(100, 17, 2.0f), proj = randn(100, 18);
  std::vector<float> y(100);
  auto loss = [&] {
    be->gelu_forward(y.data(), x.data(), x.size());
    return project(y, proj);
  };
  loss();
  std::vector<float> dx(100);
  be->gelu_backward(dx.data(), x.data(), proj.data(), x.size());
  check_gradient(x, dx, loss, "gelu");
}

TEST_F(Ops, CrossEntropyGradientsIgnoreAndPadding) {
  const int N = 4, V = 10, Vp = 16;
  auto logits = randn(N * Vp, 19);
  std::vector<int32_t> targets = {3, -1, 9, 0};
  std::vector<float> losses(N), lse(N);
  auto loss = [&] {
    be->crossentropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), N, V, Vp);
    double s = 0.0;
    for (float l : losses) s += l;
    return s;
  };
  loss();
  EXPECT_EQ(losses[1], 0.0f);
  std::vector<float> d = logits;
  be->crossentropy_backward(d.data(), lse.data(), targets.data(), 1.0f, N, V, Vp);
  for (int i = 0; i < Vp; i++) EXPECT_EQ(d[1 * Vp + i], 0.0f);     // ignored row
  for (int i = V; i < Vp; i++) EXPECT_EQ(d[0 * Vp + i], 0.0f);     // padding columns
  check_gradient(logits, d, loss, "crossentropy");
}

TEST_F(Ops, EncoderGradients) {
  const int B = 2, T = 3, C = 8, Vp = 5;
  auto wte = randn(Vp * C, 20), wpe = randn(T * C, 21), proj = randn(B * T * C, 22);
  std::vector<int32_t> tokens = {1, 4, 1, 0, 1, 2};  // repeated tokens exercise the scatter-add
  std::vector<float> out(B * T * C);
  auto loss = [&] {
    be->encoder_forward(out.data(), tokens.data(), wte.data(), wpe.data(), B, T, C, 0);
    return project(out, proj);
  };
  loss();
  std::vector<float> dwte(Vp * C, 0.0f), dwpe(T * C, 0.0f);
  be->encoder_backward(dwte.data(), dwpe.data(), proj.data(), tokens.data(), B, T, C);
  check_gradient(wte, dwte, loss, "encoder dwte");
  check_gradient(wpe, dwpe, loss, "encoder dwpe");
}

TEST_F(Ops, AdamWMatchesScalarFormulaAndSumSquares) {
  auto p = randn(1000, 23), g = randn(1000, 24), m = randn(1000, 25, 0.1f), v = randn(1000, 26, 0.1f);
  for (float& x : v) x = x * x;
  auto p2 = p, m2 = m, v2 = v;
  be->adamw_update(p.data(), g.data(), m.data(), v.data(), p.size(), 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 0.3f, 0.7f);
  for (size_t i = 0; i < p2.size(); i++) {
    const double gi = g[i] * 0.7, mi = 0.9 * m2[i] + 0.1 * gi, vi = 0.95 * v2[i] + 0.05 * gi * gi;
    const double want = p2[i] * (1 - 1e-3 * 0.1) - 1e-3 / 0.5 * mi / (std::sqrt(vi) / std::sqrt(0.3) + 1e-8);
    EXPECT_NEAR(p[i], want, 1e-6 * (1 + std::fabs(want)));
  }
  double ss = 0.0;
  for (float x : g) ss += (double)x * x;
  EXPECT_NEAR(be->sum_squares(g.data(), g.size()), ss, 1e-9 * ss);
}

}  // namespace
}  // namespace kiln::trainer
