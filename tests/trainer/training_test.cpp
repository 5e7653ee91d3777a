// The training loop's guarantees: bit-exact resume, gradient accumulation, overfitting a
// tiny batch, the schedule, checkpoint formats (kiln and llm.c) and the data loader.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "reference.h"
#include "test_util.h"
#include "trainer/checkpoint.h"
#include "trainer/data.h"
#include "trainer/model.h"
#include "trainer/train.h"

namespace kiln::trainer {
namespace {

using kiln::testing::TempDir;

// A deterministic pseudo-text: a repeating pattern with noise, vocab 61 (Vp 64).
TokenArray pseudo_text(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; i++) t[i] = rng.uniform() < 0.8f ? (int32_t)(i * 7 % 61) : (int32_t)rng.below(61);
  return TokenArray(std::move(t));
}

TrainOptions tiny_options() {
  TrainOptions o;
  o.model = {.max_seq_len = 16, .vocab_size = 61, .num_layers = 2, .num_heads = 2, .channels = 32};
  o.batch_size = 4;
  o.seq_len = 16;
  o.grad_accum_steps = 2;
  o.max_steps = 20;
  o.lr = {.max_lr = 3e-3f, .min_lr = 3e-4f, .warmup_steps = 3, .decay_steps = 20};
  o.threads = 1;
  return o;
}

TEST(Training, ResumeIsBitExact) {
  TempDir dir;
  const TokenArray data = pseudo_text(5000, 1);
  for (Objective objective : {Objective::kNextToken, Objective::kMaskedLM}) {
    TrainOptions o = tiny_options();
    o.objective = objective;
    Trainer straight(o, data);
    for (int i = 0; i < 20; i++) straight.step();

    Trainer first(o, data);
    for (int i = 0; i < 10; i++) first.step();
    first.save(dir.path("ck.kiln"));
    TrainOptions resumed_options = o;
    resumed_options.resume_checkpoint = dir.path("ck.kiln");
    Trainer resumed(resumed_options, data);
    EXPECT_EQ(resumed.steps_done(), 10u);
    for (int i = 0; i < 10; i++) resumed.step();

    const auto a = straight.model().download_params(), b = resumed.model().download_params();
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0)
        << "objective " << (int)objective << ": resumed parameters differ from the straight run";
  }
}

TEST(Training, GradientAccumulationMatchesOneBigBatch) {
  const TokenArray data = pseudo_text(5000, 2);
  TrainOptions o = tiny_options();
  o.data_order = DataOrder::kSequential;
  o.grad_accum_steps = 2;
  o.batch_size = 2;
  Trainer accum(o, data);
  o.grad_accum_steps = 1;
  o.batch_size = 4;
  Trainer big(o, data);
  const float la = accum.step(), lb = big.step();
  EXPECT_NEAR(la, lb, 1e-5);
  std::vector<float> ga(accum.model().num_params()), gb(ga.size());
  accum.model().backend().to_host(ga.data(), accum.model().grads(), ga.size());
  big.model().backend().to_host(gb.data(), big.model().grads(), gb.size());
  EXPECT_LT(testing::normalized_error(ga.data(), gb.data(), ga.size()), 1e-5);
}

TEST(Training, OverfitsATinyBatch) {
  // 4 x 16 tokens and nothing else: the model must memorize them.
  Rng rng(3);
  std::vector<int32_t> t(16 * 4 + 1);
  for (auto& x : t) x = (int32_t)rng.below(61);
  const TokenArray data(t);
  TrainOptions o = tiny_options();
  o.data_order = DataOrder::kSequential;
  o.grad_accum_steps = 1;
  o.lr = {.max_lr = 1e-2f, .min_lr = 1e-2f};
  o.adamw.weight_decay = 0.0f;
  o.max_steps = 150;
  Trainer trainer(o, data);
  float loss = 0;
  for (int i = 0; i < o.max_steps; i++) loss = trainer.step();
  EXPECT_LT(loss, 0.05f);
}

