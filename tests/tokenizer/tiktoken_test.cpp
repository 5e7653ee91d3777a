// kiln's encoder against ids from npm tiktoken (the Rust core as wasm) for gpt2,
// cl100k_base and o200k_base. The rank files are the subsets of the real ones that these
// texts touch (every token in the output plus every intermediate merge; see
// scripts/fixtures/tokenizer/gen_fixtures.mjs), which encode these texts exactly as the
// full files do.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "fixtures.h"
#include "tokenizer/src/bpe.h"
#include "tokenizer/tokenizer.h"

namespace kiln::tokenizer {
namespace {

struct Encoding {
  const char* name;
  Pattern pattern;
  std::vector<SpecialToken> specials;
};
const std::vector<Encoding>& encodings() {
  static const std::vector<Encoding> e = {
      {"gpt2", Pattern::kGpt2, {{"<|endoftext|>", 50256}}},
      {"cl100k_base", Pattern::kCl100k,
       {{"<|endoftext|>", 100257}, {"<|fim_prefix|>", 100258}, {"<|fim_middle|>", 100259}, {"<|fim_suffix|>", 100260},
        {"<|endofprompt|>", 100276}}},
      {"o200k_base", Pattern::kO200k, {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}}},
  };
  return e;
}

const Tokenizer& load(const std::string& name) {
  static std::map<std::string, Tokenizer> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    for (const Encoding& e : encodings()) {
      if (name == e.name) {
        it = cache.emplace(name, Tokenizer::from_tiktoken_file(testing::data_path("ranks/" + name + ".subset.tiktoken.zst"),
                                                               e.pattern, e.specials))
                 .first;
      }
    }
  }
  return it->second;
}

TEST(Tiktoken, IdenticalIdsToTiktoken) {
  const auto cases = testing::load_ids("tiktoken_ids.jsonl.zst", "encoding");
  ASSERT_EQ(cases.size(), 3u * 8u);
  for (const auto& c : cases) {
    const Tokenizer& tok = load(c.source);
    const std::string text = testing::text(c.text);
    EncodeOptions options;
    options.special = c.allowed_special == "all" ? SpecialMode::kAllow : SpecialMode::kAsText;
    const auto ids = tok.encode(text, options);
    if (ids != c.ids) {
      size_t k = 0;
      while (k < ids.size() && k < c.ids.size() && ids[k] == c.ids[k]) ++k;
      ADD_FAILURE() << c.source << " on " << c.text << ": first difference at token " << k << " of " << c.ids.size()
                    << " (kiln " << (k < ids.size() ? int64_t(ids[k]) : -1) << ", tiktoken "
                    << (k < c.ids.size() ? int64_t(c.ids[k]) : -1) << ")";
    }
    EXPECT_EQ(tok.decode(ids), text) << c.source << " " << c.text;
  }
}

TEST(Tiktoken, BatchEqualsOneByOne) {
  const Tokenizer& tok = load("cl100k_base");
  std::vector<std::string> texts;
  for (const auto& name : testing::text_names()) texts.push_back(testing::text(name));
  for (int i = 0; i < 40; ++i) texts.push_back(texts[i % 7].substr(i * 13 % 100));
  const auto batch = tok.encode_batch(texts);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(batch[i], tok.encode(texts[i])) << i;
}

TEST(Tiktoken, SpecialTokens) {
  const Tokenizer& tok = load("cl100k_base");
  const std::string text = "a<|endoftext|>b<|fim_prefix|>";
  // Disallowed by default: the error names the token and its offset.
  try {
    tok.encode(text);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'<|endoftext|>' at byte 1"), std::string::npos) << e.what();
  }
  EncodeOptions some;
  some.allowed_special = {"<|endoftext|>"};
  try {
    tok.encode(text, some);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("<|fim_prefix|>"), std::string::npos) << e.what();
  }
  some.allowed_special.push_back("<|fim_prefix|>");
  const auto ids = tok.encode(text, some);
  EXPECT_EQ(ids, (std::vector<uint32_t>{64, 100257, 65, 100258}));
  EXPECT_EQ(tok.decode(ids), text);
  EncodeOptions as_text;
  as_text.special = SpecialMode::kAsText;
  const auto plain = tok.encode(text, as_text);
  EXPECT_GT(plain.size(), 4u);
  for (uint32_t id : plain) EXPECT_LT(id, 100257u);
  EXPECT_EQ(tok.decode(plain), text);
  EXPECT_EQ(tok.token_id("<|endofprompt|>"), 100276u);
}

