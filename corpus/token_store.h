// The token store: tokenized documents packed into checksummed shards that a trainer
// streams forever, deterministically, on any number of ranks, with exact resume.
//
// A store is a directory:
//   manifest.json             format version, dtype, block size, tokenizer, splits, sources
//   train-00000.kts, ...      shards of the train split (one per packed input file)
//   val-00000.kts, ...        shards of the validation split
//
// A shard (.kts) is a run of blocks of `block_tokens` tokens (the last one shorter), each
// stored raw or as one zstd frame, followed by an index (per block: offset, stored size,
// token count, xxh3-64 of the raw token bytes; then the token offset of every document
// start) and a 64-byte footer (magic "KILNTOK1", version, dtype, counts, index offset,
// index checksum). Documents end with the EOT token. Every block read is checked; a bad
// block is an error naming the shard and block.
//
// Shards are memory-mapped. A raw (uncompressed) block is served in place: its checksum is
// checked the first time it is used after the store is opened, and windows inside it are
// views into the mapping. A zstd block is decoded (and checked) into the store's cache once
// per epoch and served from there.
//
//   TokenStore store = TokenStore::open("store/");
//   StreamOptions o;
//   o.seq_len = 1024; o.seed = 7; o.rank = 1; o.world_size = 4;
//   TokenStream stream(store, o);
//   Window w;
//   while (stream.next(w)) train_on(w.tokens);           // T+1 tokens per window, as uint32
//   WindowView v;
//   while (stream.next(v)) train_on(v.u16(), v.size);    // the same windows, no copy
//   std::string cursor = stream.cursor().to_json();     // save with the checkpoint
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <unordered_map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/stream.h"

namespace kiln {

enum class Split { kTrain, kVal };
std::string_view split_name(Split split);  // "train", "val"

// ---- writing -------------------------------------------------------------------------

struct ShardWriterOptions {
  uint32_t dtype_bytes = 2;          // 2 = uint16 (vocab ≤ 65536), 4 = uint32
  uint32_t block_tokens = 1u << 16;  // tokens per block; 64 Ki tokens = 128 KiB of uint16
  bool compress = true;              // one zstd frame per block
  int zstd_level = 1;                // token ids compress little; level 1 is 2× faster than 3 for ~1% size
};

// A block ready to be written: its stored bytes (compressed or raw) and raw-token hash.
struct EncodedBlock {
  std::string stored;
  uint64_t hash = 0;
  uint32_t num_tokens = 0;
};

// Writes one .kts shard atomically (temp + rename in finish()).
//
// By default full blocks are encoded and written as they fill. With `deferred` set, full
// blocks wait in take_full_blocks() so a caller can encode them on other threads
// (encode_block is thread-safe) and hand them back in order with write_block(); that is
// how `kiln pack` keeps compression off its serial path.
class TokenShardWriter {
 public:
  TokenShardWriter(std::string path, const ShardWriterOptions& options, bool deferred = false);
  ~TokenShardWriter();
  // Appends one document's tokens (the caller includes the EOT it wants at the end).
  void add_document(const uint32_t* tokens, size_t count);
  // Deferred mode: the blocks filled since the last call, in order.
  std::vector<std::vector<uint32_t>> take_full_blocks();
  static EncodedBlock encode_block(const std::vector<uint32_t>& tokens, const ShardWriterOptions& options);
  void write_block(const EncodedBlock& block);
  // Writes what is pending (a deferred caller must have written every block it took).
  void finish();
  uint64_t num_tokens() const { return num_tokens_; }
  uint64_t num_docs() const { return doc_starts_.size(); }
  const ShardWriterOptions& options() const { return options_; }

 private:
  void flush_block();
  bool deferred_;
  std::vector<std::vector<uint32_t>> full_blocks_;
  std::string path_;
  ShardWriterOptions options_;
  std::unique_ptr<AtomicFile> file_;
  std::vector<uint32_t> pending_;
  struct BlockEntry {
    uint64_t offset, hash;
    uint32_t stored_bytes, num_tokens;
  };
  std::vector<BlockEntry> blocks_;
  std::vector<uint64_t> doc_starts_;
  uint64_t num_tokens_ = 0, offset_ = 0;
};

// ---- reading -------------------------------------------------------------------------

struct ShardInfo {
  std::string path;  // absolute or relative to the current directory
  std::string source;  // the input the shard was packed from
  uint64_t num_tokens = 0;
  uint64_t num_docs = 0;
};

struct TokenizerInfo {
  std::string name;         // e.g. "gpt2", or the tokenizer file packed with
  std::string fingerprint;  // xxh3 of the tokenizer's vocabulary, to refuse mismatches
  uint32_t vocab_size = 0;
  uint32_t eot = 0;
};

struct StoreManifest {
  int version = 1;
  uint32_t dtype_bytes = 2;
  uint32_t block_tokens = 1u << 16;
  bool compressed = true;
  double val_fraction = 0;
  uint64_t split_seed = 0;
  TokenizerInfo tokenizer;
  std::vector<ShardInfo> train, val;
  std::map<std::string, std::pair<uint64_t, uint64_t>> sources;  // input → (docs, tokens)

