// The model against PyTorch: logits, loss, every parameter gradient and 10 AdamW steps,
// from fixtures written by scripts/fixtures/trainer/make_gpt_fixture.py (python3-torch 1.13).
#include <gtest/gtest.h>

#include "reference.h"
#include "trainer/checkpoint.h"
#include "trainer/model.h"
#include "trainer/optimizer.h"

namespace kiln::trainer {
namespace {

using testing::normalized_error;

constexpr double kTolerance = 1e-4;  // fp32, normalized error per tensor

class ModelVsTorch : public ::testing::TestWithParam<const char*> {};

TEST_P(ModelVsTorch, LogitsLossGradientsAndAdamWSteps) {
  const std::string name = GetParam();
  Checkpoint ck = read_llmc_checkpoint(testing::fixture_path(name + "_model.bin"));
  auto backend = make_cpu_backend({.threads = 1});
  GPT model(ck.config, *backend);
  model.upload_params(ck.params);
  const auto ref = testing::read_debug_state(name, model.num_params());
  const int B = ref.B, T = ref.T, V = ref.V, Vp = ref.Vp;
  ASSERT_EQ(Vp, model.config().padded_vocab());

  const float loss = model.forward(ref.x.data(), ref.y.data(), B, T);
  std::vector<float> logits((size_t)B * T * Vp), unpadded;
  backend->to_host(logits.data(), model.logits(), logits.size());
  for (int n = 0; n < B * T; n++)
    unpadded.insert(unpadded.end(), logits.begin() + (size_t)n * Vp, logits.begin() + (size_t)n * Vp + V);
  const double logits_err = normalized_error(unpadded.data(), ref.logits.data(), unpadded.size());
  EXPECT_LT(logits_err, kTolerance);
  EXPECT_NEAR(loss, ref.loss, 1e-5 * ref.loss);

  model.zero_grad();
  model.backward();
  std::vector<float> grads(model.num_params());
  backend->to_host(grads.data(), model.grads(), grads.size());
  const auto sizes = parameter_sizes(model.config());
  size_t offset = 0;
  double worst = 0.0;
  for (int i = 0; i < kNumParameterTensors; i++) {
    if (!sizes[i]) continue;
    const double err = normalized_error(grads.data() + offset, ref.grads.data() + offset, sizes[i]);
    EXPECT_LT(err, kTolerance) << "gradient of " << kParameterNames[i];
    worst = std::max(worst, err);
    offset += sizes[i];
  }
  std::printf("  %s: logits error %.2e, worst gradient error %.2e\n", name.c_str(), logits_err, worst);

  // 10 AdamW steps on the same batch, as the script ran them.
  model.upload_params(ck.params);
  AdamW opt(model, AdamWOptions{.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f});
  for (int step = 0; step < ref.steps; step++) {
    const float l = model.forward(ref.x.data(), ref.y.data(), B, T);
    EXPECT_NEAR(l, ref.step_losses[step], 1e-4 * ref.step_losses[step]) << "step " << step;
    model.zero_grad();
    model.backward();
    opt.step(1e-3f);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelVsTorch, ::testing::Values("gpt_tiny", "gpt_rope_rms"));

}  // namespace
}  // namespace kiln::trainer