// bf16 matmuls on the CPU: the loss curve follows fp32's, and runs are reproducible.
TEST(Training, Bf16MatmulsFollowFp32LossCurve) {
  try {
    make_cpu_backend({.threads = 1, .bf16_matmul = true});
  } catch (const Error&) {
    GTEST_SKIP() << "this CPU has no AVX512-BF16/AMX: bf16 matmuls are not offered";
  }
  const TokenArray data = pseudo_text(5000, 6);
  auto curve = [&](bool bf16) {
    TrainOptions o = tiny_options();
    if (bf16) o.make_backend = [] { return make_cpu_backend({.threads = 1, .bf16_matmul = true}); };
    Trainer trainer(o, data);
    std::vector<float> losses;
    for (int i = 0; i < 20; i++) losses.push_back(trainer.step());
    return losses;
  };
  const auto fp32 = curve(false), bf16 = curve(true), again = curve(true);
  EXPECT_EQ(bf16, again) << "bf16 training is not reproducible";
  EXPECT_NE(bf16, fp32) << "the bf16 run did not use bf16 matmuls";
  for (size_t i = 0; i < fp32.size(); i++) EXPECT_NEAR(bf16[i], fp32[i], 0.02 * fp32[i]) << "step " << i;
  EXPECT_LT(bf16.back(), 0.9f * bf16.front()) << "bf16 training does not learn";
}

TEST(Data, DocumentStartsFromEndTokens) {
  const int32_t E = 9;
  const std::vector<int32_t> tokens = {1, 2, E, 3, 4, 5, E, E,   // row 0
                                       E, 1, 2, 3, 4, 5, 6, 7};  // row 1
  std::vector<int32_t> starts(tokens.size());
  doc_starts_from_end_token(tokens.data(), 2, 8, E, starts.data());
  EXPECT_EQ(starts, (std::vector<int32_t>{0, 0, 0, 3, 3, 3, 3, 7, 0, 1, 1, 1, 1, 1, 1, 1}));
}

// With document masking a document's logits do not depend on the documents packed before
// it in the window; without it they do. With RoPE (relative positions) they equal the
// document's logits when it is run alone.
TEST(Training, DocumentMaskingIsolatesPackedDocuments) {
  const int32_t E = 60;
  for (PositionEncoding position : {PositionEncoding::kLearned, PositionEncoding::kRope}) {
    auto backend = make_cpu_backend({.threads = 1});
    GPTConfig config{.max_seq_len = 16, .vocab_size = 61, .num_layers = 2, .num_heads = 2, .channels = 32};
    config.position = position;
    GPT model(config, *backend);
    model.init_random(5);
    const std::vector<int32_t> doc_b = {7, 3, 11, 5, 2, 19};
    auto window = [&](int32_t first) {  // doc A (5 tokens + EOT), then doc B, then padding of doc C
      std::vector<int32_t> w = {first, 4, 8, 15, 16, E};
      w.insert(w.end(), doc_b.begin(), doc_b.end());
      w.insert(w.end(), {E, 1, 2, 3});
      return w;
    };
    auto logits_of_b = [&](const std::vector<int32_t>& w, bool masked) {
      std::vector<int32_t> starts(w.size());
      doc_starts_from_end_token(w.data(), 1, (int)w.size(), E, starts.data());
      model.forward(w.data(), nullptr, 1, (int)w.size(), AttentionMask::kCausal, masked ? starts.data() : nullptr);
      const int Vp = config.padded_vocab();
      std::vector<float> all(w.size() * Vp);
      backend->to_host(all.data(), model.logits(), all.size());
      return std::vector<float>(all.begin() + 6 * Vp, all.begin() + 12 * Vp);  // doc B's positions
    };
    const auto a = logits_of_b(window(1), true), b = logits_of_b(window(30), true);
    EXPECT_EQ(a, b) << "masked: doc B saw doc A";
    EXPECT_GT(testing::normalized_error(logits_of_b(window(1), false).data(), logits_of_b(window(30), false).data(),
                                        a.size()),
              1e-4)
        << "unmasked: doc A should change doc B's logits";
    if (position == PositionEncoding::kRope) {
      model.forward(doc_b.data(), nullptr, 1, (int)doc_b.size());
      const int Vp = config.padded_vocab();
      std::vector<float> alone(doc_b.size() * Vp);
      backend->to_host(alone.data(), model.logits(), alone.size());
      EXPECT_LT(testing::normalized_error(a.data(), alone.data(), a.size()), 1e-5) << "RoPE: doc B alone";
    }
  }
}

// Training with masking runs end to end and learns; it differs from unmasked training.
TEST(Training, DocumentMaskedTrainingLearns) {
  const TokenArray data = pseudo_text(5000, 7);  // token 0 (every 61st position) ends documents
  TrainOptions o = tiny_options();
  Trainer plain(o, data);
  o.end_of_document = 0;
  Trainer masked(o, data);
  std::vector<float> a, b;
  for (int i = 0; i < 20; i++) a.push_back(plain.step()), b.push_back(masked.step());
  EXPECT_NE(a, b);
  EXPECT_LT(b.back(), 0.9f * b.front());
  EXPECT_GT(masked.evaluate(data, 2), 0.0f);
}

