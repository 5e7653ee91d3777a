#include "corpus/token_store.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
// Compiled here rather than called in Debian's libxxhash, which is built for baseline
// x86-64 (SSE2): inlined under x86-64-v3, XXH3 hashes a 128 KiB block in cache with AVX2
// at 49 GB/s instead of 20 (same hashes). A block coming from memory is bound by memory
// either way; decoded zstd blocks are hashed while still in cache.
#define XXH_INLINE_ALL
#include <xxhash.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_d_forceIgnoreChecksum (see load_block)
#include <zstd.h>

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "corpus/error.h"
#include "corpus/text.h"

namespace kiln {
namespace fs = std::filesystem;

std::string_view split_name(Split split) { return split == Split::kTrain ? "train" : "val"; }

namespace {

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'T', 'O', 'K', '1'};
constexpr uint32_t kShardVersion = 1;
constexpr size_t kFooterBytes = 64;

// Footer layout (little-endian): magic[8], version u32, dtype_bytes u32, compression u32,
// block_tokens u32, num_tokens u64, num_blocks u64, num_docs u64, index_offset u64,
// index_hash u64.
struct Footer {
  uint32_t version, dtype_bytes, compression, block_tokens;
  uint64_t num_tokens, num_blocks, num_docs, index_offset, index_hash;
};

template <class T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}
template <class T>
T get(const char*& p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  p += sizeof value;
  return value;
}

void encode_tokens(const uint32_t* tokens, size_t count, uint32_t dtype_bytes, std::string& out) {
  out.resize(count * dtype_bytes);
  if (dtype_bytes == 4) {
    std::memcpy(out.data(), tokens, count * 4);
  } else {
    auto* dst = reinterpret_cast<uint16_t*>(out.data());
    for (size_t i = 0; i < count; ++i) dst[i] = static_cast<uint16_t>(tokens[i]);
  }
}

}  // namespace

// ---- TokenShardWriter ----------------------------------------------------------------

TokenShardWriter::TokenShardWriter(std::string path, const ShardWriterOptions& options, bool deferred)
    : deferred_(deferred), path_(std::move(path)), options_(options), file_(std::make_unique<AtomicFile>(path_)) {
  if (options_.dtype_bytes != 2 && options_.dtype_bytes != 4) throw Error("token shard dtype must be 2 or 4 bytes");
  if (options_.block_tokens == 0) throw Error("block_tokens must be positive");
  pending_.reserve(options_.block_tokens);
}

TokenShardWriter::~TokenShardWriter() = default;

void TokenShardWriter::add_document(const uint32_t* tokens, size_t count) {
  doc_starts_.push_back(num_tokens_);
  if (options_.dtype_bytes == 2)
    for (size_t i = 0; i < count; ++i)
      if (tokens[i] > 0xFFFF) throw Error(cat(path_, ": token id ", tokens[i], " does not fit the store's uint16 dtype"));
  while (count > 0) {
    size_t take = std::min<size_t>(count, options_.block_tokens - pending_.size());
    pending_.insert(pending_.end(), tokens, tokens + take);
    tokens += take;
    count -= take;
    num_tokens_ += take;
    if (pending_.size() == options_.block_tokens) flush_block();
  }
}

std::vector<std::vector<uint32_t>> TokenShardWriter::take_full_blocks() { return std::move(full_blocks_); }

EncodedBlock TokenShardWriter::encode_block(const std::vector<uint32_t>& tokens, const ShardWriterOptions& options) {
  EncodedBlock block;
  std::string raw;
  encode_tokens(tokens.data(), tokens.size(), options.dtype_bytes, raw);
  block.hash = XXH3_64bits(raw.data(), raw.size());
  block.num_tokens = uint32_t(tokens.size());
  if (options.compress) {
    compress_append(Compression::kZstd, options.zstd_level, raw, block.stored);
  } else {
    block.stored = std::move(raw);
  }
  return block;
}

void TokenShardWriter::write_block(const EncodedBlock& block) {
  file_->write(block.stored);
  blocks_.push_back({offset_, block.hash, uint32_t(block.stored.size()), block.num_tokens});
  offset_ += block.stored.size();
}

void TokenShardWriter::flush_block() {
  if (pending_.empty()) return;
  if (deferred_) {
    full_blocks_.push_back(std::move(pending_));
    pending_ = {};
    pending_.reserve(options_.block_tokens);
    return;
  }
  write_block(encode_block(pending_, options_));
  pending_.clear();
}

void TokenShardWriter::finish() {
  for (auto& b : full_blocks_) write_block(encode_block(b, options_));
  full_blocks_.clear();
  if (!pending_.empty()) write_block(encode_block(pending_, options_));
  pending_.clear();
  std::string index;
  for (const auto& b : blocks_) {
    put(index, b.offset);
    put(index, b.stored_bytes);
    put(index, b.num_tokens);
    put(index, b.hash);
  }
  for (uint64_t d : doc_starts_) put(index, d);
  std::string footer(kMagic, 8);
  put(footer, kShardVersion);
  put(footer, options_.dtype_bytes);
  put(footer, uint32_t(options_.compress ? 1 : 0));
  put(footer, options_.block_tokens);
  put(footer, num_tokens_);
  put(footer, uint64_t(blocks_.size()));
  put(footer, uint64_t(doc_starts_.size()));
  put(footer, offset_);
  put(footer, XXH3_64bits(index.data(), index.size()));
  footer.resize(kFooterBytes, '\0');
  file_->write(index);
  file_->write(footer);
  file_->commit();
}

