// Export to and import from nanoGPT, llm.c and Megatron files, against reference files
// written with numpy by scripts/fixtures/corpus/make_token_interop_fixtures.py.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>

#include "corpus/token_interop.h"
#include "corpus/token_store.h"
#include "test_util.h"

namespace kiln {
namespace {

struct Fixture {
  uint32_t eot;
  std::vector<std::vector<uint32_t>> docs;
};

Fixture load() {
  simdjson::dom::parser parser;
  std::string text = testing::slurp(testing::data_path("corpus/interop/docs.json"));
  simdjson::dom::element root = parser.parse(text);
  Fixture f{uint32_t(uint64_t(root["eot"])), {}};
  for (simdjson::dom::element doc : root["docs"].get_array()) {
    f.docs.emplace_back();
    for (simdjson::dom::element t : doc.get_array()) f.docs.back().push_back(uint32_t(uint64_t(t)));
  }
  return f;
}

TEST(TokenInterop, ExportsMatchNumpyReferenceFilesByteForByte) {
  Fixture f = load();
  ASSERT_EQ(f.docs.size(), 25u);
  testing::TempDir dir;
  std::string store_dir = dir.path("store");
  std::filesystem::create_directories(store_dir);
  ShardWriterOptions o;
  o.block_tokens = 64;
  TokenShardWriter w(store_dir + "/train-00000.kts", o);
  for (auto doc : f.docs) {
    doc.push_back(f.eot);
    w.add_document(doc.data(), doc.size());
  }
  w.finish();
  StoreManifest m;
  m.block_tokens = 64;
  m.tokenizer = {"gpt2", "", 50257, f.eot};
  m.train.push_back({"train-00000.kts", "docs.json", w.num_tokens(), w.num_docs()});
  write_file(store_dir + "/manifest.json", m.to_json());
  TokenStore store = TokenStore::open(store_dir);

  export_tokens(store, Split::kTrain, TokenFormat::kNanoGpt, dir.path("nano.bin"));
  export_tokens(store, Split::kTrain, TokenFormat::kLlmc, dir.path("llmc.bin"));
  export_tokens(store, Split::kTrain, TokenFormat::kMegatron, dir.path("meg"));
  EXPECT_EQ(testing::slurp(dir.path("nano.bin")), testing::slurp(testing::data_path("corpus/interop/nanogpt_train.bin")));
  EXPECT_EQ(testing::slurp(dir.path("llmc.bin")), testing::slurp(testing::data_path("corpus/interop/llmc_train.bin")));
  EXPECT_EQ(testing::slurp(dir.path("meg.bin")), testing::slurp(testing::data_path("corpus/interop/megatron_train.bin")));
  EXPECT_EQ(testing::slurp(dir.path("meg.idx")), testing::slurp(testing::data_path("corpus/interop/megatron_train.idx")));

  // Importing each reference file gives back the store's tokens and document boundaries.
  std::vector<uint32_t> expected;
  store.read(Split::kTrain, 0, store.num_tokens(Split::kTrain), expected);
  for (auto [format, file] : {std::pair{TokenFormat::kNanoGpt, "nanogpt_train.bin"},
                              std::pair{TokenFormat::kLlmc, "llmc_train.bin"},
                              std::pair{TokenFormat::kMegatron, "megatron_train"}}) {
    std::string out = dir.path(std::string("import_") + file);
    import_tokens(format, testing::data_path(std::string("corpus/interop/") + file), m.tokenizer, out);
    TokenStore back = TokenStore::open(out);
    std::vector<uint32_t> tokens;
    back.read(Split::kTrain, 0, back.num_tokens(Split::kTrain), tokens);
    EXPECT_EQ(tokens, expected) << file;
    EXPECT_EQ(back.doc_starts(Split::kTrain), store.doc_starts(Split::kTrain)) << file;
  }
}

}  // namespace
}  // namespace kiln
