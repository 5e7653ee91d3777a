#include "trainer/data.h"

#include <simdjson.h>

#include <cstring>

#include <filesystem>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "corpus/token_store.h"

namespace kiln::trainer {

void TokenArray::read(uint64_t offset, size_t count, int32_t* out) const {
  if (offset + count > tokens_.size())
    throw Error(cat("tokens: read of ", count, " at ", offset, " runs past the end (", tokens_.size(), " tokens)"));
  std::memcpy(out, tokens_.data() + offset, count * sizeof(int32_t));
}

std::unique_ptr<TokenArray> open_token_file(const std::string& path) {
  const std::string bytes = read_file(path);
  size_t begin = 0, count = bytes.size() / 2;
  int32_t header[3] = {};
  if (bytes.size() >= 1024) std::memcpy(header, bytes.data(), sizeof header);
  if (header[0] == 20240520) {  // llm.c shard
    if (header[1] != 1) throw Error(cat(path, ": llm.c shard version ", header[1], ", expected 1"));
    begin = 1024;
    count = (size_t)(uint32_t)header[2];
    if (bytes.size() != 1024 + 2 * count)
      throw Error(cat(path, ": llm.c shard header says ", count, " tokens (", 1024 + 2 * count,
                      " bytes) but the file has ", bytes.size(), " bytes"));
  } else if (bytes.size() % 2) {
    throw Error(cat(path, ": a headerless uint16 token file must have an even size, got ", bytes.size()));
  }
  std::vector<int32_t> tokens(count);
  for (size_t i = 0; i < count; i++) {
    uint16_t t;
    std::memcpy(&t, bytes.data() + begin + 2 * i, 2);
    tokens[i] = t;
  }
  return std::make_unique<TokenArray>(std::move(tokens));
}

void write_token_file(const std::string& path, const std::vector<int32_t>& tokens) {
  std::string bytes(tokens.size() * 2, '\0');
  for (size_t i = 0; i < tokens.size(); i++) {
    if (tokens[i] < 0 || tokens[i] > 65535)
      throw Error(cat(path, ": token ", tokens[i], " at ", i, " does not fit in uint16"));
    const uint16_t t = (uint16_t)tokens[i];
    std::memcpy(bytes.data() + 2 * i, &t, 2);
  }
  write_file(path, bytes);
}

bool is_token_store(const std::string& path) {
  std::string dir = path.ends_with(":val") ? path.substr(0, path.size() - 4) : path;
  return std::filesystem::exists(std::filesystem::path(dir) / "manifest.json");
}

int32_t token_store_eot(const std::string& path) {
  const std::string dir = path.ends_with(":val") ? path.substr(0, path.size() - 4) : path;
  return (int32_t)TokenStore::open(dir).manifest().tokenizer.eot;
}

std::unique_ptr<TokenArray> open_token_store(const std::string& path) {
  bool val = path.ends_with(":val");
  std::string dir = val ? path.substr(0, path.size() - 4) : path;
  TokenStore store = TokenStore::open(dir);
  Split split = val ? Split::kVal : Split::kTrain;
  std::vector<uint32_t> tokens;
  store.read(split, 0, store.num_tokens(split), tokens);
  return std::make_unique<TokenArray>(std::vector<int32_t>(tokens.begin(), tokens.end()));
}

std::unique_ptr<TokenArray> load_tokens(const std::string& path,
                                        const std::function<std::vector<int32_t>(std::string_view)>& encode,
                                        uint64_t* num_bytes) {
  if (num_bytes) *num_bytes = 0;
  if (is_token_store(path)) return open_token_store(path);
  if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".bin") == 0) return open_token_file(path);
  const std::string text = read_file(path);
  if (num_bytes) *num_bytes = text.size();
  return std::make_unique<TokenArray>(encode ? encode(text) : byte_tokens(text));
}

std::pair<TokenArray, TokenArray> split_tokens(const TokenArray& all, double val_fraction) {
  if (val_fraction < 0 || val_fraction >= 1) throw Error(cat("validation fraction must be in [0, 1), got ", val_fraction));
  const auto& t = all.tokens();
  const size_t cut = t.size() - (size_t)(t.size() * val_fraction);
  return {TokenArray({t.begin(), t.begin() + cut}), TokenArray({t.begin() + cut, t.end()})};
}

std::vector<int32_t> byte_tokens(std::string_view text) {
  std::vector<int32_t> tokens(text.size());
  for (size_t i = 0; i < text.size(); i++) tokens[i] = (unsigned char)text[i];
  return tokens;
}