// ---- TokenShard ----------------------------------------------------------------------

void widen_tokens(const std::byte* src, uint32_t dtype_bytes, size_t count, uint32_t* out) {
  if (dtype_bytes == 4) {
    std::memcpy(out, src, count * 4);
    return;
  }
  const auto* s = reinterpret_cast<const uint16_t*>(src);
  for (size_t i = 0; i < count; ++i) out[i] = s[i];
}

void widen_tokens(const std::byte* src, uint32_t dtype_bytes, size_t count, int32_t* out) {
  if (dtype_bytes == 4) {
    std::memcpy(out, src, count * 4);
    return;
  }
  const auto* s = reinterpret_cast<const uint16_t*>(src);
  for (size_t i = 0; i < count; ++i) out[i] = int32_t(s[i]);
}

TokenShard::TokenShard(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(cat(path, ": cannot open token shard: ", std::strerror(errno)));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(cat(path, ": cannot stat token shard: ", std::strerror(errno)));
  }
  off_t size = st.st_size;
  if (size < off_t(kFooterBytes)) {
    ::close(fd);
    throw Error(cat(path, ": not a token shard (", size, " bytes, no footer)"));
  }
  void* map = ::mmap(nullptr, size_t(size), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);  // the mapping keeps the file
  if (map == MAP_FAILED) throw Error(cat(path, ": cannot map token shard: ", std::strerror(errno)));
  map_ = std::shared_ptr<const std::byte>(static_cast<const std::byte*>(map),
                                          [size](const std::byte* p) { ::munmap(const_cast<std::byte*>(p), size_t(size)); });
  const char* file = reinterpret_cast<const char*>(map_.get());
  const char* footer = file + size - off_t(kFooterBytes);
  if (std::memcmp(footer, kMagic, 8) != 0)
    throw Error(cat(path, ": not a kiln token shard (bad magic at byte ", size - off_t(kFooterBytes), ")"));
  const char* p = footer + 8;
  Footer f;
  f.version = get<uint32_t>(p);
  f.dtype_bytes = get<uint32_t>(p);
  f.compression = get<uint32_t>(p);
  f.block_tokens = get<uint32_t>(p);
  f.num_tokens = get<uint64_t>(p);
  f.num_blocks = get<uint64_t>(p);
  f.num_docs = get<uint64_t>(p);
  f.index_offset = get<uint64_t>(p);
  f.index_hash = get<uint64_t>(p);
  if (f.version != kShardVersion) throw Error(cat(path, ": token shard version ", f.version, ", expected 1"));
  if (f.dtype_bytes != 2 && f.dtype_bytes != 4) throw Error(cat(path, ": token dtype of ", f.dtype_bytes, " bytes, expected 2 or 4"));
  if (f.compression > 1) throw Error(cat(path, ": unknown block compression ", f.compression, ", expected 0 (raw) or 1 (zstd)"));
  // The index is read in place: bound each count by the file size first, so that a corrupt
  // footer cannot make the sum below wrap around and point outside the mapping.
  if (f.num_blocks > uint64_t(size) / 24 || f.num_docs > uint64_t(size) / 8 || f.index_offset > uint64_t(size))
    throw Error(cat(path, ": footer counts (", f.num_blocks, " blocks, ", f.num_docs, " documents, index at byte ",
                    f.index_offset, ") do not fit the file size ", size));
  uint64_t index_bytes = f.num_blocks * 24 + f.num_docs * 8;
  if (f.index_offset + index_bytes + kFooterBytes != uint64_t(size))
    throw Error(cat(path, ": index at byte ", f.index_offset, " does not match the file size ", size));
  const char* index = file + f.index_offset;
  if (XXH3_64bits(index, index_bytes) != f.index_hash)
    throw Error(cat(path, ": index checksum mismatch (index at byte ", f.index_offset, ")"));
  dtype_bytes_ = f.dtype_bytes;
  block_tokens_ = f.block_tokens;
  compressed_ = f.compression == 1;
  num_tokens_ = f.num_tokens;
  p = index;
  blocks_.resize(f.num_blocks);
  checked_ = std::make_unique<std::atomic<bool>[]>(blocks_.size());
  for (size_t b = 0; b < blocks_.size(); ++b) {
    Block& block = blocks_[b];
    block.offset = get<uint64_t>(p);
    block.stored_bytes = get<uint32_t>(p);
    block.num_tokens = get<uint32_t>(p);
    block.hash = get<uint64_t>(p);
    // Blocks are read in place, so they must lie before the index; raw ones are served as
    // typed pointers, so they must hold exactly their tokens at an aligned offset.
    if (block.offset + block.stored_bytes > f.index_offset)
      throw Error(cat(path, ": block ", b, " at byte ", block.offset, " runs past the index at byte ", f.index_offset));
    if (!compressed_ && (block.stored_bytes != uint64_t(block.num_tokens) * dtype_bytes_ || block.offset % dtype_bytes_))
      throw Error(cat(path, ": raw block ", b, " at byte ", block.offset, " holds ", block.stored_bytes, " bytes for ",
                      block.num_tokens, " tokens"));
  }
  doc_starts_.resize(f.num_docs);
  for (auto& d : doc_starts_) d = get<uint64_t>(p);
}

