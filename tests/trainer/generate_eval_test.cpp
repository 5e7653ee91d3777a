// Generation (KV cache, sampling) and evaluation (perplexity, multiple choice, bias pairs).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "reference.h"
#include "test_util.h"
#include "trainer/checkpoint.h"
#include "trainer/codec.h"
#include "trainer/eval.h"
#include "trainer/generate.h"

namespace kiln::trainer {
namespace {

using kiln::testing::TempDir;

struct Loaded {
  std::unique_ptr<Backend> backend = make_cpu_backend({.threads = 1});
  std::unique_ptr<GPT> model;
  explicit Loaded(const std::string& name) {
    Checkpoint ck = read_llmc_checkpoint(testing::fixture_path(name + "_model.bin"));
    model = std::make_unique<GPT>(ck.config, *backend);
    model->upload_params(ck.params);
  }
};

class Decode : public ::testing::TestWithParam<const char*> {};

TEST_P(Decode, KvCacheLogitsMatchTheFullForward) {
  Loaded m(GetParam());
  GPT& model = *m.model;
  const int T = 12, Vp = model.config().padded_vocab();
  std::vector<int32_t> tokens(T);
  for (int t = 0; t < T; t++) tokens[t] = (t * 11 + 3) % model.config().vocab_size;
  model.forward(tokens.data(), nullptr, 1, T);
  std::vector<float> full((size_t)T * Vp), step(Vp);
  m.backend->to_host(full.data(), model.logits(), full.size());
  model.decode_reset(1);
  for (int t = 0; t < T; t++) {
    model.decode_step(&tokens[t], step.data());
    EXPECT_LT(testing::normalized_error(step.data(), full.data() + (size_t)t * Vp, Vp), 1e-6) << "position " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Decode, ::testing::Values("gpt_tiny", "gpt_rope_rms"));

TEST(Sampling, GreedyTopKTopPAndSeeds) {
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f), std::log(0.3f) - 1e-6f};
  Rng rng(1);
  EXPECT_EQ(sample_token(logits.data(), 4, {.temperature = 0.0f}, rng), 0);
  EXPECT_EQ(sample_token(logits.data(), 4, {.top_k = 1}, rng), 0);
  EXPECT_EQ(sample_token(logits.data(), 4, {.top_p = 0.01f}, rng), 0);
  std::set<int> seen;
  for (int i = 0; i < 500; i++) seen.insert(sample_token(logits.data(), 3, {.top_p = 0.6f}, rng));
  EXPECT_EQ(seen, (std::set<int>{0, 1}));  // 0.5 < 0.6 <= 0.5 + 0.3: the nucleus is {0, 1}
  seen.clear();
  for (int i = 0; i < 500; i++) seen.insert(sample_token(logits.data(), 3, {.top_k = 2}, rng));
  EXPECT_EQ(seen, (std::set<int>{0, 1}));
}

TEST(Generate, SeededAndRunsPastTheContext) {
  Loaded m("gpt_tiny");
  const std::vector<int32_t> prompt = {1, 2, 3};
  const SampleOptions s{.temperature = 0.9f, .top_k = 20, .seed = 5};
  const auto a = generate(*m.model, prompt, 40, s), b = generate(*m.model, prompt, 40, s);  // 43 > block_size 16
  EXPECT_EQ(a.size(), 40u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, generate(*m.model, prompt, 40, {.temperature = 0.9f, .top_k = 20, .seed = 6}));
  const auto stopped = generate(*m.model, prompt, 40, {.temperature = 0.0f, .stop_token = a.empty() ? 0 : -1},
                                [](int32_t) { return false; });
  EXPECT_EQ(stopped.size(), 1u);
}

TEST(Eval, PerplexityWindowsScoreEveryTokenOnce) {
  Loaded m("gpt_tiny");
  GPT& model = *m.model;
  std::vector<int32_t> t(50);
  for (size_t i = 0; i < t.size(); i++) t[i] = (int32_t)((i * 13 + 5) % 61);
  const TokenArray data(t);
  const auto disjoint = evaluate_perplexity(model, data, {.seq_len = 16});
  EXPECT_EQ(disjoint.tokens, 49u);
  // By hand: windows [0,16) [16,32) [32,48) and the tail [48,49).
  double nll = 0.0;
  for (int begin : {0, 16, 32, 48}) {
    const int len = std::min(16, 49 - begin);
    nll += model.forward(&t[begin], &t[begin + 1], 1, len) * len;
  }
  EXPECT_NEAR(disjoint.loss, nll / 49, 1e-5);
  EXPECT_NEAR(disjoint.perplexity, std::exp(disjoint.loss), 1e-3);
  EXPECT_NEAR(disjoint.bits_per_byte, disjoint.loss / std::log(2.0), 1e-6);
  const auto sliding = evaluate_perplexity(model, data, {.seq_len = 16, .stride = 4});
  EXPECT_EQ(sliding.tokens, 49u);
  EXPECT_NE(sliding.loss, disjoint.loss);  // more context per token
}

// Masked perplexity over "A <eot> B": the tokens of A (and B's first token, predicted from
// A's end) see A only; the rest of B sees B only — with RoPE that is exactly B scored alone.
TEST(Eval, PerplexityWithDocumentMasking) {
  auto backend = make_cpu_backend({.threads = 1});
  GPTConfig config{.max_seq_len = 16, .vocab_size = 61, .num_layers = 2, .num_heads = 2, .channels = 32};
  config.position = PositionEncoding::kRope;
  GPT model(config, *backend);
  model.init_random(9);
  const int32_t E = 60;
  const std::vector<int32_t> a = {3, 14, 15, 9, 26, 5, E}, b = {35, 8, 9, 7, 9, 3, 2, 38};
  std::vector<int32_t> t = a;
  t.insert(t.end(), b.begin(), b.end());
  const TokenArray data(t);
  const auto masked = evaluate_perplexity(model, data, {.seq_len = 16, .end_of_document = E});
  const auto plain = evaluate_perplexity(model, data, {.seq_len = 16});
  ASSERT_EQ(masked.tokens, 14u);
  const double a_part = model.forward(&t[0], &t[1], 1, 7) * 7.0;  // targets A[1..], E, B[0]
  const double b_part = model.forward(&b[0], &b[1], 1, 7) * 7.0;  // B alone
  EXPECT_NEAR(masked.loss * 14, a_part + b_part, 1e-4);
  EXPECT_GT(std::fabs(plain.loss - masked.loss), 1e-4);
}

TEST(Eval, ContinuationLoglikelihoodIsSumOfLogSoftmax) {
  Loaded m("gpt_tiny");
  GPT& model = *m.model;
  const std::vector<int32_t> ctx = {4, 8, 15}, cont = {16, 23, 42};
  const double ll = continuation_loglikelihood(model, ctx, cont);
  std::vector<int32_t> x = {4, 8, 15, 16, 23};
  model.forward(x.data(), nullptr, 1, 5);
  const int Vp = model.config().padded_vocab(), V = model.config().vocab_size;
  std::vector<float> logits(5 * Vp);
  m.backend->to_host(logits.data(), model.logits(), logits.size());
  double want = 0.0;
  for (int pos = 2; pos < 5; pos++) {  // positions predicting 16, 23, 42
    const float* l = logits.data() + pos * Vp;
    double mx = *std::max_element(l, l + V), sum = 0.0;
    for (int i = 0; i < V; i++) sum += std::exp(l[i] - mx);
    want += l[cont[pos - 2]] - mx - std::log(sum);
  }
  EXPECT_NEAR(ll, want, 1e-4);
}

TEST(Eval, MultipleChoiceReadsHarnessFormatAndScores) {
  TempDir dir;
  write_file(dir.path("mc.jsonl"),
             "{\"ctx\": \"A man [title] sits.\", \"endings\": [\"He  stands.\", \"[step] He runs.\"], \"label\": 1}\n"
             "{\"ctx_a\": \"She\", \"ctx_b\": \"WALKS\", \"activity_label\": \"Go\", \"endings\": [\"x\", \"y\"], "
             "\"label\": \"0\"}\n");
  const auto items = read_multiple_choice_jsonl(dir.path("mc.jsonl"));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].context, "A man. sits.");
  EXPECT_EQ(items[0].endings[0], "He stands.");
  EXPECT_EQ(items[0].endings[1], " He runs.");  // the harness strips before removing tags
  EXPECT_EQ(items[1].context, "Go: She Walks");
  EXPECT_EQ(items[1].label, 0);
  // A byte-level model: Vp must cover 256 token ids.
  auto backend = make_cpu_backend({.threads = 1});
  GPT model({.max_seq_len = 32, .vocab_size = 256, .num_layers = 1, .num_heads = 2, .channels = 16}, *backend);
  model.init_random(3);
  const auto r = evaluate_multiple_choice(model, items, byte_tokens);
  EXPECT_EQ(r.items, 2u);
  // Recompute acc by hand from the log-likelihoods.
  double right = 0;
  for (const auto& item : items) {
    std::vector<double> ll;
    for (const auto& e : item.endings)
      ll.push_back(continuation_loglikelihood(model, byte_tokens(item.context), byte_tokens(" " + e)));
    right += (std::max_element(ll.begin(), ll.end()) - ll.begin()) == item.label;
  }
  EXPECT_DOUBLE_EQ(r.acc, right / 2);
}