TEST(Training, TrainWritesLogCheckpointAndLlmcFile) {
  TempDir dir;
  const TokenArray data = pseudo_text(3000, 4), val = pseudo_text(1000, 5);
  TrainOptions o = tiny_options();
  o.max_steps = 6;
  o.val_every = 3;
  o.val_batches = 2;
  o.checkpoint_path = dir.path("model.kiln");
  o.llmc_path = dir.path("model.llmc.bin");
  o.log_path = dir.path("log.csv");
  int calls = 0;
  TrainResult r = train(o, data, &val, [&](const TrainProgress& p) {
    calls++;
    EXPECT_EQ(p.step, (uint64_t)calls);
    EXPECT_GT(p.tokens_per_second, 0);
  });
  EXPECT_EQ(calls, 6);
  EXPECT_EQ(r.steps, 6u);
  EXPECT_GT(r.val_loss, 0);
  const std::string log = read_file(o.log_path);
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 7);  // header + 6 steps
  EXPECT_EQ(log.rfind("step,loss,val_loss,lr", 0), 0u);
  const Checkpoint ck = read_checkpoint(o.checkpoint_path), llmc = read_llmc_checkpoint(o.llmc_path);
  EXPECT_EQ(ck.state.step, 6u);
  EXPECT_EQ(ck.params, llmc.params);
}

TEST(Sft, LoaderMasksPromptAndPadding) {
  SftLoader loader({{byte_tokens("ab"), byte_tokens("cd")}},
                   {.batch_size = 1, .seq_len = 6, .order = DataOrder::kSequential, .end_token = 0, .pad_token = 7});
  std::vector<int32_t> x(6), y(6);
  loader.next(x.data(), y.data());
  EXPECT_EQ(x, (std::vector<int32_t>{'a', 'b', 'c', 'd', 0, 7}));
  EXPECT_EQ(y, (std::vector<int32_t>{-1, 'c', 'd', 0, -1, -1}));  // only response and end are targets
}

TEST(Sft, TrainsOnResponsesOnly) {
  TempDir dir;
  write_file(dir.path("sft.jsonl"), "{\"prompt\": \"Q: 2\\nA:\", \"response\": \" 4\"}\n"
                                    "{\"prompt\": \"Q: 3\\nA:\", \"response\": \" 9\"}\n");
  auto examples = read_sft_jsonl(dir.path("sft.jsonl"));
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_EQ(bytes_from_tokens(examples[0].prompt), "Q: 2\nA:");
  TrainOptions o = tiny_options();
  o.model.vocab_size = 256;
  o.grad_accum_steps = 1;
  o.lr = {.max_lr = 1e-2f, .min_lr = 1e-2f};
  o.max_steps = 300;
  o.adamw.weight_decay = 0.0f;
  TrainResult r = train(o, std::make_unique<SftLoader>(examples, SftLoaderOptions{.batch_size = 4, .seq_len = 16}),
                        nullptr);
  EXPECT_LT(r.final_loss, 0.1f);  // 2 response tokens per example: memorized
  EXPECT_EQ(r.steps, 300u);
}

TEST(Checkpoint, LlmcRoundTripIsByteIdentical) {
  // The fixture is an llm.c file (kiln's extension slots are 0 for this GPT-2 config).
  TempDir dir;
  const std::string original = testing::fixture_path("gpt_tiny_model.bin");
  const Checkpoint ck = read_llmc_checkpoint(original);
  EXPECT_EQ(ck.config.num_layers, 2);
  EXPECT_EQ(ck.config.vocab_size, 61);
  EXPECT_EQ(ck.config.padded_vocab(), 64);
  write_llmc_checkpoint(dir.path("copy.bin"), ck.config, ck.params);
  EXPECT_EQ(read_file(dir.path("copy.bin")), read_file(original));
  EXPECT_EQ(read_any_checkpoint(original).params, ck.params);
}

TEST(Checkpoint, ErrorsNameTheFileAndTheProblem) {
  TempDir dir;
  const std::string bytes = read_file(testing::fixture_path("gpt_tiny_model.bin"));
  write_file(dir.path("short.bin"), bytes.substr(0, bytes.size() - 4));
  try {
    read_llmc_checkpoint(dir.path("short.bin"));
    FAIL() << "a truncated file was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("short.bin"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bytes"), std::string::npos) << e.what();
  }
  write_file(dir.path("junk.kiln"), std::string(600, 'x'));
  EXPECT_THROW(read_checkpoint(dir.path("junk.kiln")), Error);
}

