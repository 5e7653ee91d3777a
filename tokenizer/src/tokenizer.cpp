#include "tokenizer/tokenizer.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>

#include "corpus/error.h"
#include "tokenizer/src/bpe.h"
#include "tokenizer/src/model.h"

namespace kiln::tokenizer {

using detail::Model;

// ---- model construction -----------------------------------------------------------------

void detail::Model::finish() {
  num_tokens = 0;
  for (uint8_t u : used) num_tokens += u;
  token_ids.build(tokens, used);
  for (int b = 0; b < 256; ++b) {
    const uint32_t id = token_ids.find(std::string_view(reinterpret_cast<const char*>(&b), 1));
    byte_known[b] = id != ~0u;
    byte_ids[b] = byte_known[b] ? id : 0;
  }
  std::stable_sort(specials.begin(), specials.end(),
                   [](const SpecialToken& a, const SpecialToken& b) { return a.content.size() > b.content.size(); });
  vocab_size = static_cast<uint32_t>(tokens.size());
  for (const SpecialToken& s : specials) {
    if (s.content.empty()) throw Error("special token with empty content");
    special_first_byte[static_cast<unsigned char>(s.content[0])] = true;
    vocab_size = std::max(vocab_size, s.id + 1);
  }
}

namespace {

void put_token(Model& m, uint32_t id, std::string bytes, const char* what) {
  if (id == ~0u) throw Error(cat(what, ": token id 4294967295 is reserved"));
  if (id >= m.tokens.size()) {
    m.tokens.resize(id + 1);
    m.used.resize(id + 1, 0);
  }
  if (m.used[id]) throw Error(cat(what, ": token id ", id, " appears twice"));
  m.tokens[id] = std::move(bytes);
  m.used[id] = 1;
}

}  // namespace

Tokenizer Tokenizer::from_ranks(std::vector<std::pair<std::string, uint32_t>> ranks, Pattern pattern,
                                std::vector<SpecialToken> special_tokens) {
  auto m = std::make_shared<Model>();
  m->pattern = pattern;
  m->rule = MergeRule::kRanks;
  m->whole_piece_first = true;
  for (auto& [bytes, rank] : ranks) put_token(*m, rank, std::move(bytes), "rank file");
  m->specials = std::move(special_tokens);
  m->finish();
  for (int b = 0; b < 256; ++b) {
    if (!m->byte_known[b]) throw Error(cat("rank file: byte 0x", std::hex, b, " has no rank; every single byte must"));
  }
  // tiktoken merges any adjacent pair (x, y) whose concatenation t is a token. Only one
  // split of t can ever be adjacent when t is the lowest-ranked pair, though: its
  // *canonical* split, the last step of byte-pair merging t's own bytes with the tokens
  // ranked below t (inside t's bytes a run follows exactly that merge order, and any
  // other split would need a merge ranked above t first). So the table holds one entry
  // per token — 5x fewer than every split, and lookups stay in cache. Tokens in rank
  // order, each merged with the table built so far; a token whose bytes do not merge
  // into exactly two lower-ranked tokens (not the case in OpenAI's files) gets every
  // split, which is tiktoken's rule verbatim.
  std::vector<uint32_t> order;
  order.reserve(m->num_tokens);
  for (uint32_t id = 0; id < m->tokens.size(); ++id) {
    if (m->used[id] && m->tokens[id].size() >= 2) order.push_back(id);
  }
  m->pairs.reserve(order.size());
  std::vector<uint32_t> parts;
  for (uint32_t id : order) {  // ascending rank
    const std::string_view t = m->tokens[id];
    parts.clear();
    for (unsigned char b : t) parts.push_back(m->byte_ids[b]);
    detail::bpe_merge_reference(m->pairs, parts);
    if (parts.size() == 2) {
      m->pairs.set(parts[0], parts[1], {id, id});
      continue;
    }
    for (size_t k = 1; k < t.size(); ++k) {
      const uint32_t a = m->token_ids.find(t.substr(0, k));
      if (a == ~0u) continue;
      const uint32_t b = m->token_ids.find(t.substr(k));
      if (b == ~0u) continue;
      m->pairs.set(a, b, {id, id});
    }
  }
  return Tokenizer(std::move(m));
}

Tokenizer Tokenizer::from_merges(std::vector<std::pair<std::string, uint32_t>> vocab,
                                 const std::vector<std::pair<std::string, std::string>>& merges, Pattern pattern,
                                 std::vector<SpecialToken> special_tokens, HfModelOptions hf) {
  auto m = std::make_shared<Model>();
  m->pattern = pattern;
  m->rule = MergeRule::kMerges;
  m->whole_piece_first = hf.ignore_merges;
  for (auto& [bytes, id] : vocab) put_token(*m, id, std::move(bytes), "vocab");
  m->specials = std::move(special_tokens);
  m->finish();
  if (hf.unk_token) {
    m->unk_id = m->token_ids.find(*hf.unk_token);
    if (m->unk_id == ~0u) {
      for (const SpecialToken& s : m->specials) {
        if (s.content == *hf.unk_token) m->unk_id = s.id;
      }
    }
    if (m->unk_id == ~0u) throw Error(cat("unk_token '", *hf.unk_token, "' is not in the vocab"));
  }
  m->hf = std::move(hf);
  m->pairs.reserve(merges.size());
  m->merge_list.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [x, y] = merges[rank];
    const uint32_t a = m->token_ids.find(x), b = m->token_ids.find(y);
    const uint32_t c = m->token_ids.find(x + y);
    if (a == ~0u || b == ~0u || c == ~0u) {
      throw Error(cat("merge ", rank, " (\"", x, "\" + \"", y, "\"): ",
                      a == ~0u ? "left part" : b == ~0u ? "right part" : "merged token", " is not in the vocab"));
    }
    m->pairs.set(a, b, {static_cast<uint32_t>(rank), c});
    m->merge_list.emplace_back(a, b);
  }
  return Tokenizer(std::move(m));
}

