// C4's line and page rules (Raffel et al. 2020; TFDS c4_utils.clean_page) and FineWeb's
// line-statistics rules (Penedo et al. 2024), in datatrove's order and conventions.
#include <string.h>  // memmem

#include <algorithm>
#include <array>

#include "filters/basic.h"
#include "filters/src/quality_internal.h"

namespace kiln {

namespace {

// Phrase rules fold ASCII case only: the phrases are ASCII, and Unicode lowercasing could
// map a non-ASCII letter onto one of them (the Kelvin sign K → k), which C4 never meant.

// c4_utils / datatrove POLICY_SUBSTRINGS (each holds "policy", "cookies" or "terms of use").
constexpr std::string_view kPolicySubstrings[] = {"terms of use", "privacy policy", "cookie policy",
                                                  "uses cookies", "use of cookies", "use cookies"};

// Removes Wikipedia citation markers: "[" digits* "]", "[edit]", "[citation needed]"
// (c4_utils' _CITATION_REGEX, \[\d*\]|\[edit\]|\[citation needed\]).
std::string remove_citations(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == '[') {
      size_t j = i + 1;
      while (j < line.size() && line[j] >= '0' && line[j] <= '9') ++j;
      if (j < line.size() && line[j] == ']') {
        i = j + 1;
        continue;
      }
      std::string_view rest = line.substr(i);
      if (rest.starts_with("[edit]")) {
        i += 6;
        continue;
      }
      if (rest.starts_with("[citation needed]")) {
        i += 17;
        continue;
      }
    }
    out.push_back(line[i++]);
  }
  return out;
}

}  // namespace

uint64_t count_sentences(std::string_view line) {
  uint64_t n = 0;
  bool content = false;  // a non-space, non-terminal character since the last boundary
  size_t i = 0;
  const size_t size = line.size();
  auto terminal = [](char c) { return c == '.' || c == '!' || c == '?'; };
  // Bytes that can change the count once a sentence has content: '.', '!', '?' and
  // non-ASCII lead bytes (CJK terminals). Everything between them is skipped.
  static constexpr auto kStops = [] {
    std::array<bool, 256> t{};
    t['.'] = t['!'] = t['?'] = true;
    for (int b = 0x80; b < 256; ++b) t[b] = true;
    return t;
  }();
  while (i < size) {
    if (content)
      while (i < size && !kStops[static_cast<unsigned char>(line[i])]) ++i;
    if (i >= size) break;
    auto b = static_cast<unsigned char>(line[i]);
    if (b < 0x80 && !terminal(char(b))) {  // most bytes: ASCII, no decoding
      content |= !is_ascii_space(b);
      ++i;
      continue;
    }
    char32_t cp = next_code_point(line, i);
    if (cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F) {  // 。！？ end a sentence outright
      if (content) ++n;
      content = false;
    } else if (cp == '.' || cp == '!' || cp == '?') {
      size_t j = i;
      while (j < size && terminal(line[j])) ++j;
      size_t k = j;
      bool boundary = j >= size || is_unicode_space(next_code_point(line, k));
      if (boundary && content) {
        ++n;
        content = false;
      }
      i = j;
    } else if (!is_unicode_space(cp)) {
      content = true;
    }
  }
  return n + (content ? 1 : 0);
}