const std::byte* TokenShard::load_block(size_t b, std::vector<std::byte>& buffer, Check check) const {
  const Block& block = blocks_.at(b);
  const std::byte* stored = map_.get() + block.offset;
  const std::byte* raw = stored;
  size_t raw_bytes = size_t(block.num_tokens) * dtype_bytes_;
  if (compressed_) {
    // One decompression context per thread: ZSTD_decompress would allocate one per block.
    // The frame's own XXH64 content checksum is skipped: the block's XXH3 below checks the
    // same bytes, and skipping it decodes ~10% faster (measured on 64 Ki-token blocks). A
    // libzstd that does not know the parameter refuses it and checks both, as before.
    thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx = [] {
      std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d(ZSTD_createDCtx(), ZSTD_freeDCtx);
      ZSTD_DCtx_setParameter(d.get(), ZSTD_d_forceIgnoreChecksum, ZSTD_d_ignoreChecksum);
      return d;
    }();
    buffer.resize(raw_bytes);
    size_t n = ZSTD_decompressDCtx(dctx.get(), buffer.data(), raw_bytes, stored, block.stored_bytes);
    if (ZSTD_isError(n) || n != raw_bytes)
      throw Error(cat(path_, ": block ", b, " at byte ", block.offset, ": corrupt (",
                      ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size", ")"));
    raw = buffer.data();
  } else if (check == Check::kFirstUse && checked_[b].load(std::memory_order_relaxed)) {
    return raw;
  }
  if (XXH3_64bits(raw, raw_bytes) != block.hash)
    throw Error(cat(path_, ": block ", b, " at byte ", block.offset, ": checksum mismatch"));
  if (!compressed_) checked_[b].store(true, std::memory_order_relaxed);
  return raw;
}

void TokenShard::read_block(size_t b, std::vector<uint32_t>& out) const {
  std::vector<std::byte> buffer;
  const std::byte* raw = load_block(b, buffer, Check::kAlways);
  out.resize(blocks_[b].num_tokens);
  widen_tokens(raw, dtype_bytes_, out.size(), out.data());
}

// ---- manifest ------------------------------------------------------------------------

std::string StoreManifest::to_json() const {
  std::string o = "{\n";
  o += cat("  \"format\": \"kiln-token-store\",\n  \"version\": ", version, ",\n  \"dtype\": \"",
           dtype_bytes == 2 ? "uint16" : "uint32", "\",\n  \"block_tokens\": ", block_tokens,
           ",\n  \"compression\": \"", compressed ? "zstd" : "none", "\",\n  \"val_fraction\": ", val_fraction,
           ",\n  \"split_seed\": ", split_seed, ",\n  \"tokenizer\": {\"name\": ");
  append_json_string(o, tokenizer.name);
  o += ", \"fingerprint\": ";
  append_json_string(o, tokenizer.fingerprint);
  o += cat(", \"vocab_size\": ", tokenizer.vocab_size, ", \"eot\": ", tokenizer.eot, "},\n");
  auto shards = [&](const char* name, const std::vector<ShardInfo>& list) {
    uint64_t tokens = 0, docs = 0;
    for (auto& s : list) tokens += s.num_tokens, docs += s.num_docs;
    o += cat("  \"", name, "\": {\"tokens\": ", tokens, ", \"docs\": ", docs, ", \"shards\": [");
    for (size_t i = 0; i < list.size(); ++i) {
      o += i ? ",\n    {\"path\": " : "\n    {\"path\": ";
      append_json_string(o, list[i].path);
      o += ", \"source\": ";
      append_json_string(o, list[i].source);
      o += cat(", \"tokens\": ", list[i].num_tokens, ", \"docs\": ", list[i].num_docs, "}");
    }
    o += "]},\n";
  };
  shards("train", train);
  shards("val", val);
  o += "  \"sources\": {";
  bool first = true;
  for (auto& [name, counts] : sources) {
    o += first ? "\n    " : ",\n    ";
    first = false;
    append_json_string(o, name);
    o += cat(": {\"docs\": ", counts.first, ", \"tokens\": ", counts.second, "}");
  }
  o += "}\n}\n";
  return o;
}

StoreManifest StoreManifest::from_json(std::string_view json, const std::string& source) {
  using namespace simdjson;
  dom::parser parser;
  dom::element root;
  if (auto e = parser.parse(json.data(), json.size()).get(root)) throw Error(cat(source, ": ", error_message(e)));
  auto need = [&](auto result, const char* key) {
    if (result.error()) throw Error(cat(source, ": manifest field '", key, "' missing or of the wrong type"));
    return result.value_unsafe();
  };
  StoreManifest m;
  std::string_view format = need(root["format"].get_string(), "format");
  if (format != "kiln-token-store") throw Error(cat(source, ": not a kiln token store manifest"));
  m.version = int(need(root["version"].get_int64(), "version"));
  if (m.version != 1) throw Error(cat(source, ": store format version ", m.version, ", expected 1"));
  m.dtype_bytes = need(root["dtype"].get_string(), "dtype") == "uint16" ? 2 : 4;
  m.block_tokens = uint32_t(need(root["block_tokens"].get_uint64(), "block_tokens"));
  m.compressed = need(root["compression"].get_string(), "compression") == "zstd";
  m.val_fraction = need(root["val_fraction"].get_double(), "val_fraction");
  m.split_seed = need(root["split_seed"].get_uint64(), "split_seed");
  dom::object tok = need(root["tokenizer"].get_object(), "tokenizer");
  m.tokenizer.name = std::string(need(tok["name"].get_string(), "tokenizer.name"));
  m.tokenizer.fingerprint = std::string(need(tok["fingerprint"].get_string(), "tokenizer.fingerprint"));
  m.tokenizer.vocab_size = uint32_t(need(tok["vocab_size"].get_uint64(), "tokenizer.vocab_size"));
  m.tokenizer.eot = uint32_t(need(tok["eot"].get_uint64(), "tokenizer.eot"));
  for (auto [name, list] : {std::pair{"train", &m.train}, std::pair{"val", &m.val}}) {
    dom::array shards = need(root[name]["shards"].get_array(), name);
    for (dom::element s : shards) {
      list->push_back({std::string(need(s["path"].get_string(), "path")),
                       std::string(need(s["source"].get_string(), "source")),
                       need(s["tokens"].get_uint64(), "tokens"), need(s["docs"].get_uint64(), "docs")});
    }
  }
  dom::object sources = need(root["sources"].get_object(), "sources");
  for (auto [k, v] : sources) m.sources[std::string(k)] = {need(v["docs"].get_uint64(), "docs"), need(v["tokens"].get_uint64(), "tokens")};
  return m;
}

// ---- TokenStore ----------------------------------------------------------------------

TokenStore TokenStore::open(const std::string& dir) {
  TokenStore store;
  std::string manifest_path = (fs::path(dir) / "manifest.json").string();
  if (!fs::exists(manifest_path)) throw Error(cat(dir, ": not a token store (no manifest.json)"));
  store.manifest_ = StoreManifest::from_json(read_file(manifest_path), manifest_path);
  for (Split split : {Split::kTrain, Split::kVal}) {
    SplitData& d = split == Split::kTrain ? store.train_ : store.val_;
    for (const ShardInfo& info : split == Split::kTrain ? store.manifest_.train : store.manifest_.val) {
      auto shard = std::make_shared<TokenShard>((fs::path(dir) / info.path).string());
      if (shard->num_tokens() != info.num_tokens)
        throw Error(cat(shard->path(), ": holds ", shard->num_tokens(), " tokens, the manifest says ", info.num_tokens));
      if (shard->dtype_bytes() != store.manifest_.dtype_bytes)  // views are served in the manifest's dtype
        throw Error(cat(shard->path(), ": tokens of ", shard->dtype_bytes(), " bytes, the manifest says ",
                        store.manifest_.dtype_bytes));
      d.shard_begin.push_back(d.num_tokens);
      for (uint64_t s : shard->doc_starts()) d.doc_starts.push_back(d.num_tokens + s);
      d.num_tokens += shard->num_tokens();
      d.shards.push_back(std::move(shard));
    }
    d.doc_index.resize((d.num_tokens >> kDocIndexShift) + 2);
    for (size_t k = 0, i = 0; k < d.doc_index.size(); ++k) {
      while (i < d.doc_starts.size() && d.doc_starts[i] < (uint64_t(k) << kDocIndexShift)) ++i;
      d.doc_index[k] = i;
    }
  }
  return store;
}

uint64_t TokenStore::num_tokens(Split split) const { return data(split).num_tokens; }
uint64_t TokenStore::num_docs(Split split) const { return data(split).doc_starts.size(); }
const std::vector<uint64_t>& TokenStore::doc_starts(Split split) const { return data(split).doc_starts; }

void TokenStore::doc_starts_in(Split split, uint64_t begin, uint64_t end, std::vector<uint32_t>& out) const {
  const SplitData& d = data(split);
  size_t k = size_t(std::min<uint64_t>(begin >> kDocIndexShift, d.doc_index.size() - 2));
  auto first = d.doc_starts.begin() + long(d.doc_index[k]), last = d.doc_starts.begin() + long(d.doc_index[k + 1]);
  for (auto it = std::lower_bound(first, last, begin); it != d.doc_starts.end() && *it < end; ++it)
    out.push_back(uint32_t(*it - begin));
}

namespace {
uint64_t block_key(Split split, size_t shard, size_t block) {
  return (uint64_t(split == Split::kVal) << 63) | (uint64_t(shard) << 40) | uint64_t(block);
}
}  // namespace

TokenStore::Location TokenStore::locate(const SplitData& d, uint64_t pos) const {
  size_t shard = size_t(std::upper_bound(d.shard_begin.begin(), d.shard_begin.end(), pos) - d.shard_begin.begin()) - 1;
  while (d.shards[shard]->num_tokens() == 0) ++shard;  // empty shards hold nothing
  uint64_t in_shard = pos - d.shard_begin[shard];
  uint32_t bt = d.shards[shard]->block_tokens();
  size_t block = size_t(in_shard / bt);
  return {shard, block, in_shard - uint64_t(block) * bt};
}

void TokenStore::read(Split split, uint64_t begin, uint64_t count, std::vector<uint32_t>& out) const {
  const SplitData& d = data(split);
  if (begin + count > d.num_tokens)
    throw Error(cat("token store: read of [", begin, ", ", begin + count, ") past the end of the ", split_name(split),
                    " split (", d.num_tokens, " tokens)"));
  out.resize(count);
  uint64_t pos = begin, end = begin + count;
  while (pos < end) {
    Location at = locate(d, pos);
    BlockRef b = block(split, at.shard, at.block);
    uint64_t take = std::min<uint64_t>(end - pos, b.num_tokens - at.offset);
    widen_tokens(b.data + at.offset * dtype_bytes(), dtype_bytes(), take, out.data() + (pos - begin));
    pos += take;
  }
}

const std::byte* TokenStore::view(Split split, uint64_t begin, uint64_t count, std::vector<std::byte>& scratch) const {
  const SplitData& d = data(split);
  if (begin + count > d.num_tokens)
    throw Error(cat("token store: read of [", begin, ", ", begin + count, ") past the end of the ", split_name(split),
                    " split (", d.num_tokens, " tokens)"));
  const size_t width = dtype_bytes();
  Location at = locate(d, begin);
  BlockRef b = block(split, at.shard, at.block);
  if (at.offset + count <= b.num_tokens) return b.data + at.offset * width;  // the common case: no copy
  scratch.resize(count * width);
  uint64_t pos = begin, end = begin + count;
  for (;;) {
    uint64_t take = std::min<uint64_t>(end - pos, b.num_tokens - at.offset);
    std::memcpy(scratch.data() + (pos - begin) * width, b.data + at.offset * width, take * width);
    pos += take;
    if (pos == end) return scratch.data();
    at = locate(d, pos);  // at.offset == 0 from here on
    uint32_t num_tokens = d.shards[at.shard]->block_num_tokens(at.block);
    const std::byte* h = head(block_key(split, at.shard, at.block), std::min<uint64_t>(end - pos, num_tokens));
    b = h ? BlockRef{h, num_tokens} : block(split, at.shard, at.block);
  }
}

void TokenStore::keep_head(uint64_t key, const std::vector<std::byte>& decoded) const {
  const SplitData& d = data(Split(key >> 63));
  size_t shard = size_t((key >> 40) & ((uint64_t(1) << 23) - 1)), block = size_t(key & ((uint64_t(1) << 40) - 1));
  uint64_t p = d.shard_begin[shard] + uint64_t(block) * d.shards[shard]->block_tokens();  // the block's first token
  uint64_t need = 0;
  for (uint32_t T : head_seq_lens_) {
    // The window that starts before p and runs into the block (windows start at multiples
    // of T), and whether it is the last of its chunk: if not, its chunk reads on into the
    // block and decodes it anyway, and no head is needed.
    uint64_t num_windows = d.num_tokens > T ? (d.num_tokens - 1) / T : 0;
    uint64_t per_chunk = std::max<uint64_t>(1, manifest_.block_tokens / T);
    if (p == 0) continue;
    uint64_t w = (p + T - 1) / T - 1;
    if (w >= num_windows || ((w + 1) % per_chunk != 0 && w + 1 != num_windows)) continue;
    need = std::max<uint64_t>(need, w * T + T + 1 - p);
  }
  size_t bytes = std::min<size_t>(decoded.size(), size_t(need) * dtype_bytes());
  if (bytes == 0) return;
  auto [it, added] = heads_.try_emplace(key);
  if (it->second.size() < bytes) it->second.assign(decoded.begin(), decoded.begin() + long(bytes));
}

const std::byte* TokenStore::head(uint64_t key, uint64_t count) const {
  auto found = heads_.find(key);
  return found != heads_.end() && found->second.size() >= count * dtype_bytes() ? found->second.data() : nullptr;
}

TokenStore::BlockRef TokenStore::block(Split split, size_t shard, size_t block) const {
  const TokenShard& s = *data(split).shards[shard];
  std::vector<std::byte> decoded;
  if (!s.compressed()) return {s.load_block(block, decoded), s.block_num_tokens(block)};
  uint64_t key = block_key(split, shard, block);
  auto found = cache_index_.find(key);
  if (found != cache_index_.end()) {
    cache_.splice(cache_.begin(), cache_, found->second);
  } else {
    if (cache_.size() >= cache_capacity_) {  // reuse the evicted block's memory
      decoded = std::move(cache_.back().decoded);
      cache_index_.erase(cache_.back().key);
      cache_.pop_back();
    }
    s.load_block(block, decoded);
    ++blocks_decoded_;
    keep_head(key, decoded);
    cache_.push_front({key, std::move(decoded)});
    cache_index_[key] = cache_.begin();
  }
  return {cache_.front().decoded.data(), s.block_num_tokens(block)};
}

void TokenStore::prefetch(Split split, const std::vector<std::pair<uint64_t, uint64_t>>& ranges) const {
  const SplitData& d = data(split);
  std::set<std::pair<size_t, size_t>> wanted;  // (shard, block), sorted: a fixed decode order
  std::vector<std::pair<size_t, size_t>> unchecked;  // raw blocks
  for (auto [begin, end] : ranges) {
    for (uint64_t pos = begin; pos < end && pos < d.num_tokens;) {
      Location at = locate(d, pos);
      const TokenShard& s = *d.shards[at.shard];
      uint64_t key = block_key(split, at.shard, at.block);
      uint64_t block_end = pos - at.offset + s.block_num_tokens(at.block);
      auto cached = cache_index_.find(key);
      if (!s.compressed()) {
        if (!s.checked(at.block)) wanted.insert({at.shard, at.block});
      } else if (cached != cache_index_.end()) {
        cache_.splice(cache_.begin(), cache_, cached->second);  // needed: not among the evicted below
      } else if (!(at.offset == 0 && head(key, std::min(end, block_end) - pos))) {
        wanted.insert({at.shard, at.block});
      }
      pos = block_end;
    }
  }
  std::vector<std::pair<size_t, size_t>> list;
  for (auto [shard, block] : wanted) (d.shards[shard]->compressed() ? list : unchecked).push_back({shard, block});
  tbb::parallel_for(size_t(0), unchecked.size(), [&](size_t i) {
    std::vector<std::byte> unused;
    d.shards[unchecked[i].first]->load_block(unchecked[i].second, unused);
  });
  if (list.size() > cache_capacity_) list.resize(cache_capacity_);
  // Evict first (the same blocks inserting one by one would evict) and decode into the
  // evicted blocks' memory: fresh 128 KiB buffers are fresh pages, faulted in and zeroed.
  std::vector<std::vector<std::byte>> decoded(list.size());
  for (size_t i = 0; i < list.size() && !cache_.empty() && cache_.size() + list.size() > cache_capacity_; ++i) {
    decoded[i] = std::move(cache_.back().decoded);
    cache_index_.erase(cache_.back().key);
    cache_.pop_back();
  }
  tbb::parallel_for(size_t(0), list.size(),
                    [&](size_t i) { d.shards[list[i].first]->load_block(list[i].second, decoded[i]); });
  blocks_decoded_ += list.size();
  for (size_t i = 0; i < list.size(); ++i) {
    uint64_t key = block_key(split, list[i].first, list[i].second);
    keep_head(key, decoded[i]);
    cache_.push_front({key, std::move(decoded[i])});
    cache_index_[key] = cache_.begin();
  }
}

std::vector<std::string> TokenStore::verify() const {
  std::vector<std::string> problems;
  std::vector<uint32_t> tokens;
  for (const SplitData* d : {&train_, &val_})
    for (const auto& shard : d->shards)
      for (size_t b = 0; b < shard->num_blocks(); ++b) {
        try {
          shard->read_block(b, tokens);  // checks every block again
        } catch (const Error& e) {
          problems.emplace_back(e.what());
        }
      }
  return problems;
}

// ---- TokenStream ---------------------------------------------------------------------

namespace {

// SplitMix64: a tiny, fully specified generator, so that shuffles are the same with every
// standard library (std::uniform_int_distribution is implementation-defined).
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) by Lemire's multiply-and-reject.
  uint64_t below(uint64_t n) {
    for (;;) {
      __uint128_t m = __uint128_t(next()) * n;
      uint64_t low = uint64_t(m);
      if (low >= n || low >= (-n) % n) return uint64_t(m >> 64);
    }
  }
};

