#include "trainer/codec.h"

#include "corpus/error.h"
#include "trainer/data.h"

#ifdef KILN_TRAINER_HAVE_TOKENIZER
#include "tokenizer/tokenizer.h"
#endif

namespace kiln::trainer {

TextCodec byte_codec() {
  return {"bytes", 256, [](std::string_view text) { return byte_tokens(text); },
          [](const std::vector<int32_t>& ids) { return bytes_from_tokens(ids); }};
}

TextCodec load_codec(const std::string& path) {
  if (path.empty()) return byte_codec();
#ifdef KILN_TRAINER_HAVE_TOKENIZER
  auto tok = tokenizer::Tokenizer::from_hf_json(path);
  TextCodec codec;
  codec.name = path;
  codec.vocab_size = (int)tok.vocab_size();
  codec.encode = [tok](std::string_view text) {
    const auto ids = tok.encode(text, {.special = tokenizer::SpecialMode::kAsText});
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
