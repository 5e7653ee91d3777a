// BPE training, a faithful port of HF tokenizers' BpeTrainer::do_train (trainer.rs) and
// Word::merge (word.rs), including their quirks, so merges come out identical:
//   * the queue holds (count, pair, positions) entries; an entry whose count is stale is
//     re-pushed with the current count, keeping *its own* positions;
//   * a merged pair's own count is not zeroed (HF never decrements it);
//   * new pairs pushed after each merge carry only the words where they just appeared.
#include "tokenizer/trainer.h"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <unordered_map>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "tokenizer/src/byte_level.h"
#include "tokenizer/src/model.h"

namespace kiln::tokenizer {

namespace {

// ---- pre-token counting -----------------------------------------------------------------

// Distinct pre-tokens and their counts: open addressing over an arena of key bytes.
class WordCounts {
 public:
  void add(std::string_view word, uint64_t count) { add_hashed(word, detail::hash_bytes(word), count); }

  void add_hashed(std::string_view word, uint64_t h, uint64_t count) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.count == 0) {
        s = Slot{h, static_cast<uint64_t>(arena_.size()), static_cast<uint32_t>(word.size()), count};
        arena_.append(word);
        ++size_;
        return;
      }
      if (s.hash == h && s.len == word.size() && arena_.compare(s.offset, s.len, word) == 0) {
        s.count += count;
        return;
      }
    }
  }
  void merge_from(const WordCounts& other) {
    for (const Slot& s : other.slots_) {
      if (s.count) add_hashed(std::string_view(other.arena_).substr(s.offset, s.len), s.hash, s.count);
    }
  }
  // Keeps only words counted at least `min_count` times.
  void prune(uint64_t min_count) {
    WordCounts kept;
    for (const Slot& s : slots_) {
      if (s.count >= min_count) kept.add_hashed(std::string_view(arena_).substr(s.offset, s.len), s.hash, s.count);
    }
    *this = std::move(kept);
  }
  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_) {
      if (s.count) f(std::string_view(arena_).substr(s.offset, s.len), s.count);
    }
  }
  size_t size() const { return size_; }
  void clear() { *this = WordCounts(); }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint64_t offset = 0;
    uint32_t len = 0;
    uint64_t count = 0;  // 0 = empty slot
  };
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(1024, old.size() * 2), Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (!s.count) continue;
      size_t i = s.hash & mask_;
      while (slots_[i].count) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

void count_sequence(const TrainerOptions& o, std::string_view seq, WordCounts& counts,
                    std::vector<std::string_view>& pieces, std::string& scratch) {
  if (seq.empty()) return;
  if (o.add_prefix_space && seq[0] != ' ') {
    scratch.assign(1, ' ');
    scratch += seq;
    seq = scratch;
  }
  pieces.clear();
  pretokenize(o.pattern, seq, pieces);
  for (std::string_view p : pieces) counts.add(p, 1);
}

// ---- merging ----------------------------------------------------------------------------

using Pair = std::pair<uint32_t, uint32_t>;
inline uint64_t pair_key(Pair p) { return (uint64_t(p.first) << 32) | p.second; }
inline Pair key_pair(uint64_t k) { return {uint32_t(k >> 32), uint32_t(k)}; }

struct Symbol {
  uint32_t id;
  uint32_t len;  // in bytes (HF: chars of the byte-level string, one per byte)
};

struct Change {
  uint64_t pair;
  int32_t delta;
  uint32_t word;
};