uint64_t mix(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t v[3] = {a, b, c};
  return XXH3_64bits(v, sizeof v);
}

template <class T>
void shuffle(std::vector<T>& items, uint64_t seed) {
  SplitMix64 rng{seed};
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.below(i)]);
}

}  // namespace

TokenStream::TokenStream(const TokenStore& store, const StreamOptions& options) : store_(store), options_(options) {
  if (options_.seq_len == 0) throw Error("seq_len must be positive");
  if (options_.world_size < 1 || options_.rank < 0 || options_.rank >= options_.world_size)
    throw Error(cat("rank ", options_.rank, " is not in [0, world_size=", options_.world_size, ")"));
  uint64_t n = store.num_tokens(options_.split);
  num_windows_ = n > options_.seq_len ? (n - 1) / options_.seq_len : 0;
  if (num_windows_ == 0)
    throw Error(cat("token store: the ", split_name(options_.split), " split has ", n, " tokens, fewer than one window of ",
                    options_.seq_len + 1));
  windows_per_chunk_ = std::max<uint64_t>(1, store.manifest().block_tokens / options_.seq_len);
  num_chunks_ = (num_windows_ + windows_per_chunk_ - 1) / windows_per_chunk_;
  cursor_.sample = uint64_t(options_.rank);
  // A buffer's windows lie in buffer_chunks chunks, each spanning up to two blocks.
  uint64_t blocks_per_chunk = (windows_per_chunk_ * options_.seq_len) / store.manifest().block_tokens + 2;
  store.reserve_cache(size_t(options_.shuffle ? options_.buffer_chunks * blocks_per_chunk : 2));
  if (options_.shuffle) store.reserve_heads(options_.seq_len);
}