Tokenizer::Tokenizer(std::shared_ptr<const detail::Model> model) : model_(std::move(model)) {}

// ---- encoding ---------------------------------------------------------------------------

namespace {

// Per-thread cache of piece -> ids for short pieces. Natural text repeats its words, so
// most pieces skip merging entirely. 4-way probing; a full window evicts its first slot
// (the arenas are dropped when they pass a size cap). Emptied when used with another model.
class PieceCache {
 public:
  static constexpr size_t kMaxPiece = 48;
  static constexpr size_t kSlots = size_t(1) << 17;
  static constexpr size_t kWays = 4;

  void use(uint64_t serial) {
    if (serial != serial_) reset(serial);
  }
  // Starts loading the slots of a piece that comes later, so its lookup does not wait.
  void prefetch(uint64_t h) const { __builtin_prefetch(&slots_[h & (kSlots - 1)]); }
  bool find(std::string_view piece, uint64_t h, std::vector<uint32_t>& out) {
    for (size_t w = 0; w < kWays; ++w) {
      const Slot& s = slots_[(h + w) & (kSlots - 1)];
      if (s.ids_len == 0) return false;
      if (s.hash == h && s.key_len == piece.size() && detail::equal_bytes(piece.data(), keys_.data() + s.key_off, piece.size())) {
        out.insert(out.end(), ids_.begin() + s.ids_off, ids_.begin() + s.ids_off + s.ids_len);
        return true;
      }
    }
    return false;
  }
  void insert(std::string_view piece, uint64_t h, const uint32_t* ids, size_t n) {
    if (n == 0 || n > 255) return;
    if (keys_.size() > (size_t(32) << 20) || ids_.size() > (size_t(8) << 20)) reset(serial_);
    Slot* slot = &slots_[h & (kSlots - 1)];
    for (size_t w = 0; w < kWays; ++w) {
      Slot& s = slots_[(h + w) & (kSlots - 1)];
      if (s.ids_len == 0) {
        slot = &s;
        break;
      }
    }
    slot->hash = h;
    slot->key_off = static_cast<uint32_t>(keys_.size());
    slot->key_len = static_cast<uint8_t>(piece.size());
    slot->ids_off = static_cast<uint32_t>(ids_.size());
    slot->ids_len = static_cast<uint8_t>(n);
    keys_.append(piece);
    ids_.insert(ids_.end(), ids, ids + n);
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_off = 0, ids_off = 0;
    uint8_t key_len = 0, ids_len = 0;
  };
  void reset(uint64_t serial) {
    serial_ = serial;
    slots_.assign(kSlots, Slot{});
    keys_.clear();
    ids_.clear();
  }
  uint64_t serial_ = 0;
  std::vector<Slot> slots_;
  std::string keys_;
  std::vector<uint32_t> ids_;
};

// Byte-pair encodes one piece, appending to `out`.
void encode_piece(const Model& m, std::string_view piece, std::vector<uint32_t>& out, std::vector<uint32_t>& work) {
  if (m.whole_piece_first) {
    const uint32_t id = m.token_ids.find(piece);
    if (id != ~0u) {
      out.push_back(id);
      return;
    }
  }
  work.clear();
  bool unknown_run = false;
  for (unsigned char b : piece) {
    if (m.byte_known[b]) {
      work.push_back(m.byte_ids[b]);
      unknown_run = false;
    } else if (m.unk_id != ~0u) {
      // HF BPE: an unknown char becomes unk (consecutive ones fused with fuse_unk) and
      // splits the word: merges never cross it.
      if (!(m.hf.fuse_unk && unknown_run)) {
        detail::bpe_merge(m.pairs, work);
        out.insert(out.end(), work.begin(), work.end());
        work.clear();
        out.push_back(m.unk_id);
      }
      unknown_run = true;
    }
    // else: HF BPE without unk_token drops bytes that have no token.
  }
  detail::bpe_merge(m.pairs, work);
  out.insert(out.end(), work.begin(), work.end());
}

void encode_ordinary(const Model& m, std::string_view text, std::vector<uint32_t>& out) {
  if (text.empty()) return;
  static thread_local PieceCache cache;
  static thread_local std::vector<std::string_view> pieces;
  static thread_local std::vector<uint32_t> work;
  std::string prefixed;
  if (m.hf.add_prefix_space && text[0] != ' ') {
    prefixed.reserve(text.size() + 1);
    prefixed += ' ';
    prefixed += text;
    text = prefixed;
  }
  static thread_local std::vector<uint64_t> hashes;
  pieces.clear();
  pretokenize(m.pattern, text, pieces);
  const bool use_cache = m.unk_id == ~0u;
  // Most time goes to the cache miss of each piece's first slot (the table is larger than
  // L2): hash every piece first, then prefetch a few pieces ahead.
  constexpr size_t kAhead = 4;
  if (use_cache) {
    cache.use(m.serial);
    hashes.resize(pieces.size());
    for (size_t i = 0; i < pieces.size(); ++i) {
      hashes[i] = pieces[i].size() <= PieceCache::kMaxPiece ? detail::hash_bytes(pieces[i]) : 0;
      if (i < kAhead) cache.prefetch(hashes[i]);
    }
  }
  for (size_t k = 0; k < pieces.size(); ++k) {
    const std::string_view piece = pieces[k];
    if (use_cache && piece.size() <= PieceCache::kMaxPiece) {
      if (k + kAhead < pieces.size()) cache.prefetch(hashes[k + kAhead]);
      const uint64_t h = hashes[k];
      if (cache.find(piece, h, out)) continue;
      const size_t before = out.size();
      encode_piece(m, piece, out, work);
      cache.insert(piece, h, out.data() + before, out.size() - before);
    } else {
      encode_piece(m, piece, out, work);
    }
  }
}

// Leftmost-longest special token at or after `from`; returns its index or -1 and sets `at`.
int find_special(const Model& m, std::string_view text, size_t from, size_t& at) {
  for (size_t i = from; i < text.size(); ++i) {
    if (!m.special_first_byte[static_cast<unsigned char>(text[i])]) continue;
    for (size_t k = 0; k < m.specials.size(); ++k) {  // longest first
      const std::string& s = m.specials[k].content;
      if (text.compare(i, s.size(), s) == 0) {
        at = i;
        return static_cast<int>(k);
      }
    }
  }
  return -1;
}

}  // namespace