  std::string to_json() const;
  static StoreManifest from_json(std::string_view json, const std::string& source);
};

// Widens `count` tokens of `dtype_bytes` (2 or 4) bytes each to 32 bits; the uint16 loop
// compiles to AVX2 (vpmovzxwd) under the x86-64-v3 build. Token ids are below 2^31, so the
// int32 form the trainer feeds its embedding is the same value.
void widen_tokens(const std::byte* src, uint32_t dtype_bytes, size_t count, uint32_t* out);
void widen_tokens(const std::byte* src, uint32_t dtype_bytes, size_t count, int32_t* out);

// Read access to one shard, memory-mapped: blocks checked (and decoded) on demand. The file
// must not be truncated while it is open (reading a mapped page past the end is SIGBUS);
// its size is checked against the index when it is opened.
class TokenShard {
 public:
  explicit TokenShard(const std::string& path);  // maps the file, checks footer and index
  uint64_t num_tokens() const { return num_tokens_; }
  const std::vector<uint64_t>& doc_starts() const { return doc_starts_; }
  size_t num_blocks() const { return blocks_.size(); }
  uint32_t block_tokens() const { return block_tokens_; }
  uint32_t block_num_tokens(size_t b) const { return blocks_[b].num_tokens; }
  uint32_t dtype_bytes() const { return dtype_bytes_; }
  bool compressed() const { return compressed_; }
  bool checked(size_t b) const { return checked_[b].load(std::memory_order_relaxed); }  // raw blocks
  // When a raw block's hash is checked: on its first use since the shard was opened (the
  // mapped bytes are then the page cache's, which a later check would only read again), or
  // on every call (`kiln store verify`). A zstd block is checked each time it is decoded.
  enum class Check { kFirstUse, kAlways };
  // Block b's tokens in the shard's dtype, checked against its hash: for a raw shard a
  // pointer into the mapping (`buffer` untouched), for a zstd shard decoded into `buffer`
  // (resized) and buffer.data(). Thread-safe. Throws Error naming the shard file and block
  // on any mismatch (and again on the next call: a failed block is not marked checked).
  const std::byte* load_block(size_t b, std::vector<std::byte>& buffer, Check check = Check::kFirstUse) const;
  // Block b widened to uint32 into `out` (resized), its hash checked.
  void read_block(size_t b, std::vector<uint32_t>& out) const;
  const std::string& path() const { return path_; }

 private:
  struct Block {
    uint64_t offset, hash;
    uint32_t stored_bytes, num_tokens;
  };
  std::string path_;
  std::shared_ptr<const std::byte> map_;  // the whole file, unmapped with the last copy
  uint32_t dtype_bytes_ = 2, block_tokens_ = 0;
  bool compressed_ = false;
  uint64_t num_tokens_ = 0;
  std::vector<Block> blocks_;
  std::unique_ptr<std::atomic<bool>[]> checked_;  // raw blocks whose hash matched
  std::vector<uint64_t> doc_starts_;
};

class TokenStore {
 public:
  // Opens a store directory: reads the manifest and every shard's index.
  static TokenStore open(const std::string& dir);

  const StoreManifest& manifest() const { return manifest_; }
  uint64_t num_tokens(Split split) const;
  uint64_t num_docs(Split split) const;
  // Token offsets (in the split's concatenated sequence) where documents start.
  const std::vector<uint64_t>& doc_starts(Split split) const;
  // Appends to `out` the document starts in [begin, end), as offsets from begin.
  void doc_starts_in(Split split, uint64_t begin, uint64_t end, std::vector<uint32_t>& out) const;
  uint32_t dtype_bytes() const { return manifest_.dtype_bytes; }
  // Reads tokens [begin, begin+count) of a split into out. Not thread-safe (block cache).
  void read(Split split, uint64_t begin, uint64_t count, std::vector<uint32_t>& out) const;
  // Tokens [begin, begin+count) in the store's dtype without a copy when they lie in one
  // block: a pointer into the mapped raw block or the cached decoded block. A range across
  // blocks is copied into `scratch`. Valid until the next call on the store. Not thread-safe.
  const std::byte* view(Split split, uint64_t begin, uint64_t count, std::vector<std::byte>& scratch) const;
  // Checks every block of every shard; returns one message per bad block (empty = clean).
  std::vector<std::string> verify() const;

