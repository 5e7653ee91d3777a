// HF tokenizer.json: files saved by npm `tokenizers` load and encode to the ids it gave;
// kiln's saved files reload identically; tiktoken ranks convert to an HF merge list.
#include <gtest/gtest.h>

#include <map>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "fixtures.h"
#include "tokenizer/tokenizer.h"

namespace kiln::tokenizer {
namespace {

const char* const kVariants[] = {"gpt2", "gpt2_prefix", "cl100k", "o200k"};

std::string hf_file(const std::string& variant) { return "hf_trained_" + variant + "_special.json"; }

TEST(HfJson, IdenticalIdsToHfTokenizers) {
  std::map<std::string, Tokenizer> toks;
  for (const char* v : kVariants) toks.emplace(hf_file(v), Tokenizer::from_hf_json(testing::data_path(hf_file(v) + ".zst")));
  const auto cases = testing::load_ids("hf_ids.jsonl.zst", "tokenizer");
  ASSERT_EQ(cases.size(), 4u * 8u);
  for (const auto& c : cases) {
    const Tokenizer& tok = toks.at(c.source);
    const std::string text = testing::text(c.text);
    EncodeOptions options;
    options.special = SpecialMode::kAllow;  // HF splits out every added token
    const auto ids = tok.encode(text, options);
    if (ids != c.ids) {
      size_t k = 0;
      while (k < ids.size() && k < c.ids.size() && ids[k] == c.ids[k]) ++k;
      ADD_FAILURE() << c.source << " on " << c.text << ": first difference at token " << k << " of " << c.ids.size()
                    << " (kiln " << (k < ids.size() ? int64_t(ids[k]) : -1) << ", HF "
                    << (k < c.ids.size() ? int64_t(c.ids[k]) : -1) << ")";
    }
  }
}

TEST(HfJson, LoadsOptionsAndSpecialTokens) {
  const Tokenizer tok = Tokenizer::from_hf_json(testing::data_path(hf_file("gpt2_prefix") + ".zst"));
  EXPECT_TRUE(tok.hf_options().add_prefix_space);
  EXPECT_EQ(tok.pattern(), Pattern::kGpt2);
  EXPECT_EQ(tok.merge_rule(), MergeRule::kMerges);
  ASSERT_EQ(tok.special_tokens().size(), 2u);
  EXPECT_EQ(tok.token_id("<pad>"), tok.num_tokens() + 1);
  const Tokenizer o200k = Tokenizer::from_hf_json(testing::data_path(hf_file("o200k") + ".zst"));
  EXPECT_EQ(o200k.pattern(), Pattern::kO200k);
  EXPECT_FALSE(o200k.hf_options().add_prefix_space);
}

TEST(HfJson, SaveReloadIsIdentical) {
  for (const char* v : kVariants) {
    const Tokenizer tok = Tokenizer::from_hf_json(testing::data_path(hf_file(v) + ".zst"));
    const std::string json = tok.to_hf_json();
    const Tokenizer again = Tokenizer::from_hf_json_string(json);
    EXPECT_EQ(again.to_hf_json(), json) << v;
    EXPECT_EQ(again.merges(), tok.merges()) << v;
    const std::string text = testing::text("english") + testing::text("udhr");
    EncodeOptions options;
    options.special = SpecialMode::kAllow;
    EXPECT_EQ(again.encode(text, options), tok.encode(text, options)) << v;
  }
}

TEST(HfJson, LegacyMergeStringsLoadTheSame) {
  const Tokenizer tok = Tokenizer::from_hf_json(testing::data_path(hf_file("gpt2") + ".zst"));
  // Rebuild it with legacy_merges set, which saves merges as "a b" strings.
  std::vector<std::pair<std::string, uint32_t>> vocab;
  for (uint32_t id = 0; id < tok.num_tokens(); ++id) vocab.emplace_back(std::string(*tok.token_bytes(id)), id);
  std::vector<std::pair<std::string, std::string>> merges;
  for (auto [a, b] : tok.merges()) merges.emplace_back(*tok.token_bytes(a), *tok.token_bytes(b));
  HfModelOptions hf = tok.hf_options();
  hf.legacy_merges = true;
  const std::string legacy = Tokenizer::from_merges(vocab, merges, tok.pattern(), tok.special_tokens(), hf).to_hf_json();
  ASSERT_NE(legacy.find("\"merges\":[\"\u0120 t\""), std::string::npos) << legacy.substr(legacy.find("\"merges\""), 80);
  const Tokenizer again = Tokenizer::from_hf_json_string(legacy);
  EXPECT_TRUE(again.hf_options().legacy_merges);
  EXPECT_EQ(again.merges(), tok.merges());
}

TEST(HfJson, TiktokenRanksConvertToMerges) {
  const Tokenizer ranks = Tokenizer::from_tiktoken_file(testing::data_path("ranks/gpt2.subset.tiktoken.zst"), Pattern::kGpt2);
  const Tokenizer hf = Tokenizer::from_hf_json_string(ranks.to_hf_json());
  EXPECT_TRUE(hf.hf_options().ignore_merges);
  EncodeOptions options;
  options.special = SpecialMode::kAsText;
  for (const auto& name : testing::text_names()) {
    const std::string text = testing::text(name);
    EXPECT_EQ(hf.encode(text, options), ranks.encode(text, options)) << name;
  }
}

TEST(HfJson, UnsupportedPartsAreNamed) {
  const std::string ok = Tokenizer::from_hf_json(testing::data_path(hf_file("gpt2") + ".zst")).to_hf_json();
  auto error_of = [](const std::string& json) -> std::string {
    try {
      Tokenizer::from_hf_json_string(json, "t.json");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  auto replace = [&](std::string from, std::string to) {
    std::string s = ok;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  EXPECT_NE(error_of(replace("\"normalizer\":null", "\"normalizer\":{\"type\":\"NFC\"}")).find("t.json: normalizer"), std::string::npos);
  EXPECT_NE(error_of(replace("\"use_regex\":true", "\"use_regex\":false")).find("pre_tokenizer.use_regex"), std::string::npos);
  EXPECT_NE(error_of(replace("\"type\":\"BPE\"", "\"type\":\"WordPiece\"")).find("model.type"), std::string::npos);
  EXPECT_NE(error_of("{").find("not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace kiln::tokenizer

namespace kiln::tokenizer {
namespace {

// Files kiln trained and saved (scripts/fixtures/tokenizer/gen_kiln_roundtrip.sh), encoded
// by HF tokenizers after loading them: kiln's ids on its own files must equal HF's.
TEST(HfJson, KilnSavedFilesEncodeIdenticallyInHf) {
  const auto cases = testing::load_ids("kiln_hf_ids.jsonl.zst", "tokenizer");
  ASSERT_EQ(cases.size(), 4u * 6u);
  std::map<std::string, Tokenizer> toks;
  for (const auto& c : cases) {
    if (!toks.count(c.source)) toks.emplace(c.source, Tokenizer::from_hf_json(testing::data_path(c.source + ".zst")));
    EncodeOptions options;
    options.special = SpecialMode::kAllow;
    EXPECT_EQ(toks.at(c.source).encode(testing::text(c.text), options), c.ids) << c.source << " " << c.text;
  }
  // And kiln writes its own files back byte for byte.
  for (const auto& [name, tok] : toks) {
    EXPECT_EQ(tok.to_hf_json(), read_file(testing::data_path(name + ".zst"))) << name;
  }
}

}  // namespace
}  // namespace kiln::tokenizer