TEST(Tiktoken, RoundTripsArbitraryBytes) {
  std::mt19937 rng(3);
  for (const Encoding& e : encodings()) {
    const Tokenizer& tok = load(e.name);
    for (int n = 0; n < 300; ++n) {
      std::string s(rng() % 200, '\0');
      for (char& ch : s) ch = static_cast<char>(rng() % 256);
      EncodeOptions options;
      options.special = SpecialMode::kAsText;
      EXPECT_EQ(tok.decode(tok.encode(s, options)), s);
    }
  }
}

TEST(Tiktoken, DecodeRejectsUnknownIds) {
  const Tokenizer& tok = load("gpt2");
  const std::vector<uint32_t> ids = {31373, 4294967};
  EXPECT_THROW(tok.decode(ids), Error);
}

TEST(Tiktoken, RankFileErrorsNameFileAndLine) {
  const std::string path = ::testing::TempDir() + "/bad.tiktoken";
  write_file(path, "IQ== 0\nnot base64! 1\n");
  try {
    Tokenizer::from_tiktoken_file(path, Pattern::kGpt2);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.tiktoken:2:"), std::string::npos) << e.what();
  }
  write_file(path, "IQ== 0\n");  // byte '!' only: the other bytes have no rank
  EXPECT_THROW(Tokenizer::from_tiktoken_file(path, Pattern::kGpt2), Error);
}

TEST(Tiktoken, SavedRankFileReloadsIdentically) {
  const Tokenizer& tok = load("o200k_base");
  const std::string path = ::testing::TempDir() + "/o200k.tiktoken";
  tok.save_tiktoken_file(path);
  const Tokenizer again = Tokenizer::from_tiktoken_file(path, Pattern::kO200k);
  const std::string text = testing::text("udhr");
  EncodeOptions options;
  options.special = SpecialMode::kAsText;
  EXPECT_EQ(again.encode(text, options), tok.encode(text, options));
}

// The heap path (long pieces) against the plain rescan-everything reference, and a bound
// on its work that holds for any input: at most one lookup and push per initial pair and
// two per merge, so long runs without spaces stay O(n log n).
TEST(Bpe, LongPiecesMatchReferenceAndStayLinear) {
  const Tokenizer& tok = load("gpt2");
  const detail::Model& m = tok.model();
  std::mt19937 rng(11);
  for (int n = 0; n < 200; ++n) {
    std::vector<uint32_t> ids(1 + rng() % 300);
    const char* letters = "etaoinshrdlu ";
    for (uint32_t& id : ids) id = m.byte_ids[static_cast<unsigned char>(letters[rng() % 13])];
    std::vector<uint32_t> fast = ids, slow = ids;
    detail::bpe_merge(m.pairs, fast);
    detail::bpe_merge_reference(m.pairs, slow);
    ASSERT_EQ(fast, slow) << "length " << ids.size();
  }
  for (const char* alphabet : {"a", "ab", "abcdefghijklmnopqrstuvwxyz"}) {
    const size_t n = 1 << 20;
    const size_t k = strlen(alphabet);
    std::vector<uint32_t> ids(n);
    for (size_t i = 0; i < n; ++i) ids[i] = m.byte_ids[static_cast<unsigned char>(alphabet[k == 1 ? 0 : rng() % k])];
    detail::BpeCounters counters;
    detail::bpe_merge(m.pairs, ids, &counters);
    EXPECT_LE(counters.lookups, 3 * n) << alphabet;
    EXPECT_LE(counters.heap_pushes, 3 * n) << alphabet;
    EXPECT_LT(counters.merges, n) << alphabet;
  }
  // And through the whole encoder: a 1 MB word encodes and decodes back.
  const std::string word(1 << 20, 'x');
  EXPECT_EQ(tok.decode(tok.encode(word)), word);
}

}  // namespace
}  // namespace kiln::tokenizer
