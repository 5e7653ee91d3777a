#include "filters/basic.h"

#include <utf8proc.h>

#include <cstdlib>
#include <string>

#include "corpus/error.h"
#include "filters/classifier.h"
#include "filters/demographics.h"
#include "filters/langid.h"
#include "filters/pii.h"
#include "filters/quality.h"
#include "filters/toxicity.h"

namespace kiln {

uint64_t count_code_points(std::string_view s) {
  uint64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

namespace {

bool is_space(utf8proc_int32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || cp == ' ') return true;
  if (cp < 0x80) return false;
  auto cat = utf8proc_category(cp);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP || cp == 0x85;
}

}  // namespace

uint64_t count_words(std::string_view s) {
  uint64_t words = 0;
  bool in_word = false;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = utf8proc_ssize_t(s.size());
  while (left > 0) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n;
    if (*p < 0x80) {
      cp = *p;
      n = 1;
    } else {
      n = utf8proc_iterate(p, left, &cp);
      if (n < 0) {
        cp = 0xFFFD;
        n = 1;
      }
    }
    bool space = is_space(cp);
    if (!space && !in_word) ++words;
    in_word = !space;
    p += n;
    left -= n;
  }
  return words;
}

namespace {

class LengthFilter final : public Stage {
 public:
  explicit LengthFilter(const LengthOptions& o) : o_(o) {}
  std::string_view name() const override { return "length"; }
  Verdict process(Document& doc, StageState*) const override {
    if (o_.min_chars || o_.max_chars) {
      uint64_t chars = count_code_points(doc.text);
      if (chars < o_.min_chars) return Verdict::drop("too_short_chars");
      if (o_.max_chars && chars > o_.max_chars) return Verdict::drop("too_long_chars");
    }
    if (o_.min_words || o_.max_words) {
      uint64_t words = count_words(doc.text);
      if (words < o_.min_words) return Verdict::drop("too_few_words");
      if (o_.max_words && words > o_.max_words) return Verdict::drop("too_many_words");
    }
    return Verdict::keep();
  }

 private:
  LengthOptions o_;
};

class Normalize final : public Stage {
 public:
  explicit Normalize(const NormalizeOptions& o) : o_(o) {}
  std::string_view name() const override { return "normalize"; }
  Verdict process(Document& doc, StageState*) const override {
    std::string& text = doc.text;
    if (o_.strip_bom && text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);
    if (o_.nfc && !is_ascii(text)) {
      utf8proc_uint8_t* out = nullptr;
      utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                        utf8proc_ssize_t(text.size()), &out, utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
      if (n >= 0) text.assign(reinterpret_cast<char*>(out), size_t(n));
      std::free(out);
    }
    if (o_.unify_line_ends || o_.trim_trailing_spaces || o_.max_blank_lines) rewrite_lines(text);
    if (o_.drop_empty && text.find_first_not_of(" \t\n") == std::string::npos) return Verdict::drop("empty");
    return Verdict::keep();
  }

 private:
  static bool is_ascii(std::string_view s) {
    for (unsigned char c : s)
      if (c >= 0x80) return false;
    return true;
  }
  void rewrite_lines(std::string& text) const {
    std::string out;
    out.reserve(text.size());
    uint64_t blank_run = 0;
    size_t i = 0;
    while (i <= text.size()) {
      size_t end = i;
      while (end < text.size() && text[end] != '\n' && !(o_.unify_line_ends && text[end] == '\r')) ++end;
      std::string_view line(text.data() + i, end - i);
      if (o_.trim_trailing_spaces)
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
      bool at_end = end >= text.size();
      if (line.empty() && !at_end) {
        ++blank_run;
      } else {
        blank_run = 0;
      }
      if (!(line.empty() && !at_end && o_.max_blank_lines && blank_run > o_.max_blank_lines)) {
        out.append(line);
        if (!at_end) out.push_back('\n');
      }
      if (at_end) break;
      size_t next = end + 1;
      if (o_.unify_line_ends && text[end] == '\r' && next < text.size() && text[next] == '\n') ++next;
      i = next;
    }
    text = std::move(out);
  }
  NormalizeOptions o_;
};

uint64_t non_negative(const StageConfig& c, std::string_view key, uint64_t fallback) {
  int64_t v = c.get_int(key, int64_t(fallback));
  if (v < 0) throw Error(cat(c.where(key), ": option '", key, "' must not be negative"));
  return uint64_t(v);
}

}  // namespace

std::unique_ptr<Stage> make_length_filter(const LengthOptions& options) { return std::make_unique<LengthFilter>(options); }
std::unique_ptr<Stage> make_normalize(const NormalizeOptions& options) { return std::make_unique<Normalize>(options); }

void register_filters_stages(StageRegistry& registry) {
  registry.add({"length", "drop documents outside [min,max] chars or words (min_chars, max_chars, min_words, max_words)",
                [](const StageConfig& c) {
                  LengthOptions o;
                  o.min_chars = non_negative(c, "min_chars", o.min_chars);
                  o.max_chars = non_negative(c, "max_chars", o.max_chars);
                  o.min_words = non_negative(c, "min_words", o.min_words);
                  o.max_words = non_negative(c, "max_words", o.max_words);
                  return make_length_filter(o);
                }});
  registry.add({"normalize", "NFC, LF line ends, no BOM, trailing spaces and long blank runs trimmed; drops empty docs",
                [](const StageConfig& c) {
                  NormalizeOptions o;
                  o.nfc = c.get_bool("nfc", o.nfc);
                  o.unify_line_ends = c.get_bool("unify_line_ends", o.unify_line_ends);
                  o.strip_bom = c.get_bool("strip_bom", o.strip_bom);
                  o.trim_trailing_spaces = c.get_bool("trim_trailing_spaces", o.trim_trailing_spaces);
                  o.max_blank_lines = non_negative(c, "max_blank_lines", o.max_blank_lines);
                  o.drop_empty = c.get_bool("drop_empty", o.drop_empty);
                  return make_normalize(o);
                }});
  register_quality_stages(registry);
  register_langid_stages(registry);
  register_pii_stages(registry);
  register_toxicity_stages(registry);
  register_demographic_stages(registry);
  register_classifier_stages(registry);
}

}  // namespace kiln