namespace quality_detail {

std::string_view check_c4(std::string_view text, const C4Options& o, C4Stats& st, std::string& cleaned,
                          Scratch& scratch) {
  st = {};
  cleaned.clear();
  auto& lines = scratch.lines;
  split_lines(text, lines);
  st.lines = lines.size();
  std::string_view reason;
  for (std::string_view raw : lines) {
    std::string_view line = strip_spaces(raw);
    // Words are white-space separated here (Python's str.split), as in c4_utils. A line
    // of at most max_word_length bytes cannot hold a longer word, and past that only
    // whether it has min_words_per_line words matters: the count stops there.
    uint64_t num_words = 0;
    bool too_long = false;
    {
      const bool check_length = o.max_word_length && line.size() > o.max_word_length;
      size_t i = 0, word_chars = 0;
      bool in_word = false;
      while (i < line.size()) {
        auto b = static_cast<unsigned char>(line[i]);
        bool space = b < 0x80 ? (++i, is_ascii_space(b)) : is_unicode_space(next_code_point(line, i));
        if (space) {
          in_word = false;
          word_chars = 0;
          continue;
        }
        if (!in_word) {
          ++num_words;
          if (!check_length && num_words >= o.min_words_per_line) break;
        }
        in_word = true;
        if (check_length && ++word_chars > o.max_word_length) {
          too_long = true;
          break;
        }
      }
    }
    if (too_long) {
      ++st.lines_too_long_word;
      continue;
    }
    std::string without_citations;
    if (o.remove_citations && line.find('[') != std::string_view::npos) {
      without_citations = remove_citations(line);
      line = without_citations;
    }
    if (o.filter_no_terminal_punct) {
      bool terminal = !line.empty() && (line.back() == '.' || line.back() == '?' || line.back() == '!' ||
                                        line.back() == '"' || line.back() == '\'');
      if (!terminal || line.ends_with("...")) {
        ++st.lines_no_terminal_punct;
        continue;
      }
    }
    if (num_words < o.min_words_per_line) {
      ++st.lines_too_few_words;
      continue;
    }
    // ASCII-lowercased copy for the phrase rules (ASCII only: see above).
    std::string& low = scratch.cleaned_lower;
    low.resize(line.size());
    {
      const auto* __restrict src = reinterpret_cast<const unsigned char*>(line.data());
      auto* __restrict dst = reinterpret_cast<unsigned char*>(low.data());
      for (size_t k = 0; k < line.size(); ++k)  // branch-free, so it vectorises
        dst[k] = src[k] | (uint8_t(src[k] - 'A') < 26 ? 0x20 : 0);
    }
    // memmem (glibc: a hashed shift table for short needles) rather than find, which
    // stops at every occurrence of the phrase's first letter ('t', 'p', 'c' are common).
    auto has = [&](std::string_view phrase) {
      return memmem(low.data(), low.size(), phrase.data(), phrase.size()) != nullptr;
    };
    if (o.filter_lorem_ipsum && has("lorem ipsum")) {
      reason = "c4_lorem_ipsum";
      break;
    }
    if (o.filter_javascript && has("javascript")) {
      ++st.lines_javascript;
      continue;
    }
    if (o.filter_curly_bracket && line.find('{') != std::string_view::npos) {
      reason = "c4_curly_bracket";
      break;
    }
    if (o.filter_policy) {
      // Every policy phrase holds "policy", "cookies" or "terms of use": look for those
      // first (three scans of a line that has none, instead of six).
      bool policy = false;
      if (has("policy") || has("cookies") || has("terms of use"))
        for (auto p : kPolicySubstrings) policy = policy || has(p);
      if (policy) {
        ++st.lines_policy;
        continue;
      }
    }
    st.sentences += count_sentences(line);
    ++st.lines_kept;
    if (!cleaned.empty()) cleaned.push_back('\n');
    cleaned.append(line);
  }
  if (!reason.empty()) {
    cleaned.clear();
    return reason;
  }
  // The joined text is stripped once more (datatrove: "\n".join(kept).strip()): a kept
  // line may be left empty or space-ended by citation removal.
  std::string_view stripped = strip_spaces(cleaned);
  if (stripped.size() != cleaned.size()) cleaned = std::string(stripped);
  st.chars_kept = count_code_points(cleaned);
  if (o.min_sentences && st.sentences < o.min_sentences) return "c4_too_few_sentences";
  if (cleaned.empty()) return "c4_empty";
  return "";
}

std::string_view check_fineweb(std::string_view text, const FineWebOptions& o, FineWebStats& st, Scratch& scratch) {
  st = {};
  // All pieces between '\n' (str.split), then only those with a non-space character.
  auto& lines = scratch.lines;
  lines.clear();
  uint64_t newlines = 0;
  size_t start = 0;
  while (true) {
    size_t nl = text.find('\n', start);
    std::string_view piece = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!strip_spaces(piece).empty()) lines.push_back(piece);
    if (nl == std::string_view::npos) break;
    ++newlines;
    start = nl + 1;
  }
  st.lines = lines.size();
  if (lines.empty()) return "fineweb_empty";
  uint64_t punct = 0, short_lines = 0;
  for (std::string_view line : lines) {
    for (auto& stop : o.stop_chars)
      if (line.ends_with(stop)) {
        ++punct;
        break;
      }
    // Only count code points when the byte length leaves the answer open.
    if (line.size() <= o.short_line_length || count_code_points(line) <= o.short_line_length) ++short_lines;
  }
  st.line_punct_ratio = double(punct) / double(lines.size());
  st.short_line_ratio = double(short_lines) / double(lines.size());

  // Lines are compared, not only their hashes.
  scratch.table.reset(lines.size());
  uint64_t dup_chars = 0;
  for (uint32_t k = 0; k < lines.size(); ++k) {
    std::string_view line = lines[k];
    if (scratch.table.add(hash_bytes(line), k, [&](uint32_t j) { return lines[j] == line; }) != k)
      dup_chars += count_code_points(line);
  }
  uint64_t non_newline_chars = count_code_points(text) - newlines;
  st.dup_line_char_ratio = non_newline_chars ? double(dup_chars) / double(non_newline_chars) : 0.0;

  const auto& words = cached_words(text);
  st.newline_word_ratio = words.empty() ? 0.0 : double(newlines) / double(words.size());

  if (o.min_line_punct_ratio && st.line_punct_ratio < o.min_line_punct_ratio &&
      !(st.line_punct_ratio == 0 && o.line_punct_exclude_zero))
    return "fineweb_line_punct_ratio";
  if (o.max_short_line_ratio && st.short_line_ratio > o.max_short_line_ratio) return "fineweb_short_line_ratio";
  if (o.max_dup_line_char_ratio && st.dup_line_char_ratio > o.max_dup_line_char_ratio) return "fineweb_char_dup_ratio";
  if (o.max_newline_word_ratio && st.newline_word_ratio > o.max_newline_word_ratio) return "fineweb_list_ratio";
  return "";
}

}  // namespace quality_detail
}  // namespace kiln
