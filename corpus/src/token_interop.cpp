#include "corpus/token_interop.h"

#include <cstring>
#include <filesystem>

#include "corpus/error.h"

namespace kiln {
namespace fs = std::filesystem;

TokenFormat parse_token_format(const std::string& name) {
  if (name == "nanogpt") return TokenFormat::kNanoGpt;
  if (name == "llmc") return TokenFormat::kLlmc;
  if (name == "megatron") return TokenFormat::kMegatron;
  throw Error(cat("unknown token format '", name, "': expected nanogpt, llmc or megatron"));
}

namespace {

constexpr int32_t kLlmcMagic = 20240520;
constexpr char kMegatronMagic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'};

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

std::string as_uint16(const std::vector<uint32_t>& tokens, const std::string& path) {
  std::string out(tokens.size() * 2, '\0');
  auto* dst = reinterpret_cast<uint16_t*>(out.data());
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] > 0xFFFF) throw Error(cat(path, ": token ", tokens[i], " at position ", i, " does not fit uint16"));
    dst[i] = uint16_t(tokens[i]);
  }
  return out;
}

}  // namespace

void export_tokens(const TokenStore& store, Split split, TokenFormat format, const std::string& path) {
  std::vector<uint32_t> tokens;
  store.read(split, 0, store.num_tokens(split), tokens);
  if (format == TokenFormat::kNanoGpt) {
    write_file(path, as_uint16(tokens, path));
    return;
  }
  if (format == TokenFormat::kLlmc) {
    // kiln ends each document with EOT; llm.c starts each with it: rotate by one.
    if (!tokens.empty() && tokens.back() == store.manifest().tokenizer.eot) {
      tokens.pop_back();
      tokens.insert(tokens.begin(), store.manifest().tokenizer.eot);
    }
    if (tokens.size() > uint64_t(INT32_MAX)) throw Error(cat(path, ": llm.c shards hold at most 2^31-1 tokens"));
    std::string out;
    int32_t header[256] = {};
    header[0] = kLlmcMagic;
    header[1] = 1;
    header[2] = int32_t(tokens.size());
    out.append(reinterpret_cast<const char*>(header), sizeof header);
    out += as_uint16(tokens, path);
    write_file(path, out);
    return;
  }
  // Megatron: one sequence per document (EOT included at its end).
  bool wide = store.manifest().dtype_bytes == 4;
  std::string bin;
  if (wide) {
    bin.assign(reinterpret_cast<const char*>(tokens.data()), tokens.size() * 4);
  } else {
    bin = as_uint16(tokens, path + ".bin");
  }
  const auto& starts = store.doc_starts(split);
  std::string idx(kMegatronMagic, 9);
  put(idx, uint64_t(1));
  put(idx, uint8_t(wide ? 4 : 8));
  put(idx, uint64_t(starts.size()));
  put(idx, uint64_t(starts.size() + 1));
  for (size_t d = 0; d < starts.size(); ++d) {
    uint64_t end = d + 1 < starts.size() ? starts[d + 1] : tokens.size();
    put(idx, int32_t(end - starts[d]));
  }
  for (uint64_t s : starts) put(idx, int64_t(s * (wide ? 4 : 2)));
  for (size_t d = 0; d <= starts.size(); ++d) put(idx, int64_t(d));
  write_file(path + ".bin", bin);
  write_file(path + ".idx", idx);
}