void Tokenizer::encode(std::string_view text, std::vector<uint32_t>& ids, const EncodeOptions& options) const {
  const Model& m = *model_;
  if (m.specials.empty() || options.special == SpecialMode::kAsText) {
    encode_ordinary(m, text, ids);
    return;
  }
  size_t pos = 0;
  for (;;) {
    size_t at = 0;
    const int k = find_special(m, text, pos, at);
    if (k < 0) break;
    const SpecialToken& s = m.specials[k];
    if (options.special == SpecialMode::kDisallow &&
        std::find(options.allowed_special.begin(), options.allowed_special.end(), s.content) ==
            options.allowed_special.end()) {
      throw Error(cat("encode: the text contains the special token '", s.content, "' at byte ", at,
                      ", which is not allowed: allow it (allowed_special, --allow-special) or encode it "
                      "as text (SpecialMode::kAsText, --special=text)"));
    }
    encode_ordinary(m, text.substr(pos, at - pos), ids);
    ids.push_back(s.id);
    pos = at + s.content.size();
  }
  encode_ordinary(m, text.substr(pos), ids);
}

std::vector<uint32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<uint32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  encode(text, ids, options);
  return ids;
}

namespace {

template <class T>
std::vector<std::vector<uint32_t>> batch(const Tokenizer& tok, std::span<const T> texts, const EncodeOptions& options) {
  std::vector<std::vector<uint32_t>> out(texts.size());
  tbb::parallel_for(tbb::blocked_range<size_t>(0, texts.size()), [&](const tbb::blocked_range<size_t>& r) {
    for (size_t i = r.begin(); i != r.end(); ++i) out[i] = tok.encode(texts[i], options);
  });
  return out;
}

}  // namespace

