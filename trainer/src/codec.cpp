#include "trainer/codec.h"

#include "corpus/error.h"
#include "trainer/data.h"

#ifdef KILN_TRAINER_HAVE_TOKENIZER
#include "tokenizer/tokenizer.h"
#include "tokenizer/tool.h"
#endif

namespace kiln::trainer {

TextCodec byte_codec() {
  TextCodec codec;
  codec.name = "bytes";
  codec.encode = [](std::string_view text) { return byte_tokens(text); };
  codec.decode = [](const std::vector<int32_t>& ids) { return bytes_from_tokens(ids); };
  return codec;
}

TextCodec load_codec(const std::string& path) {
  if (path.empty()) return byte_codec();
#ifdef KILN_TRAINER_HAVE_TOKENIZER
  tokenizer::TokenizerSource source;
  source.path = path;
  auto tok = tokenizer::load_tokenizer(source);
  TextCodec codec;
  codec.name = path;
  codec.vocab_size = (int)tok.vocab_size();
  if (const auto eot = tok.token_id("<|endoftext|>")) codec.eot = (int32_t)*eot;
  codec.encode = [tok](std::string_view text) {
    tokenizer::EncodeOptions options;
    options.special = tokenizer::SpecialMode::kAsText;
    const auto ids = tok.encode(text, options);
    return std::vector<int32_t>(ids.begin(), ids.end());
  };
  codec.decode = [tok](const std::vector<int32_t>& ids) {
    const std::vector<uint32_t> u(ids.begin(), ids.end());
    return tok.decode(u);
  };
  return codec;
#else
  throw Error(cat(path, ": this kiln was built without the tokenizer library; only byte-level text is available"));
#endif
}

}  // namespace kiln::trainer