std::string bytes_from_tokens(const std::vector<int32_t>& tokens) {
  std::string text;
  text.reserve(tokens.size());
  for (int32_t t : tokens) text.push_back((char)(unsigned char)t);
  return text;
}

DataLoader::DataLoader(const TokenSource& source, const DataLoaderOptions& options)
    : source_(source), options_(options), rng_(options.seed) {
  if (options.batch_size <= 0 || options.seq_len <= 0)
    throw Error(cat("data loader: batch size and sequence length must be positive"));
  if (source.size() < (uint64_t)options.seq_len + 1)
    throw Error(cat("data loader: ", source.size(), " tokens is fewer than one window of seq_len + 1 = ",
                    options.seq_len + 1));
  window_.resize(options.seq_len + 1);
}

void DataLoader::next(int32_t* inputs, int32_t* targets) {
  const int B = options_.batch_size, T = options_.seq_len;
  const uint64_t n = source_.size();
  for (int b = 0; b < B; b++) {
    uint64_t start;
    if (options_.order == DataOrder::kRandom) {
      start = rng_.below(n - T);  // nanoGPT: torch.randint(len(data) - block_size)
    } else {
      if (position_ + T + 1 > n) position_ = 0;  // wrap: start the next epoch
      start = position_;
      position_ += T;
    }
    source_.read(start, T + 1, window_.data());
    std::memcpy(inputs + (size_t)b * T, window_.data(), T * sizeof(int32_t));
    std::memcpy(targets + (size_t)b * T, window_.data() + 1, T * sizeof(int32_t));
  }
}

void doc_starts_from_end_token(const int32_t* tokens, int rows, int T, int32_t end_of_document, int32_t* starts) {
  for (int b = 0; b < rows; b++) {
    int32_t start = 0;
    for (int t = 0; t < T; t++) {
      starts[(size_t)b * T + t] = start;
      if (tokens[(size_t)b * T + t] == end_of_document) start = t + 1;  // the next token opens a document
    }
  }
}

void DataLoader::restore(const DataCursor& cursor) {
  position_ = cursor.position;
  rng_.state = cursor.rng_state;
}

std::vector<SftExample> read_sft_jsonl(const std::string& path,
                                       const std::function<std::vector<int32_t>(std::string_view)>& encode) {
  const std::string text = read_file(path);
  std::vector<SftExample> examples;
  simdjson::dom::parser parser;
  size_t start = 0, line_no = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    line_no++;
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    simdjson::dom::element doc;
    std::string_view prompt, response;
    if (parser.parse(line.data(), line.size()).get(doc) || doc["prompt"].get_string().get(prompt) ||
        doc["response"].get_string().get(response))
      throw Error(cat(path, ":", line_no, ": expected a JSON object with string fields \"prompt\" and \"response\""));
    if (encode) examples.push_back({encode(prompt), encode(response)});
    else examples.push_back({byte_tokens(prompt), byte_tokens(response)});
  }
  if (examples.empty()) throw Error(cat(path, ": no examples"));
  return examples;
}

SftLoader::SftLoader(std::vector<SftExample> examples, const SftLoaderOptions& options)
    : examples_(std::move(examples)), options_(options), rng_(options.seed) {
  if (examples_.empty()) throw Error("sft: no examples");
  if (options.batch_size <= 0 || options.seq_len <= 0) throw Error("sft: batch size and sequence length must be positive");
}

void SftLoader::next(int32_t* inputs, int32_t* targets) {
  const int B = options_.batch_size, T = options_.seq_len;
  std::vector<int32_t> seq;
  for (int b = 0; b < B; b++) {
    const SftExample& e =
        examples_[options_.order == DataOrder::kRandom ? rng_.below(examples_.size()) : position_++ % examples_.size()];
    seq = e.prompt;
    seq.insert(seq.end(), e.response.begin(), e.response.end());
    if (options_.end_token >= 0) seq.push_back(options_.end_token);
    const size_t first_target = e.prompt.empty() ? 0 : e.prompt.size() - 1;  // position predicting response[0]
    for (int t = 0; t < T; t++) {
      const bool real = (size_t)t + 1 < seq.size();
      inputs[(size_t)b * T + t] = (size_t)t < seq.size() ? seq[t] : options_.pad_token;
      targets[(size_t)b * T + t] = real && (size_t)t >= first_target ? seq[t + 1] : -1;
    }
  }
}

void SftLoader::restore(const DataCursor& cursor) {
  position_ = cursor.position;
  rng_.state = cursor.rng_state;
}

}  // namespace kiln::trainer