void TokenStream::prepare_epoch(uint64_t epoch) {
  if (epoch_ready_ == epoch) return;
  chunk_order_.resize(num_chunks_);
  for (uint64_t c = 0; c < num_chunks_; ++c) chunk_order_[c] = c;
  if (options_.shuffle) shuffle(chunk_order_, mix(options_.seed, epoch, 0x636875ull));
  // Buffers group buffer_chunks consecutive chunks of the order; the last chunk of the
  // split may be short, so buffer sizes are summed, not multiplied.
  buffer_begin_.clear();
  uint64_t samples = 0;
  for (uint64_t i = 0; i < num_chunks_; ++i) {
    if (i % options_.buffer_chunks == 0) buffer_begin_.push_back(samples);
    uint64_t c = chunk_order_[i];
    samples += std::min(windows_per_chunk_, num_windows_ - c * windows_per_chunk_);
  }
  buffer_begin_.push_back(samples);
  epoch_ready_ = epoch;
  buffer_ready_ = UINT64_MAX;
}

uint64_t TokenStream::window_index(uint64_t epoch, uint64_t sample) {
  if (sample >= num_windows_) throw Error(cat("sample ", sample, " is past the epoch's ", num_windows_, " windows"));
  if (!options_.shuffle) return sample;
  if (epoch == epoch_ready_ && buffer_ready_ != UINT64_MAX && sample >= buffer_begin_[buffer_ready_] &&
      sample < buffer_begin_[buffer_ready_ + 1])  // the common case: the current buffer
    return buffer_windows_[sample - buffer_begin_[buffer_ready_]];
  prepare_epoch(epoch);
  uint64_t buffer = uint64_t(std::upper_bound(buffer_begin_.begin(), buffer_begin_.end(), sample) - buffer_begin_.begin()) - 1;
  if (buffer_ready_ != buffer) {
    buffer_windows_.clear();
    uint64_t first = buffer * options_.buffer_chunks;
    uint64_t last = std::min<uint64_t>(num_chunks_, first + options_.buffer_chunks);
    for (uint64_t i = first; i < last; ++i) {
      uint64_t c = chunk_order_[i];
      uint64_t begin = c * windows_per_chunk_, end = std::min(num_windows_, begin + windows_per_chunk_);
      for (uint64_t w = begin; w < end; ++w) buffer_windows_.push_back(w);
    }
    shuffle(buffer_windows_, mix(options_.seed, epoch, 0x77696eull + buffer));
    buffer_ready_ = buffer;
    // Decode the buffer's blocks up front, in parallel, instead of one by one on demand.
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (uint64_t i = first; i < last; ++i) {
      uint64_t c = chunk_order_[i];
      uint64_t begin = c * windows_per_chunk_ * options_.seq_len;
      uint64_t end = std::min(num_windows_, (c + 1) * windows_per_chunk_) * options_.seq_len + 1;
      ranges.push_back({begin, end});
    }
    store_.prefetch(options_.split, ranges);
  }
  return buffer_windows_[sample - buffer_begin_[buffer]];
}

