// BPE training against HF tokenizers (npm `tokenizers` 0.23.2, default BpeTrainer) on the
// same corpus, and golden tests that pin the tie-break and id rules.
#include <gtest/gtest.h>

#include <algorithm>

#include "corpus/stream.h"
#include "fixtures.h"
#include "tokenizer/trainer.h"

namespace kiln::tokenizer {
namespace {

std::vector<std::string> merge_strings(const Tokenizer& tok) {
  std::vector<std::string> out;
  for (auto [a, b] : tok.merges()) out.push_back(std::string(*tok.token_bytes(a)) + " " + std::string(*tok.token_bytes(b)));
  return out;
}

// The settings of the node binding's Tokenizer.train(): BpeTrainer::default().
TrainerOptions hf_default_options() {
  TrainerOptions o;
  o.vocab_size = 30000;
  o.all_bytes_in_alphabet = false;
  return o;
}

struct Variant {
  const char* file;
  Pattern pattern;
  bool add_prefix_space;
};

TEST(Trainer, MergesAndVocabEqualHfTokenizers) {
  const Variant variants[] = {{"gpt2", Pattern::kGpt2, false},
                              {"gpt2_prefix", Pattern::kGpt2, true},
                              {"cl100k", Pattern::kCl100k, false},
                              {"o200k", Pattern::kO200k, false}};
  for (const Variant& v : variants) {
    TrainerOptions o = hf_default_options();
    o.pattern = v.pattern;
    o.add_prefix_space = v.add_prefix_space;
    BpeTrainer trainer(o);
    trainer.add_files({testing::data_path("corpus_shakespeare.txt.zst")});
    const Tokenizer got = trainer.train();
    const Tokenizer want =
        Tokenizer::from_hf_json(testing::data_path(std::string("hf_trained_") + v.file + "_special.json.zst"));
    ASSERT_GT(want.merges().size(), 5000u) << v.file;
    const auto got_merges = merge_strings(got), want_merges = merge_strings(want);
    ASSERT_EQ(got_merges.size(), want_merges.size()) << v.file;
    for (size_t i = 0; i < want_merges.size(); ++i) {
      ASSERT_EQ(got_merges[i], want_merges[i]) << v.file << ": merge " << i;
    }
    ASSERT_EQ(got.num_tokens(), want.num_tokens()) << v.file;
    for (uint32_t id = 0; id < want.num_tokens(); ++id) ASSERT_EQ(got.token_bytes(id), want.token_bytes(id)) << id;
  }
}

// HF's own unit test (trainer.rs test_train), fed as sequences.
TEST(Trainer, HfUnitTestGolden) {
  TrainerOptions o;
  o.all_bytes_in_alphabet = false;
  o.min_frequency = 2;
  BpeTrainer trainer(o);
  for (const char* w : {"roses", "are", "are", "red", "voilets", "blue", "BERT", "is", "is", "big", "and", "so", "GPT-2"}) {
    trainer.add_text(w);
  }
  const Tokenizer tok = trainer.train();
  std::string vocab;
  for (uint32_t id = 0; id < tok.num_tokens(); ++id) vocab += std::string(*tok.token_bytes(id)) + " ";
  EXPECT_EQ(vocab, "- 2 B E G P R T a b d e g i l n o r s t u v re are is ");
  EXPECT_EQ(merge_strings(tok), (std::vector<std::string>{"r e", "a re", "i s"}));
}

TEST(Trainer, TieBreaksAndIds) {
  TrainerOptions o;
  o.all_bytes_in_alphabet = false;
  o.special_tokens = {"<s>", "</s>"};
  {
    // Equal counts: the smaller pair of ids first; specials take ids 0 and 1.
    BpeTrainer t(o);
    t.add_text("cd");
    t.add_text("ab");
    const Tokenizer tok = t.train();
    EXPECT_EQ(tok.token_id("<s>"), 0u);
    EXPECT_EQ(tok.token_id("</s>"), 1u);
    EXPECT_EQ(tok.token_id("a"), 2u);
    EXPECT_EQ(merge_strings(tok), (std::vector<std::string>{"a b", "c d"}));
    EXPECT_EQ(tok.token_id("ab"), 6u);
  }
  {
    // A higher count wins over a smaller pair.
    BpeTrainer t(o);
    t.add_text("ab");
    t.add_text("cd");
    t.add_text("cd");
    EXPECT_EQ(merge_strings(t.train()), (std::vector<std::string>{"c d", "a b"}));
  }
  {
    // The alphabet is sorted by byte-level character: '\n' is 'Ċ' U+010A, ' ' is 'Ġ' U+0120.
    BpeTrainer t(o);
    t.add_text("b a\n");
    const Tokenizer tok = t.train();
    EXPECT_EQ(tok.token_id("a"), 2u);
    EXPECT_EQ(tok.token_id("b"), 3u);
    EXPECT_EQ(tok.token_id("\n"), 4u);
    EXPECT_EQ(tok.token_id(" "), 5u);
  }
  {
    // A merge applies left to right without overlap: "aaa" -> "aa" + "a".
    BpeTrainer t(o);
    t.add_text("aaa");
    const Tokenizer tok = t.train();
    EXPECT_EQ(merge_strings(tok), (std::vector<std::string>{"a a", "aa a"}));
  }
}

TEST(Trainer, StopsAtVocabSizeAndMinFrequency) {
  const std::string corpus = read_file(testing::data_path("corpus_shakespeare.txt.zst"));
  TrainerOptions o;
  o.vocab_size = 600;
  BpeTrainer t(o);
  t.add_text(corpus);
  const Tokenizer tok = t.train();
  EXPECT_EQ(tok.num_tokens(), 600u);
  EXPECT_EQ(tok.num_merges(), 600u - 256u);
  o.vocab_size = 30000;
  o.min_frequency = 50;
  BpeTrainer t2(o);
  t2.add_text(corpus);
  const Tokenizer tok2 = t2.train();
  EXPECT_LT(tok2.num_tokens(), 3000u);
  EXPECT_GT(tok2.num_tokens(), 300u);
}

TEST(Trainer, MaxTokenLength) {
  const std::string corpus = read_file(testing::data_path("corpus_shakespeare.txt.zst")).substr(0, 30000);
  TrainerOptions o;
  o.max_token_length = 4;
  BpeTrainer t(o);
  t.add_text(corpus);
  const Tokenizer tok = t.train();
  ASSERT_GT(tok.num_merges(), 100u);
  for (uint32_t id = 0; id < tok.num_tokens(); ++id) EXPECT_LT(tok.token_bytes(id)->size(), 4u) << id;
}

TEST(Trainer, JsonlDocumentsAndSaveLoadRoundTrip) {
  const std::string path = ::testing::TempDir() + "/docs.jsonl";
  const std::string english = testing::text("english"), udhr = testing::text("udhr");
  write_file(path, "{\"text\": " + std::string("\"") + "the cat\\nsat\"}\n{\"text\": \"on the mat\"}\n");
  TrainerOptions o;
  o.vocab_size = 300;
  o.special_tokens = {"<|endoftext|>"};
  BpeTrainer from_file(o), from_text(o);
  from_file.add_files({path});
  from_text.add_text("the cat\nsat");
  from_text.add_text("on the mat");
  EXPECT_EQ(from_file.num_sequences(), 2u);
  const Tokenizer a = from_file.train(), b = from_text.train();
  EXPECT_EQ(merge_strings(a), merge_strings(b));
  EXPECT_EQ(a.to_hf_json(), b.to_hf_json());
  // All 256 bytes are in the alphabet: any bytes round-trip.
  const Tokenizer again = Tokenizer::from_hf_json_string(a.to_hf_json());
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  bytes += english.substr(0, 2000) + udhr.substr(0, 2000) + "<|endoftext|>";
  EncodeOptions allow;
  allow.special = SpecialMode::kAllow;
  const auto ids = again.encode(bytes, allow);
  EXPECT_EQ(ids, a.encode(bytes, allow));
  EXPECT_EQ(again.decode(ids), bytes);
  EXPECT_EQ(ids.back(), 0u);
}

}  // namespace
}  // namespace kiln::tokenizer