 private:
  struct SplitData {
    std::vector<std::shared_ptr<TokenShard>> shards;
    std::vector<uint64_t> shard_begin;  // token offset of each shard in the split
    std::vector<uint64_t> doc_starts;
    // doc_index[k]: the first document starting at or after token k × kDocIndexStride, so
    // a window's starts are searched among a few documents, not all (a binary search over
    // all of them was most of a raw window's cost). 8 bytes per 4096 tokens.
    std::vector<uint64_t> doc_index;
    uint64_t num_tokens = 0;
  };
  static constexpr int kDocIndexShift = 12;  // kDocIndexStride = 4096 tokens
  const SplitData& data(Split s) const { return s == Split::kTrain ? train_ : val_; }
  StoreManifest manifest_;
  SplitData train_, val_;
  // Decoded zstd blocks, least recently used evicted first. A shuffled stream reads windows
  // from buffer_chunks blocks in random order; holding them all decodes each block once per
  // epoch. Raw blocks need no cache: they are read in place in the mapping.
  struct CachedBlock {
    uint64_t key;
    std::vector<std::byte> decoded;  // num_tokens × dtype_bytes bytes
  };
  mutable std::list<CachedBlock> cache_;  // most recent first
  mutable std::unordered_map<uint64_t, std::list<CachedBlock>::iterator> cache_index_;
  mutable size_t cache_capacity_ = 4;
  // Heads of zstd blocks: the tokens that the last window of a chunk reads past its own
  // block into this one, kept when the block is decoded. In a shuffled epoch that block is
  // seldom cached when the chunk comes, and without heads nearly every block was decoded
  // twice per epoch (measured: 1.8× the decodes). Where T divides the block size and the
  // shard starts on the window grid (one-shard stores, the first shard of any store) that
  // is one token per block. A shard that starts off the grid has every chunk reading a
  // large part of two blocks, so its blocks are decoded about twice per epoch whatever is
  // kept; heads are then not kept.
  mutable std::unordered_map<uint64_t, std::vector<std::byte>> heads_;
  mutable std::set<uint32_t> head_seq_lens_;  // the T of every shuffled stream on the store
  mutable uint64_t blocks_decoded_ = 0;
  void keep_head(uint64_t key, const std::vector<std::byte>& decoded) const;
  const std::byte* head(uint64_t key, uint64_t count) const;  // nullptr when not kept
  struct BlockRef {
    const std::byte* data;  // num_tokens × dtype_bytes bytes, checked
    uint32_t num_tokens;
  };
  BlockRef block(Split split, size_t shard, size_t block) const;
  // Where token `pos` of a split lies: (shard, block, offset in the block).
  struct Location {
    size_t shard, block;
    uint64_t offset;
  };
  Location locate(const SplitData& d, uint64_t pos) const;