void TokenStream::view_at(uint64_t epoch, uint64_t sample, WindowView& v) {
  uint64_t index = window_index(epoch, sample);
  uint64_t begin = index * options_.seq_len;
  v.size = options_.seq_len + 1;
  v.dtype_bytes = store_.dtype_bytes();
  v.data = store_.view(options_.split, begin, v.size, scratch_);
  v.doc_starts.clear();
  store_.doc_starts_in(options_.split, begin, begin + v.size, v.doc_starts);
  v.epoch = epoch;
  v.sample = sample;
  v.window = index;
}

void TokenStream::window_at(uint64_t epoch, uint64_t sample, Window& w) {
  view_at(epoch, sample, view_);
  w.tokens.resize(view_.size);
  widen_tokens(view_.data, view_.dtype_bytes, view_.size, w.tokens.data());
  w.doc_starts = view_.doc_starts;
  w.epoch = epoch;
  w.sample = sample;
  w.window = view_.window;
}

bool TokenStream::advance() {
  while (cursor_.sample >= num_windows_) {
    // Each epoch restarts at this rank's offset: ranks never trade samples across epochs.
    cursor_.sample = uint64_t(options_.rank);
    ++cursor_.epoch;
  }
  return !(options_.max_epochs && cursor_.epoch >= options_.max_epochs);
}

