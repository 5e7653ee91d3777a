// Gopher quality and repetition rules (Rae et al. 2021, A.1.1 and table A1), with the
// rule order, counting and reason names of datatrove's GopherQualityFilter and
// GopherRepetitionFilter.
#include <algorithm>

#include "filters/basic.h"
#include "filters/src/quality_internal.h"

namespace kiln {
namespace quality_detail {

namespace {

// Non-overlapping occurrences, as Python's str.count.
uint64_t count_substr(std::string_view text, std::string_view needle) {
  uint64_t n = 0;
  for (size_t i = text.find(needle); i != std::string_view::npos; i = text.find(needle, i + needle.size())) ++n;
  return n;
}

double ratio(uint64_t a, uint64_t b) { return b ? double(a) / double(b) : 0.0; }

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // …
constexpr std::string_view kBullet = "\xE2\x80\xA2";    // •

// (duplicate elements, code points in duplicates) of a list of strings, counting every
// occurrence after the first (datatrove's find_duplicates). Strings are compared, not
// only their hashes.
std::pair<uint64_t, uint64_t> find_duplicates(const std::vector<std::string_view>& items, FirstPositionTable& table) {
  table.reset(items.size());
  uint64_t dup = 0, dup_chars = 0;
  for (uint32_t k = 0; k < items.size(); ++k) {
    std::string_view s = items[k];
    if (table.add(hash_bytes(s), k, [&](uint32_t j) { return same_bytes(items[j], s); }) != k) {
      ++dup;
      dup_chars += count_code_points(s);
    }
  }
  return {dup, dup_chars};
}

}  // namespace

std::string_view check_gopher_quality(std::string_view text, const GopherQualityOptions& o, GopherQualityStats& st,
                                      Scratch& scratch) {
  st = {};
  const auto& words = cached_words(text);
  // Stop words are compared as short codes (one integer compare each); longer ones, if
  // an option has any, as strings.
  size_t max_stop_len = 0;
  uint64_t stop_codes[16];
  size_t num_stop_codes = 0;
  bool long_stop_words = false;
  for (auto& w : o.stop_words) {
    max_stop_len = std::max(max_stop_len, w.size());
    if (w.size() <= kShortBytes && num_stop_codes < std::size(stop_codes)) stop_codes[num_stop_codes++] = short_code(w);
    else long_stop_words = true;
  }
  uint64_t letter_chars = 0, alpha_words = 0;
  for (const Word& w : words) {
    if (!w.is_symbol) {
      ++st.non_symbol_words;
      letter_chars += w.chars;
    }
    alpha_words += w.has_letter;
    size_t len = w.end - w.begin;
    if (len > max_stop_len) continue;
    std::string_view s = text.substr(w.begin, len);
    bool stop = false;
    if (len <= kShortBytes) {
      uint64_t code = short_code_in(s, text.data() + text.size());
      for (size_t k = 0; k < num_stop_codes; ++k) stop |= code == stop_codes[k];
    }
    if (!stop && long_stop_words)
      for (auto& sw : o.stop_words) stop = stop || s == sw;
    st.stop_words += stop;
  }
  st.words = words.size();
  st.mean_word_length = ratio(letter_chars, st.non_symbol_words);
  st.hash_ratio = ratio(uint64_t(std::count(text.begin(), text.end(), '#')), st.words);
  st.ellipsis_ratio = ratio(count_substr(text, "...") + count_substr(text, kEllipsis), st.words);
  st.alpha_words_ratio = ratio(alpha_words, st.words);

  auto& lines = scratch.lines;
  split_lines(text, lines);
  uint64_t bullets = 0, ellipsis_lines = 0;
  for (std::string_view line : lines) {
    std::string_view l = lstrip_spaces(line);
    bullets += l.starts_with(kBullet) || l.starts_with("-");
    std::string_view r = rstrip_spaces(line);
    ellipsis_lines += r.ends_with("...") || r.ends_with(kEllipsis);
  }
  st.bullet_lines_ratio = ratio(bullets, lines.size());
  st.ellipsis_lines_ratio = ratio(ellipsis_lines, lines.size());

  if (o.min_words && st.non_symbol_words < o.min_words) return "gopher_short_doc";
  if (o.max_words && st.non_symbol_words > o.max_words) return "gopher_long_doc";
  // With no non-symbol words the mean is undefined (NaN in datatrove) and both rules pass.
  if (st.non_symbol_words) {
    if (o.min_mean_word_length && st.mean_word_length < o.min_mean_word_length) return "gopher_below_avg_threshold";
    if (o.max_mean_word_length && st.mean_word_length > o.max_mean_word_length) return "gopher_above_avg_threshold";
  }
  if (o.max_symbol_word_ratio && st.hash_ratio > o.max_symbol_word_ratio) return "gopher_too_many_hashes";
  if (o.max_symbol_word_ratio && st.ellipsis_ratio > o.max_symbol_word_ratio) return "gopher_too_many_ellipsis";
  if (o.max_bullet_lines_ratio && st.bullet_lines_ratio > o.max_bullet_lines_ratio) return "gopher_too_many_bullets";
  if (o.max_ellipsis_lines_ratio && st.ellipsis_lines_ratio > o.max_ellipsis_lines_ratio)
    return "gopher_too_many_end_ellipsis";
  if (o.min_alpha_words_ratio && st.alpha_words_ratio < o.min_alpha_words_ratio) return "gopher_below_alpha_threshold";
  if (o.min_stop_words && st.stop_words < o.min_stop_words) return "gopher_enough_stop_words";
  return "";
}

namespace {

// Pieces of `text` between maximal runs of at least `min_run` '\n' (Python's
// re.split(r"\n{min_run,}", text)), leading and trailing empty pieces included.
void split_on_newline_runs(std::string_view text, size_t min_run, std::vector<std::string_view>& out) {
  out.clear();
  size_t start = 0, i = 0;
  while (i < text.size()) {
    i = text.find('\n', i);  // memchr
    if (i == std::string_view::npos) break;
    size_t j = i;
    while (j < text.size() && text[j] == '\n') ++j;
    if (j - i >= min_run) {
      out.push_back(text.substr(start, i - start));
      start = j;
    }
    i = j;
  }
  out.push_back(text.substr(start));
}

constexpr std::string_view kTopReasons[3] = {"gopher_top_2_gram", "gopher_top_3_gram", "gopher_top_4_gram"};
constexpr std::string_view kDupReasons[6] = {"gopher_duplicated_5_n_grams", "gopher_duplicated_6_n_grams",
                                              "gopher_duplicated_7_n_grams", "gopher_duplicated_8_n_grams",
                                              "gopher_duplicated_9_n_grams", "gopher_duplicated_10_n_grams"};

}  // namespace

std::string_view check_gopher_repetition(std::string_view text, const GopherRepetitionOptions& o,
                                         GopherRepetitionStats& st, Scratch& scratch) {
  st = {};
  st.chars = count_code_points(text);
  if (st.chars == 0) return "";  // nothing repeats in an empty document
  const double chars = double(st.chars);
  auto& pieces = scratch.lines;

  split_on_newline_runs(strip_spaces(text), 2, pieces);
  auto [dup_paras, dup_para_chars] = find_duplicates(pieces, scratch.table);
  st.paragraphs = pieces.size();
  st.dup_para_frac = double(dup_paras) / double(pieces.size());
  st.dup_para_char_frac = double(dup_para_chars) / chars;

  split_on_newline_runs(text, 1, pieces);
  auto [dup_lines, dup_line_chars] = find_duplicates(pieces, scratch.table);
  st.lines = pieces.size();
  st.dup_line_frac = double(dup_lines) / double(pieces.size());
  st.dup_line_char_frac = double(dup_line_chars) / chars;

  // Word n-grams, n = 2..10, identified exactly rather than by a hash: a word's id is
  // the first position of the same word (word_key: the bytes themselves for words of up
  // to 7 bytes, else a hash confirmed by comparing bytes); the n-gram at i is the pair
  // (id of the (n-1)-gram at i, id of word i+n-1), and its id the first position of that
  // pair. An n-gram can only repeat if the two (n-1)-grams it contains both repeat, so
  // each order only looks at `shared`, the positions whose (n-1)-gram repeats, and pairs
  // them with their right neighbour: on web text fewer than 1 in 5 positions are left by
  // n = 3, and the work stops when none is. An n-gram's length is that of
  // " ".join(words) in datatrove.
  const auto& words = cached_words(text);
  const size_t N = words.size();
  auto& pc = scratch.prefix_chars;
  auto& wid = scratch.word_ids;
  auto& id = scratch.ngram_ids;  // valid at the positions in `shared`
  auto& cnt = scratch.id_counts;
  auto& seen = scratch.id_seen;
  auto& shared = scratch.shared_positions;  // ascending
  pc.resize(N + 1);
  wid.resize(N);
  id.resize(N);
  cnt.resize(N);
  seen.assign(N, 0);
  pc[0] = 0;
  scratch.table.reset(N);
  auto word = [&](size_t i) { return text.substr(words[i].begin, words[i].end - words[i].begin); };
  // Table probes are random accesses: each key's slot is prefetched kAhead keys before.
  constexpr size_t kAhead = 16;
  auto& wh = scratch.word_keys;
  wh.resize(N);
  for (uint32_t i = 0; i < N; ++i) {
    pc[i + 1] = pc[i] + words[i].chars;
    wh[i] = word_key(word(i), text.data() + text.size());
  }
  for (uint32_t i = 0; i < N; ++i) {
    if (i + kAhead < N) scratch.table.prefetch(wh[i + kAhead]);
    std::string_view w = word(i);
    // Equal short keys are equal words; equal hashes are confirmed on the bytes.
    uint32_t first =
        scratch.table.add(wh[i], i, [&](uint32_t j) { return is_exact_word_key(wh[i]) || same_bytes(word(j), w); });
    wid[i] = first;
    cnt[first] = first == i ? 1 : cnt[first] + 1;
  }
  // The filters below are branch-free compactions (write, then advance if kept): whether
  // a position repeats is close to a coin toss on web text, which branches mispredict.
  shared.resize(N);
  size_t kept = 0;
  for (uint32_t i = 0; i < N; ++i) {
    id[i] = wid[i];
    shared[kept] = i;
    kept += (wid[i] != i) | (cnt[i] > 1);
  }
  shared.resize(kept);
  auto ngram_chars = [&](size_t i, size_t n) { return pc[i + n] - pc[i] + (n - 1); };
  for (size_t n = 2; n <= 10 && n <= N; ++n) {
    if (!shared.empty()) {
      // Order n at position i from order n-1 at i (in place: i+1's id is not needed, only
      // that i+1 is in `shared`). The last shared position has no right neighbour.
      kept = 0;
      for (size_t k = 0; k + 1 < shared.size(); ++k) {
        shared[kept] = shared[k];
        kept += shared[k + 1] == shared[k] + 1;
      }
      shared.resize(kept);
      scratch.table.reset(shared.size());
      auto key_at = [&](uint32_t i) { return uint64_t(id[i]) << 32 | wid[i + n - 1]; };
      for (size_t k = 0; k < shared.size(); ++k) {
        // (ids after position k are still those of order n-1, as key_at needs)
        if (k + kAhead < shared.size()) scratch.table.prefetch(key_at(shared[k + kAhead]));
        uint32_t i = shared[k];
        uint32_t first = scratch.table.add(key_at(i), i, FirstPositionTable::always_equal);
        id[i] = first;
        cnt[first] = first == i ? 1 : cnt[first] + 1;
      }
      // A position whose id is an earlier one repeats; a first occurrence repeats if its
      // count grew (cnt[i], read in order, not cnt[id[i]] at random).
      kept = 0;
      for (uint32_t i : shared) {
        shared[kept] = i;
        kept += (id[i] != i) | (cnt[i] > 1);
      }
      shared.resize(kept);
    }
    if (n <= 4) {
      // The most frequent n-gram; ties go to the one that occurs first (Counter.most_common).
      // With no repeat, every n-gram occurs once and the first one wins.
      uint32_t best_count = 1, best_first = 0;
      for (uint32_t i : shared)
        if (id[i] == i && cnt[i] > best_count) best_count = cnt[i], best_first = i;
      st.top_ngram_char_frac[n - 2] = double(ngram_chars(best_first, n) * best_count) / chars;
    } else {
      // Characters in n-grams seen before; a repeat skips its n words so that
      // overlapping repeats are not counted twice (datatrove's find_all_duplicate). An
      // n-gram that occurs once is never "seen before": only `shared` needs visiting.
      uint64_t repeated = 0;
      size_t next = 0;  // positions before it were skipped
      for (uint32_t i : shared) {
        if (i < next) continue;
        if (seen[id[i]] == n) {
          repeated += ngram_chars(i, n);
          next = i + n;
        } else {
          seen[id[i]] = uint8_t(n);
        }
      }
      st.dup_ngram_char_frac[n - 5] = double(repeated) / chars;
    }
  }

  if (o.max_dup_para_frac && st.dup_para_frac > o.max_dup_para_frac) return "gopher_dup_para_frac";
  if (o.max_dup_para_char_frac && st.dup_para_char_frac > o.max_dup_para_char_frac) return "gopher_dup_para_char_frac";
  if (o.max_dup_line_frac && st.dup_line_frac > o.max_dup_line_frac) return "gopher_dup_line_frac";
  if (o.max_dup_line_char_frac && st.dup_line_char_frac > o.max_dup_line_char_frac) return "gopher_dup_line_char_frac";
  for (int k = 0; k < 3; ++k)
    if (o.max_top_ngram_char_frac[k] && st.top_ngram_char_frac[k] > o.max_top_ngram_char_frac[k]) return kTopReasons[k];
  for (int k = 0; k < 6; ++k)
    if (o.max_dup_ngram_char_frac[k] && st.dup_ngram_char_frac[k] > o.max_dup_ngram_char_frac[k]) return kDupReasons[k];
  return "";
}

}  // namespace quality_detail
}  // namespace kiln