std::vector<std::vector<uint32_t>> Tokenizer::encode_batch(std::span<const std::string> texts,
                                                           const EncodeOptions& options) const {
  return batch(*this, texts, options);
}

std::vector<std::vector<uint32_t>> Tokenizer::encode_batch(std::span<const std::string_view> texts,
                                                           const EncodeOptions& options) const {
  return batch(*this, texts, options);
}

std::string Tokenizer::decode(std::span<const uint32_t> ids) const {
  std::string out;
  out.reserve(ids.size() * 4);
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto bytes = token_bytes(ids[i]);
    if (!bytes) throw Error(cat("decode: token id ", ids[i], " at position ", i, " is not in the vocabulary"));
    out += *bytes;
  }
  return out;
}

// ---- accessors --------------------------------------------------------------------------

Pattern Tokenizer::pattern() const { return model_->pattern; }
MergeRule Tokenizer::merge_rule() const { return model_->rule; }
const HfModelOptions& Tokenizer::hf_options() const { return model_->hf; }
uint32_t Tokenizer::vocab_size() const { return model_->vocab_size; }
size_t Tokenizer::num_tokens() const { return model_->num_tokens; }
size_t Tokenizer::num_merges() const {
  return model_->rule == MergeRule::kMerges ? model_->merge_list.size() : model_->pairs.size();
}
const std::vector<SpecialToken>& Tokenizer::special_tokens() const { return model_->specials; }
const std::vector<std::pair<uint32_t, uint32_t>>& Tokenizer::merges() const { return model_->merge_list; }

std::optional<uint32_t> Tokenizer::token_id(std::string_view bytes) const {
  for (const SpecialToken& s : model_->specials) {
    if (s.content == bytes) return s.id;
  }
  const uint32_t id = model_->token_ids.find(bytes);
  if (id == ~0u) return std::nullopt;
  return id;
}

std::optional<std::string_view> Tokenizer::token_bytes(uint32_t id) const {
  const Model& m = *model_;
  if (id < m.tokens.size() && m.used[id]) return std::string_view(m.tokens[id]);
  for (const SpecialToken& s : m.specials) {
    if (s.id == id) return std::string_view(s.content);
  }
  return std::nullopt;
}

}  // namespace kiln::tokenizer