TEST(Eval, CrowsPairsCsvAndBiasProbe) {
  TempDir dir;
  write_file(dir.path("pairs.csv"),
             ",sent_more,sent_less,stereo_antistereo\n"
             "0,\"He said \"\"hi\"\", then left.\",She said hi.,stereo\n"
             "1,\"multi\nline\",plain,antistereo\n");
  const auto pairs = read_crows_pairs_csv(dir.path("pairs.csv"));
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].more, "He said \"hi\", then left.");
  EXPECT_EQ(pairs[1].more, "multi\nline");
  auto backend = make_cpu_backend({.threads = 1});
  GPT model({.max_seq_len = 32, .vocab_size = 256, .num_layers = 1, .num_heads = 2, .channels = 16}, *backend);
  model.init_random(4);
  const auto r = evaluate_bias_pairs(model, pairs, byte_tokens);
  EXPECT_EQ(r.pairs, 2u);
  EXPECT_GE(r.pct_stereotype, 0.0);
  EXPECT_LE(r.pct_stereotype, 1.0);
  EXPECT_GT(r.mean_loglik_gap, 0.0);
  // Conditioned on an end-of-text token (the harness's way), every token of a sentence is
  // scored: the log-likelihood is the sum over all of them, which the first-token
  // conditioning leaves out one of.
  const int32_t eot = 10;
  const std::vector<SentencePair> one = {{"ab", "b"}};
  const auto with_eot = evaluate_bias_pairs(model, one, byte_tokens, eot);
  const double more = continuation_loglikelihood(model, {eot}, byte_tokens("ab"));
  const double less = continuation_loglikelihood(model, {eot}, byte_tokens("b"));
  EXPECT_NEAR(with_eot.mean_loglik_gap, std::fabs(more - less), 1e-9);
  EXPECT_EQ(with_eot.pct_stereotype, more > less ? 1.0 : 0.0);
  // Without it, "b" (one token) has nothing to score.
  const auto without = evaluate_bias_pairs(model, one, byte_tokens);
  EXPECT_NEAR(without.mean_loglik_gap, std::fabs(continuation_loglikelihood(model, {'a'}, {'b'})), 1e-9);
}