// HF's Word::merge: replaces each (c1, c2), left to right without overlap, and reports the
// pair-count changes. A new pair is counted only if its joined length is < max_length.
void merge_word(std::vector<Symbol>& w, uint32_t c1, uint32_t c2, uint32_t replacement, size_t max_length,
                uint32_t word, std::vector<Change>& changes) {
  size_t i = 0;
  while (i < w.size()) {
    if (w[i].id == c1 && i + 1 < w.size() && w[i + 1].id == c2) {
      const Symbol first = w[i], second = w[i + 1];
      const Symbol merged{replacement, first.len + second.len};
      if (i > 0) {
        changes.push_back({pair_key({w[i - 1].id, first.id}), -1, word});
        if (w[i - 1].len + merged.len < max_length) changes.push_back({pair_key({w[i - 1].id, replacement}), 1, word});
      }
      w[i] = merged;
      w.erase(w.begin() + i + 1);
      if (i + 1 < w.size()) {
        changes.push_back({pair_key({second.id, w[i + 1].id}), -1, word});
        if (w[i + 1].len + merged.len < max_length) changes.push_back({pair_key({replacement, w[i + 1].id}), 1, word});
      }
    }
    ++i;
  }
}

struct QueueEntry {
  uint64_t count;
  uint64_t pair;
  std::vector<uint32_t> pos;  // words to merge in (sorted, unique)
};
// Max-heap order of HF's Merge: higher count, then the smaller pair.
struct QueueLess {
  bool operator()(const QueueEntry& a, const QueueEntry& b) const {
    if (a.count != b.count) return a.count < b.count;
    return a.pair > b.pair;
  }
};

}  // namespace

struct BpeTrainer::State {
  WordCounts words;
  uint64_t sequences = 0;
  uint64_t bytes = 0;
};

BpeTrainer::BpeTrainer(TrainerOptions options) : state_(std::make_unique<State>()), options_(std::move(options)) {
  if (options_.vocab_size == 0) throw Error("tokenizer train: vocab_size must be positive");
}
BpeTrainer::~BpeTrainer() = default;
BpeTrainer::BpeTrainer(BpeTrainer&&) noexcept = default;

uint64_t BpeTrainer::num_sequences() const { return state_->sequences; }
uint64_t BpeTrainer::num_bytes() const { return state_->bytes; }
size_t BpeTrainer::num_distinct_words() const { return state_->words.size(); }

void BpeTrainer::add_text(std::string_view sequence) {
  std::vector<std::string_view> pieces;
  std::string scratch;
  count_sequence(options_, sequence, state_->words, pieces, scratch);
  ++state_->sequences;
  state_->bytes += sequence.size();
}

void BpeTrainer::add_files(const std::vector<std::string>& patterns) {
  struct Local {
    WordCounts counts;
    std::vector<std::string_view> pieces;
    std::string scratch;
  };
  tbb::enumerable_thread_specific<Local> locals;
  State& st = *state_;
  auto absorb = [&] {
    for (Local& l : locals) {
      st.words.merge_from(l.counts);
      l.counts.clear();
    }
    if (options_.max_distinct_words && st.words.size() > options_.max_distinct_words) {
      for (uint64_t min_count = 2; st.words.size() > options_.max_distinct_words / 2; min_count *= 2) {
        st.words.prune(min_count);
      }
    }
  };
  // Sequences are counted in batches of about this many bytes.
  constexpr size_t kBatchBytes = size_t(16) << 20;

  for (const std::string& path : expand_inputs(patterns)) {
    InputFormat format = options_.reader.format;
    if (format == InputFormat::kAuto) format = detect_format(path);
    if (format == InputFormat::kText) {
      // Lines keep their "\n", as HF's train_from_files reads them.
      auto in = InputStream::open(path);
      std::string buf;
      std::vector<std::string_view> lines;
      bool eof = false;
      while (!eof) {
        const size_t old = buf.size();
        buf.resize(old + kBatchBytes);
        const size_t n = in->read(buf.data() + old, kBatchBytes);
        buf.resize(old + n);
        eof = n == 0;
        size_t cut = eof ? buf.size() : buf.rfind('\n');
        if (cut == std::string::npos) continue;  // one line longer than a batch: read on
        if (!eof) ++cut;
        lines.clear();
        for (size_t p = 0; p < cut;) {
          size_t e = buf.find('\n', p);
          e = e == std::string::npos || e >= cut ? cut : e + 1;
          lines.emplace_back(buf.data() + p, e - p);
          p = e;
        }
        tbb::parallel_for(tbb::blocked_range<size_t>(0, lines.size(), 256), [&](const tbb::blocked_range<size_t>& r) {
          Local& l = locals.local();
          for (size_t i = r.begin(); i != r.end(); ++i) count_sequence(options_, lines[i], l.counts, l.pieces, l.scratch);
        });
        st.sequences += lines.size();
        st.bytes += cut;
        buf.erase(0, cut);
        absorb();
      }
    } else {
      ReaderOptions ro = options_.reader;
      ro.format = format;
      auto reader = DocumentReader::open(path, ro);
      std::vector<Record> batch;
      bool more = true;
      while (more) {
        more = reader->next_batch(batch, SIZE_MAX, kBatchBytes);
        tbb::parallel_for(tbb::blocked_range<size_t>(0, batch.size(), 16), [&](const tbb::blocked_range<size_t>& r) {
          Local& l = locals.local();
          for (size_t i = r.begin(); i != r.end(); ++i) {
            Record& record = batch[i];
            if (record.needs_decode) DocumentReader::decode(record, ro);
            if (record.rejected() || record.skipped()) continue;
            count_sequence(options_, record.doc.text, l.counts, l.pieces, l.scratch);
          }
        });
        for (const Record& r : batch) {
          if (!r.rejected() && !r.skipped()) {
            ++st.sequences;
            st.bytes += r.doc.text.size();
          }
        }
        absorb();
      }
    }
  }
}