 public:
  // Keeps at least `blocks` decoded blocks (streams ask for their shuffle buffer's size).
  void reserve_cache(size_t blocks) const { cache_capacity_ = std::max(cache_capacity_, blocks); }
  // Keeps the heads of zstd blocks that windows of `seq_len` T need (shuffled streams ask).
  void reserve_heads(uint32_t seq_len) const { head_seq_lens_.insert(seq_len); }
  // zstd blocks decoded since the store was opened.
  uint64_t blocks_decoded() const { return blocks_decoded_; }
  // Decodes, on all cores, the zstd blocks holding the given token ranges [begin, end) that
  // are not cached yet, and checks the raw ones not checked yet (a stream calls it when it
  // enters a shuffle buffer).
  void prefetch(Split split, const std::vector<std::pair<uint64_t, uint64_t>>& ranges) const;
};

// ---- streaming -----------------------------------------------------------------------

struct StreamOptions {
  Split split = Split::kTrain;
  uint32_t seq_len = 1024;      // T; each window holds T+1 tokens (inputs and shifted targets)
  uint64_t seed = 0;
  bool shuffle = true;          // chunk order, then window order within a buffer of chunks
  uint32_t buffer_chunks = 64;  // chunks (≈ one block of windows each) shuffled together
  int rank = 0;                 // this reader takes global samples rank, rank+W, rank+2W, ...
  int world_size = 1;
  uint64_t max_epochs = 0;      // 0 = forever
};

// Where a stream stands: the next global sample of this rank. Saved with checkpoints.
struct StreamCursor {
  uint64_t epoch = 0;
  uint64_t sample = 0;  // global sample index within the epoch
  std::string to_json() const;
  static StreamCursor from_json(std::string_view json);
  bool operator==(const StreamCursor&) const = default;
};

struct Window {
  std::vector<uint32_t> tokens;      // T+1 tokens
  std::vector<uint32_t> doc_starts;  // positions in `tokens` where a document starts
  uint64_t epoch = 0;
  uint64_t sample = 0;  // global sample index within the epoch
  uint64_t window = 0;  // which window of the split (tokens window*T .. window*T+T)
};

// The same window without a copy: T+1 tokens in the store's dtype, pointing into a mapped
// raw block or a decoded block in the store's cache, or into the stream's scratch buffer
// when the window straddles two blocks (one window in block_tokens / T). Valid until the
// next call on the stream or its store.
struct WindowView {
  const std::byte* data = nullptr;   // size × dtype_bytes bytes, little-endian
  uint32_t size = 0;                 // T+1
  uint32_t dtype_bytes = 2;
  std::vector<uint32_t> doc_starts;  // positions in the window where a document starts
  uint64_t epoch = 0;
  uint64_t sample = 0;  // global sample index within the epoch
  uint64_t window = 0;  // which window of the split (tokens window*T .. window*T+T)
  const uint16_t* u16() const { return reinterpret_cast<const uint16_t*>(data); }  // dtype_bytes == 2
  const uint32_t* u32() const { return reinterpret_cast<const uint32_t*>(data); }  // dtype_bytes == 4
  uint32_t operator[](size_t i) const { return dtype_bytes == 2 ? u16()[i] : u32()[i]; }
};

// Windows of T+1 tokens over a split, packed across documents, in a seeded global order
// that does not depend on the world size: rank r of W reads global samples r, r+W, ...
class TokenStream {
 public:
  TokenStream(const TokenStore& store, const StreamOptions& options);
  // The next window of this rank; false after max_epochs.
  bool next(Window& window);
  bool next(WindowView& view);  // the same, without a copy
  // Global sample `sample` of epoch `epoch`, whatever the rank (random access).
  void window_at(uint64_t epoch, uint64_t sample, Window& window);
  void view_at(uint64_t epoch, uint64_t sample, WindowView& view);
  uint64_t windows_per_epoch() const { return num_windows_; }
  StreamCursor cursor() const { return cursor_; }
  void restore(const StreamCursor& cursor);
  // The window index (position in the split) of global sample `sample` in `epoch`.
  uint64_t window_index(uint64_t epoch, uint64_t sample);

 private:
  void prepare_epoch(uint64_t epoch);
  bool advance();  // moves the cursor to this rank's next sample; false after max_epochs
  const TokenStore& store_;
  StreamOptions options_;
  uint64_t num_windows_ = 0, windows_per_chunk_ = 1, num_chunks_ = 0;
  StreamCursor cursor_;
  // Per-epoch shuffle state.
  uint64_t epoch_ready_ = UINT64_MAX;
  std::vector<uint64_t> chunk_order_;    // chunk permutation
  std::vector<uint64_t> buffer_begin_;   // first global sample of each buffer (+ end)
  uint64_t buffer_ready_ = UINT64_MAX;
  std::vector<uint64_t> buffer_windows_;  // window indices of the current buffer, shuffled
  std::vector<std::byte> scratch_;        // windows that straddle two blocks
  WindowView view_;                       // behind the copying window_at
};

// Several stores sampled by weight: sample g of the mixture comes from the source whose
// served share lags its weight most (ties to the lower index), so shares match the
// weights exactly up to one sample. Each source keeps its own seeded order.
struct MixtureSource {
  const TokenStore* store;
  double weight;
};

struct MixtureCursor {
  uint64_t sample = 0;            // next global mixture sample of this rank
  std::vector<uint64_t> served;   // samples served per source before `sample`, all ranks
  std::string to_json() const;
  static MixtureCursor from_json(std::string_view json);
  bool operator==(const MixtureCursor&) const = default;
};

class MixtureStream {
 public:
  MixtureStream(const std::vector<MixtureSource>& sources, const StreamOptions& options);
  // Next window of this rank; `source` receives the index of the store it came from.
  bool next(Window& window, size_t* source = nullptr);
  MixtureCursor cursor() const { return cursor_; }
  void restore(const MixtureCursor& cursor);

 private:
  size_t pick(const std::vector<uint64_t>& served, uint64_t total) const;
  std::vector<double> weights_;
  std::vector<std::unique_ptr<TokenStream>> streams_;
  StreamOptions options_;
  MixtureCursor cursor_;
};

}  // namespace kiln