TEST(Codec, BytesAndHfTokenizer) {
  const TextCodec bytes = load_codec("");
  EXPECT_EQ(bytes.vocab_size, 256);
  EXPECT_EQ(bytes.decode(bytes.encode("h\xc3\xa9")), "h\xc3\xa9");
  // The tokenizer library's own fixture: a small byte-level BPE trained by kiln.
  const TextCodec bpe = load_codec(std::string(KILN_TEST_DATA_DIR) + "/tokenizer/kiln_trained_gpt2.json.zst");
  EXPECT_GT(bpe.vocab_size, 256);
  const std::string text = "To be, or not to be: that is the question.";
  const auto ids = bpe.encode(text);
  EXPECT_LT(ids.size(), text.size());  // merges happened
  EXPECT_EQ(bpe.decode(ids), text);
  ASSERT_GE(bpe.eot, 0);  // trained with <|endoftext|>
  EXPECT_EQ(bpe.decode({bpe.eot}), "<|endoftext|>");
  EXPECT_EQ(bytes.eot, -1);
  EXPECT_THROW(load_codec("/nonexistent/tokenizer.json"), Error);
  // tiktoken ranks (a subset of GPT-2's): pattern and <|endoftext|> = 50256 from the name.
  const TextCodec ranks = load_codec(std::string(KILN_TEST_DATA_DIR) + "/tokenizer/ranks/gpt2.subset.tiktoken.zst");
  EXPECT_EQ(ranks.eot, 50256);
  EXPECT_EQ(ranks.vocab_size, 50257);
  EXPECT_EQ(ranks.decode(ranks.encode(text)), text);
}

}  // namespace
}  // namespace kiln::trainer