bool TokenStream::next(Window& w) {
  if (!advance()) return false;
  window_at(cursor_.epoch, cursor_.sample, w);
  cursor_.sample += uint64_t(options_.world_size);
  return true;
}

bool TokenStream::next(WindowView& v) {
  if (!advance()) return false;
  view_at(cursor_.epoch, cursor_.sample, v);
  cursor_.sample += uint64_t(options_.world_size);
  return true;
}

void TokenStream::restore(const StreamCursor& cursor) {
  if (cursor.sample % uint64_t(options_.world_size) != uint64_t(options_.rank) % uint64_t(options_.world_size))
    throw Error(cat("stream cursor at sample ", cursor.sample, " does not belong to rank ", options_.rank, " of ",
                    options_.world_size));
  cursor_ = cursor;
}

std::string StreamCursor::to_json() const { return cat("{\"epoch\":", epoch, ",\"sample\":", sample, "}"); }

StreamCursor StreamCursor::from_json(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  StreamCursor c;
  if (parser.parse(json.data(), json.size()).get(e) || e["epoch"].get_uint64().get(c.epoch) ||
      e["sample"].get_uint64().get(c.sample))
    throw Error(cat("invalid stream cursor: ", json));
  return c;
}

// ---- MixtureStream -------------------------------------------------------------------