Tokenizer BpeTrainer::train() const {
  const TrainerOptions& o = options_;
  const size_t max_length = o.max_token_length ? o.max_token_length : SIZE_MAX;

  // 1. Special tokens, 2. the alphabet sorted by byte-level code point.
  std::vector<std::string> id_to_word;
  std::unordered_map<std::string, uint32_t> word_to_id;
  std::vector<SpecialToken> specials;
  for (const std::string& s : o.special_tokens) {
    if (word_to_id.count(s)) continue;
    word_to_id.emplace(s, static_cast<uint32_t>(id_to_word.size()));
    specials.push_back({s, static_cast<uint32_t>(id_to_word.size())});
    id_to_word.push_back(s);
  }
  bool seen[256] = {};
  if (o.all_bytes_in_alphabet) std::fill(seen, seen + 256, true);
  std::vector<std::pair<std::string_view, uint64_t>> words;
  words.reserve(state_->words.size());
  state_->words.for_each([&](std::string_view w, uint64_t c) {
    words.emplace_back(w, c);
    for (unsigned char b : w) seen[b] = true;
  });
  // Word order only decides the order of positions inside a queue entry, which no result
  // depends on; sort for reproducible runs.
  std::sort(words.begin(), words.end());
  std::vector<uint8_t> alphabet;
  for (int b = 0; b < 256; ++b) {
    if (seen[b]) alphabet.push_back(static_cast<uint8_t>(b));
  }
  std::sort(alphabet.begin(), alphabet.end(),
            [](uint8_t a, uint8_t b) { return detail::byte_to_char(a) < detail::byte_to_char(b); });
  uint32_t byte_id[256] = {};
  for (uint8_t b : alphabet) {
    const std::string s(1, static_cast<char>(b));
    auto [it, inserted] = word_to_id.emplace(s, static_cast<uint32_t>(id_to_word.size()));
    if (inserted) id_to_word.push_back(s);
    byte_id[b] = it->second;
  }

  // 3. Words as symbol lists, 4. pair counts and where each pair occurs.
  std::vector<std::vector<Symbol>> wsyms(words.size());
  std::vector<uint64_t> counts(words.size());
  std::unordered_map<uint64_t, int64_t> pair_counts;
  std::unordered_map<uint64_t, std::vector<uint32_t>> where;
  for (uint32_t i = 0; i < words.size(); ++i) {
    counts[i] = words[i].second;
    auto& syms = wsyms[i];
    syms.reserve(words[i].first.size());
    for (unsigned char b : words[i].first) syms.push_back({byte_id[b], 1});
    for (size_t k = 0; k + 1 < syms.size(); ++k) {
      const uint64_t key = pair_key({syms[k].id, syms[k + 1].id});
      pair_counts[key] += static_cast<int64_t>(counts[i]);
      auto& pos = where[key];
      if (pos.empty() || pos.back() != i) pos.push_back(i);
    }
  }
  std::vector<QueueEntry> queue;
  queue.reserve(where.size());
  for (auto& [key, pos] : where) {
    const int64_t c = pair_counts[key];
    if (c > 0) queue.push_back({static_cast<uint64_t>(c), key, std::move(pos)});
  }
  where.clear();
  std::make_heap(queue.begin(), queue.end(), QueueLess());

  // 5. Merges.
  std::vector<std::pair<Pair, uint32_t>> merges;
  std::vector<Change> changes;
  while (word_to_id.size() < o.vocab_size && !queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), QueueLess());
    QueueEntry top = std::move(queue.back());
    queue.pop_back();
    const int64_t current = pair_counts[top.pair];
    if (top.count != static_cast<uint64_t>(current)) {
      top.count = static_cast<uint64_t>(current);  // may wrap negative counts as HF's `as u64`
      queue.push_back(std::move(top));
      std::push_heap(queue.begin(), queue.end(), QueueLess());
      continue;
    }
    if (top.count < 1 || o.min_frequency > top.count) break;

    const Pair pair = key_pair(top.pair);
    std::string token = id_to_word[pair.first] + id_to_word[pair.second];
    uint32_t new_id;
    if (auto it = word_to_id.find(token); it != word_to_id.end()) {
      new_id = it->second;
    } else {
      new_id = static_cast<uint32_t>(id_to_word.size());
      word_to_id.emplace(token, new_id);
      id_to_word.push_back(std::move(token));
    }
    merges.push_back({pair, new_id});

    changes.clear();
    for (uint32_t w : top.pos) merge_word(wsyms[w], pair.first, pair.second, new_id, max_length, w, changes);
    // HF collects the changes in parallel and applies them in word order.
    std::unordered_map<uint64_t, std::vector<uint32_t>> fresh;
    for (const Change& c : changes) {
      pair_counts[c.pair] += c.delta * static_cast<int64_t>(counts[c.word]);
      if (c.delta > 0) {
        auto& pos = fresh[c.pair];
        if (pos.empty() || pos.back() != c.word) pos.push_back(c.word);
      }
    }
    for (auto& [key, pos] : fresh) {
      const int64_t c = pair_counts[key];
      if (c > 0) {
        std::sort(pos.begin(), pos.end());
        pos.erase(std::unique(pos.begin(), pos.end()), pos.end());
        queue.push_back({static_cast<uint64_t>(c), key, std::move(pos)});
        std::push_heap(queue.begin(), queue.end(), QueueLess());
      }
    }
  }

  // HF keeps merges in a map from pair to (rank, id): a pair merged twice keeps its last
  // rank, and saving lists merges by rank.
  std::unordered_map<uint64_t, size_t> last_rank;
  for (size_t r = 0; r < merges.size(); ++r) last_rank[pair_key(merges[r].first)] = r;
  std::vector<std::pair<std::string, std::string>> merge_bytes;
  for (size_t r = 0; r < merges.size(); ++r) {
    if (last_rank[pair_key(merges[r].first)] != r) continue;
    merge_bytes.emplace_back(id_to_word[merges[r].first.first], id_to_word[merges[r].first.second]);
  }
  std::vector<std::pair<std::string, uint32_t>> vocab;
  for (uint32_t id = static_cast<uint32_t>(specials.size()); id < id_to_word.size(); ++id) {
    vocab.emplace_back(id_to_word[id], id);
  }
  HfModelOptions hf;
  hf.add_prefix_space = o.add_prefix_space;
  return Tokenizer::from_merges(std::move(vocab), merge_bytes, o.pattern, std::move(specials), hf);
}

}  // namespace kiln::tokenizer