void import_tokens(TokenFormat format, const std::string& path, const TokenizerInfo& tokenizer,
                   const std::string& out_dir) {
  std::vector<uint32_t> tokens;
  std::vector<uint64_t> doc_starts;
  auto read_u16 = [&](const std::string& bytes, size_t offset, const std::string& name) {
    if ((bytes.size() - offset) % 2) throw Error(cat(name, ": odd number of bytes for uint16 tokens"));
    size_t n = (bytes.size() - offset) / 2;
    tokens.resize(n);
    for (size_t i = 0; i < n; ++i) {
      uint16_t t;
      std::memcpy(&t, bytes.data() + offset + 2 * i, 2);
      tokens[i] = t;
    }
  };
  if (format == TokenFormat::kNanoGpt) {
    read_u16(read_file(path), 0, path);
    doc_starts.push_back(0);
    for (size_t i = 0; i + 1 < tokens.size(); ++i)
      if (tokens[i] == tokenizer.eot) doc_starts.push_back(i + 1);
  } else if (format == TokenFormat::kLlmc) {
    std::string bytes = read_file(path);
    if (bytes.size() < 1024) throw Error(cat(path, ": shorter than the 1024-byte llm.c header"));
    int32_t header[256];
    std::memcpy(header, bytes.data(), sizeof header);
    if (header[0] != kLlmcMagic) throw Error(cat(path, ": bad llm.c magic ", header[0], " (expected 20240520)"));
    if (header[1] != 1) throw Error(cat(path, ": llm.c version ", header[1], ", expected 1"));
    read_u16(bytes, 1024, path);
    if (tokens.size() != uint64_t(header[2]))
      throw Error(cat(path, ": header says ", header[2], " tokens, the file holds ", tokens.size()));
    // EOT-first documents → kiln's EOT-last layout: drop the leading EOT, end with one.
    if (!tokens.empty() && tokens.front() == tokenizer.eot) {
      tokens.erase(tokens.begin());
      tokens.push_back(tokenizer.eot);
    }
    doc_starts.push_back(0);
    for (size_t i = 0; i + 1 < tokens.size(); ++i)
      if (tokens[i] == tokenizer.eot) doc_starts.push_back(i + 1);
  } else {
    std::string idx = read_file(path + ".idx"), bin = read_file(path + ".bin");
    if (idx.size() < 34 || std::memcmp(idx.data(), kMegatronMagic, 9) != 0)
      throw Error(cat(path, ".idx: not a Megatron index (bad magic)"));
    const char* p = idx.data() + 9;
    auto take = [&](auto& v) {
      if (p + sizeof v > idx.data() + idx.size()) throw Error(cat(path, ".idx: truncated at byte ", p - idx.data()));
      std::memcpy(&v, p, sizeof v);
      p += sizeof v;
    };
    uint64_t version, sequences, documents;
    uint8_t dtype;
    take(version);
    take(dtype);
    take(sequences);
    take(documents);
    if (version != 1) throw Error(cat(path, ".idx: version ", version, ", expected 1"));
    if (dtype != 8 && dtype != 4) throw Error(cat(path, ".idx: dtype code ", int(dtype), " (kiln reads 8 = uint16, 4 = int32)"));
    std::vector<int32_t> sizes(sequences);
    std::vector<int64_t> pointers(sequences), doc_index(documents);
    for (auto& v : sizes) take(v);
    for (auto& v : pointers) take(v);
    for (auto& v : doc_index) take(v);
    size_t width = dtype == 8 ? 2 : 4;
    for (size_t d = 0; d + 1 < doc_index.size(); ++d) {
      doc_starts.push_back(tokens.size());
      for (int64_t s = doc_index[d]; s < doc_index[d + 1]; ++s) {
        if (uint64_t(pointers[s]) + uint64_t(sizes[s]) * width > bin.size())
          throw Error(cat(path, ".bin: sequence ", s, " runs past the end of the file"));
        for (int32_t k = 0; k < sizes[s]; ++k) {
          uint32_t t = 0;
          std::memcpy(&t, bin.data() + pointers[s] + int64_t(k) * int64_t(width), width);
          tokens.push_back(t);
        }
      }
    }
  }
  fs::create_directories(out_dir);
  ShardWriterOptions options;
  options.dtype_bytes = tokenizer.vocab_size <= 65536 ? 2 : 4;
  TokenShardWriter writer((fs::path(out_dir) / "train-00000.kts").string(), options);
  for (size_t d = 0; d < doc_starts.size(); ++d) {
    uint64_t end = d + 1 < doc_starts.size() ? doc_starts[d + 1] : tokens.size();
    writer.add_document(tokens.data() + doc_starts[d], end - doc_starts[d]);
  }
  writer.finish();
  StoreManifest m;
  m.dtype_bytes = options.dtype_bytes;
  m.block_tokens = options.block_tokens;
  m.tokenizer = tokenizer;
  if (writer.num_tokens()) m.train.push_back({"train-00000.kts", path, writer.num_tokens(), writer.num_docs()});
  m.sources[path] = {writer.num_docs(), writer.num_tokens()};
  write_file((fs::path(out_dir) / "manifest.json").string(), m.to_json());
}

}  // namespace kiln
