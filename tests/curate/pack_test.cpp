// Packing documents into a token store: round trip, split stability, determinism, resume.
#include <gtest/gtest.h>

#include <filesystem>

#include "corpus/stream.h"
#include "corpus/token_store.h"
#include "curate/pack.h"
#include "test_util.h"

namespace kiln {
namespace {

using testing::TempDir;

// Bytes as tokens (0..255), EOT 256: decoding is exact, so a round trip can be checked
// without a trained tokenizer.
class ByteEncoder final : public TextEncoder {
 public:
  void encode(std::string_view text, std::vector<uint32_t>& tokens) const override {
    tokens.assign(text.begin(), text.end());
    for (auto& t : tokens) t &= 0xFF;
  }
  TokenizerInfo info() const override { return {"bytes", "bytes-v1", 257, 256}; }
};

std::string decode(const std::vector<uint32_t>& tokens) {
  std::string s;
  for (uint32_t t : tokens) s.push_back(char(t));
  return s;
}

std::vector<std::string> make_inputs(const TempDir& dir, std::vector<std::string>& texts) {
  std::vector<std::string> paths;
  for (int f = 0; f < 3; ++f) {
    std::string body;
    for (int d = 0; d < 150; ++d) {
      std::string text = "document " + std::to_string(f) + "/" + std::to_string(d) + ": ";
      for (int i = 0; i < (d * 13) % 70; ++i) text += "w" + std::to_string(i * d % 17) + " ";
      texts.push_back(text);
      body += "{\"id\":\"" + std::to_string(f) + "-" + std::to_string(d) + "\",\"text\":\"" + text + "\"}\n";
    }
    if (f == 1) body += "not json\n";
    paths.push_back(dir.path("in" + std::to_string(f) + ".jsonl.zst"));
    write_file(paths.back(), body);
  }
  return paths;
}

std::string store_bytes(const std::string& dir) {
  std::string all;
  for (auto& f : testing::list_files(dir))
    if (!f.starts_with(".kiln")) all += f + "\n" + testing::slurp(dir + "/" + f);
  return all;
}

TEST(Pack, RoundTripDetokenizesToTheInputDocuments) {
  TempDir dir;
  std::vector<std::string> texts;
  auto inputs = make_inputs(dir, texts);
  PackOptions o;
  o.output_dir = dir.path("store");
  o.val_fraction = 0.1;
  o.block_tokens = 256;
  PackStats stats = pack_store(inputs, ByteEncoder(), o);
  EXPECT_EQ(stats.docs_read, 451u);
  EXPECT_EQ(stats.docs_unreadable, 1u);
  EXPECT_EQ(stats.train_docs + stats.val_docs, 450u);
  EXPECT_GT(stats.val_docs, 20u);
  EXPECT_LT(stats.val_docs, 80u);

  TokenStore store = TokenStore::open(o.output_dir);
  EXPECT_EQ(store.manifest().tokenizer.fingerprint, "bytes-v1");
  EXPECT_EQ(store.manifest().dtype_bytes, 2u);
  // Every document comes back, in input order within its split, each ended by EOT.
  std::vector<std::string> train_texts, val_texts;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::string id = std::to_string(i / 150) + "-" + std::to_string(i % 150);
    (in_validation_split(id, 0.1, 0) ? val_texts : train_texts).push_back(texts[i]);
  }
  for (auto [split, expected] : {std::pair{Split::kTrain, &train_texts}, std::pair{Split::kVal, &val_texts}}) {
    std::vector<uint32_t> tokens;
    store.read(split, 0, store.num_tokens(split), tokens);
    const auto& starts = store.doc_starts(split);
    ASSERT_EQ(starts.size(), expected->size());
    for (size_t d = 0; d < starts.size(); ++d) {
      uint64_t end = d + 1 < starts.size() ? starts[d + 1] : tokens.size();
      std::vector<uint32_t> doc(tokens.begin() + long(starts[d]), tokens.begin() + long(end));
      ASSERT_EQ(doc.back(), 256u);
      doc.pop_back();
      EXPECT_EQ(decode(doc), (*expected)[d]);
    }
  }
  EXPECT_TRUE(store.verify().empty());
}

TEST(Pack, ByteIdenticalForAnyThreadCountAndResumable) {
  TempDir dir;
  std::vector<std::string> texts;
  auto inputs = make_inputs(dir, texts);
  std::string reference;
  for (int threads : {1, 2, 4}) {
    PackOptions o;
    o.output_dir = dir.path("s" + std::to_string(threads));
    o.threads = threads;
    o.batch_docs = 7;
    o.block_tokens = 128;
    pack_store(inputs, ByteEncoder(), o);
    std::string bytes = store_bytes(o.output_dir);
    if (reference.empty()) reference = bytes;
    EXPECT_EQ(bytes, reference) << "threads=" << threads;
  }
  // A rerun over a finished store redoes nothing and leaves the same bytes; a store whose
  // last input was lost (as if killed) redoes just that input.
  PackOptions o;
  o.output_dir = dir.path("s1");
  o.block_tokens = 128;
  PackStats again = pack_store(inputs, ByteEncoder(), o);
  EXPECT_EQ(again.inputs_resumed, 3u);
  std::filesystem::remove(dir.path("s1/.kiln/done/input-00002.json"));
  std::filesystem::remove(dir.path("s1/train-00002.kts"));
  PackStats resumed = pack_store(inputs, ByteEncoder(), o);
  EXPECT_EQ(resumed.inputs_resumed, 2u);
  EXPECT_EQ(store_bytes(o.output_dir), reference);
}

}  // namespace
}  // namespace kiln