MixtureStream::MixtureStream(const std::vector<MixtureSource>& sources, const StreamOptions& options)
    : options_(options) {
  if (sources.empty()) throw Error("a mixture needs at least one source");
  double total = 0;
  for (auto& s : sources) {
    if (!(s.weight > 0)) throw Error(cat("mixture weights must be positive, got ", s.weight));
    total += s.weight;
  }
  for (size_t i = 0; i < sources.size(); ++i) {
    weights_.push_back(sources[i].weight / total);
    StreamOptions o = options;
    o.rank = 0;
    o.world_size = 1;
    o.seed = mix(options.seed, i, 0x6d6978ull);
    streams_.push_back(std::make_unique<TokenStream>(*sources[i].store, o));
  }
  cursor_.served.assign(sources.size(), 0);
  // Rank r starts after the r samples other ranks take first.
  for (int r = 0; r < options.rank; ++r) ++cursor_.served[pick(cursor_.served, uint64_t(r))];
  cursor_.sample = uint64_t(options.rank);
}

size_t MixtureStream::pick(const std::vector<uint64_t>& served, uint64_t total) const {
  size_t best = 0;
  double best_lag = -1e300;
  for (size_t s = 0; s < weights_.size(); ++s) {
    double lag = weights_[s] * double(total + 1) - double(served[s]);
    if (lag > best_lag + 1e-12) best_lag = lag, best = s;
  }
  return best;
}

bool MixtureStream::next(Window& w, size_t* source) {
  size_t s = pick(cursor_.served, cursor_.sample);
  uint64_t k = cursor_.served[s];
  TokenStream& stream = *streams_[s];
  uint64_t epoch = k / stream.windows_per_epoch();
  if (options_.max_epochs && epoch >= options_.max_epochs) return false;
  stream.window_at(epoch, k % stream.windows_per_epoch(), w);
  w.sample = cursor_.sample;
  if (source) *source = s;
  // Advance past this sample and the world_size-1 samples of the other ranks.
  for (int i = 0; i < options_.world_size; ++i) {
    ++cursor_.served[pick(cursor_.served, cursor_.sample)];
    ++cursor_.sample;
  }
  return true;
}

void MixtureStream::restore(const MixtureCursor& cursor) {
  if (cursor.served.size() != streams_.size())
    throw Error(cat("mixture cursor has ", cursor.served.size(), " sources, the mixture ", streams_.size()));
  cursor_ = cursor;
}

std::string MixtureCursor::to_json() const {
  std::string o = cat("{\"sample\":", sample, ",\"served\":[");
  for (size_t i = 0; i < served.size(); ++i) o += cat(i ? "," : "", served[i]);
  return o + "]}";
}

MixtureCursor MixtureCursor::from_json(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  simdjson::dom::array a;
  MixtureCursor c;
  if (parser.parse(json.data(), json.size()).get(e) || e["sample"].get_uint64().get(c.sample) ||
      e["served"].get_array().get(a))
    throw Error(cat("invalid mixture cursor: ", json));
  for (auto v : a) c.served.push_back(v.get_uint64().value_unsafe());
  return c;
}

}  // namespace kiln