TEST(Config, TomlFileAndErrors) {
  TempDir dir;
  write_file(dir.path("m.toml"),
             "[model]\nn_layer = 3\nn_head = 4\nn_embd = 64\nblock_size = 128\nvocab_size = 50257\n"
             "position = \"rope\"\nnorm = \"rmsnorm\"\n");
  GPTConfig c;
  read_model_config(dir.path("m.toml"), c);
  EXPECT_EQ(c.num_layers, 3);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.channels, 64);
  EXPECT_EQ(c.max_seq_len, 128);
  EXPECT_EQ(c.padded_vocab(), 50304);  // 50257 rounded up to a multiple of 64
  EXPECT_EQ(c.position, PositionEncoding::kRope);
  EXPECT_EQ(c.norm, NormKind::kRmsNorm);
  write_file(dir.path("bad.toml"), "[model]\nn_head = 5\nn_embd = 64\n");
  try {
    read_model_config(dir.path("bad.toml"), c);
    FAIL() << "n_embd 64 with 5 heads was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("n_head"), std::string::npos) << e.what();
  }
  write_file(dir.path("typo.toml"), "[model]\nnorm = \"batchnorm\"\n");
  EXPECT_THROW(read_model_config(dir.path("typo.toml"), c), Error);
}

TEST(Schedule, WarmupThenCosineToMin) {
  const LrSchedule s{.max_lr = 1.0f, .min_lr = 0.1f, .warmup_steps = 10, .decay_steps = 110};
  EXPECT_FLOAT_EQ(cosine_lr(s, 0), 0.1f);
  EXPECT_FLOAT_EQ(cosine_lr(s, 9), 1.0f);
  EXPECT_FLOAT_EQ(cosine_lr(s, 10), 1.0f);
  EXPECT_NEAR(cosine_lr(s, 60), 0.55f, 1e-6);  // halfway: (max + min) / 2
  EXPECT_FLOAT_EQ(cosine_lr(s, 110), 0.1f);
  EXPECT_FLOAT_EQ(cosine_lr(s, 500), 0.1f);
  EXPECT_FLOAT_EQ(cosine_lr({.max_lr = 0.5f}, 123), 0.5f);
}

TEST(Data, TokenFilesAndLoaderCursor) {
  TempDir dir;
  std::vector<int32_t> tokens(100);
  for (int i = 0; i < 100; i++) tokens[i] = i * 600;
  write_token_file(dir.path("train.bin"), tokens);
  EXPECT_EQ(open_token_file(dir.path("train.bin"))->tokens(), tokens);
  // An llm.c shard: int32[256] header (magic 20240520, version 1, count), uint16 tokens.
  std::string shard(1024, '\0');
  const int32_t h[3] = {20240520, 1, 100};
  std::memcpy(shard.data(), h, sizeof h);
  shard += read_file(dir.path("train.bin"));
  write_file(dir.path("shard.bin"), shard);
  EXPECT_EQ(open_token_file(dir.path("shard.bin"))->tokens(), tokens);

  const TokenArray data(tokens);
  DataLoader seq(data, {.batch_size = 2, .seq_len = 10, .order = DataOrder::kSequential});
  std::vector<int32_t> x(20), y(20);
  for (int i = 0; i < 4; i++) seq.next(x.data(), y.data());  // 80 tokens; the 5th batch wraps
  seq.next(x.data(), y.data());
  EXPECT_EQ(x[0], 80 * 600);
  EXPECT_EQ(x[10], 0);  // 90 + 11 > 100: back to the start
  EXPECT_EQ(y[10], 600);
}

TEST(Data, RandomLoaderResumesFromCursor) {
  const TokenArray data = pseudo_text(1000, 6);
  DataLoader a(data, {.batch_size = 3, .seq_len = 8, .order = DataOrder::kRandom, .seed = 9});
  std::vector<int32_t> x(24), y(24), x2(24), y2(24);
  a.next(x.data(), y.data());
  const DataCursor c = a.cursor();
  a.next(x.data(), y.data());
  DataLoader b(data, {.batch_size = 3, .seq_len = 8, .order = DataOrder::kRandom, .seed = 1});
  b.restore(c);
  b.next(x2.data(), y2.data());
  EXPECT_EQ(x, x2);
  EXPECT_EQ(y, y2);
}

TEST(Data, ByteTokensRoundTrip) {
  const std::string text = "To be, or not\xc3\xa9";
  const auto t = byte_tokens(text);
  EXPECT_EQ(t.size(), text.size());
  EXPECT_EQ(t.back(), 0xa9);
  EXPECT_EQ(bytes_from_tokens(t), text);
}

}  // namespace
}  // namespace kiln::trainer