namespace kiln::tokenizer {
namespace {

// The memory cap: past max_distinct_words, the rarest pre-tokens are dropped until at most
// half the cap remain; frequent words (and so the first merges) survive.
TEST(Trainer, MaxDistinctWordsPrunesRareWords) {
  TrainerOptions o;
  o.vocab_size = 400;
  BpeTrainer exact(o);
  exact.add_files({testing::data_path("corpus_shakespeare.txt.zst")});
  o.max_distinct_words = 1000;
  BpeTrainer capped(o);
  capped.add_files({testing::data_path("corpus_shakespeare.txt.zst")});
  EXPECT_GT(exact.num_distinct_words(), 3000u);
  EXPECT_LE(capped.num_distinct_words(), 1000u);
  EXPECT_GT(capped.num_distinct_words(), 0u);
  const auto a = merge_strings(exact.train()), b = merge_strings(capped.train());
  // Keeping ~500 of 3,600 words shifts counts, so only the most frequent merges agree.
  ASSERT_GE(a.size(), 40u);
  ASSERT_GE(b.size(), 40u);
  EXPECT_EQ(std::vector<std::string>(a.begin(), a.begin() + 3), std::vector<std::string>(b.begin(), b.begin() + 3));
  int common = 0;
  for (int i = 0; i < 20; ++i) common += std::find(b.begin(), b.begin() + 40, a[i]) != b.begin() + 40;
  EXPECT_GE(common, 12);
}

}  // namespace
}  // namespace kiln::tokenizer
