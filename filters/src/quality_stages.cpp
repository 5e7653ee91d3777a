// The quality rule sets as stages, their recipe options and registration.
#include "corpus/document.h"
#include "filters/src/quality_internal.h"

namespace kiln {

namespace quality_detail {

FilterMode parse_mode(const StageConfig& c) {
  std::string mode = c.get_string("mode", "drop");
  if (mode == "drop") return FilterMode::kDrop;
  if (mode == "tag") return FilterMode::kTag;
  throw Error(cat(c.where("mode"), ": mode must be \"drop\" or \"tag\", not \"", mode, "\""));
}

double get_fraction(const StageConfig& c, std::string_view key, double fallback) {
  double v = c.get_double(key, fallback);
  if (!(v >= 0)) throw Error(cat(c.where(key), ": option '", key, "' must be a number ≥ 0 (0 switches the rule off)"));
  return v;
}

uint64_t get_count(const StageConfig& c, std::string_view key, uint64_t fallback) {
  int64_t v = c.get_int(key, int64_t(fallback));
  if (v < 0) throw Error(cat(c.where(key), ": option '", key, "' must not be negative"));
  return uint64_t(v);
}

}  // namespace quality_detail

using namespace quality_detail;

namespace {

Scratch& scratch_of(StageState* state, Scratch& fallback) {
  auto* s = dynamic_cast<Scratch*>(state);
  return s ? *s : fallback;
}

class GopherQualityStage final : public Stage {
 public:
  explicit GopherQualityStage(GopherQualityOptions o) : o_(std::move(o)) {}
  std::string_view name() const override { return "gopher_quality"; }
  std::vector<std::pair<std::string, double>> thresholds() const override {
    return {{"gopher_quality.non_symbol_words", double(o_.min_words)},
            {"gopher_quality.mean_word_length", o_.min_mean_word_length},
            {"gopher_quality.hash_ratio", o_.max_symbol_word_ratio},
            {"gopher_quality.ellipsis_ratio", o_.max_symbol_word_ratio},
            {"gopher_quality.bullet_lines_ratio", o_.max_bullet_lines_ratio},
            {"gopher_quality.ellipsis_lines_ratio", o_.max_ellipsis_lines_ratio},
            {"gopher_quality.alpha_words_ratio", o_.min_alpha_words_ratio},
            {"gopher_quality.stop_words", double(o_.min_stop_words)}};
  }
  std::unique_ptr<StageState> make_state() const override { return std::make_unique<Scratch>(); }
  Verdict process(Document& doc, StageState* state) const override {
    Scratch local;
    GopherQualityStats st;
    std::string_view reason = check_gopher_quality(doc.text, o_, st, scratch_of(state, local));
    if (o_.mode == FilterMode::kDrop) return reason.empty() ? Verdict::keep() : Verdict::drop(reason);
    doc.set_attribute("gopher_quality", JsonObject()
                                            .num("words", st.words)
                                            .num("non_symbol_words", st.non_symbol_words)
                                            .num("mean_word_length", st.mean_word_length)
                                            .num("hash_ratio", st.hash_ratio)
                                            .num("ellipsis_ratio", st.ellipsis_ratio)
                                            .num("bullet_lines_ratio", st.bullet_lines_ratio)
                                            .num("ellipsis_lines_ratio", st.ellipsis_lines_ratio)
                                            .num("alpha_words_ratio", st.alpha_words_ratio)
                                            .num("stop_words", st.stop_words)
                                            .reason(reason)
                                            .str());
    return Verdict::keep();
  }

 private:
  GopherQualityOptions o_;
};

class GopherRepetitionStage final : public Stage {
 public:
  explicit GopherRepetitionStage(GopherRepetitionOptions o) : o_(o) {}
  std::string_view name() const override { return "gopher_repetition"; }
  std::vector<std::pair<std::string, double>> thresholds() const override {
    std::vector<std::pair<std::string, double>> t = {{"gopher_repetition.dup_para_frac", o_.max_dup_para_frac},
                                                     {"gopher_repetition.dup_para_char_frac", o_.max_dup_para_char_frac},
                                                     {"gopher_repetition.dup_line_frac", o_.max_dup_line_frac},
                                                     {"gopher_repetition.dup_line_char_frac", o_.max_dup_line_char_frac}};
    for (int n = 2; n <= 4; ++n)
      t.emplace_back(cat("gopher_repetition.top_", n, "_gram_char_frac"), o_.max_top_ngram_char_frac[n - 2]);
    for (int n = 5; n <= 10; ++n)
      t.emplace_back(cat("gopher_repetition.dup_", n, "_gram_char_frac"), o_.max_dup_ngram_char_frac[n - 5]);
    return t;
  }
  std::unique_ptr<StageState> make_state() const override { return std::make_unique<Scratch>(); }
  Verdict process(Document& doc, StageState* state) const override {
    Scratch local;
    GopherRepetitionStats st;
    std::string_view reason = check_gopher_repetition(doc.text, o_, st, scratch_of(state, local));
    if (o_.mode == FilterMode::kDrop) return reason.empty() ? Verdict::keep() : Verdict::drop(reason);
    JsonObject j;
    j.num("chars", st.chars)
        .num("dup_para_frac", st.dup_para_frac)
        .num("dup_para_char_frac", st.dup_para_char_frac)
        .num("dup_line_frac", st.dup_line_frac)
        .num("dup_line_char_frac", st.dup_line_char_frac);
    static constexpr std::string_view kTop[3] = {"top_2_gram_char_frac", "top_3_gram_char_frac", "top_4_gram_char_frac"};
    static constexpr std::string_view kDup[6] = {"dup_5_gram_char_frac", "dup_6_gram_char_frac",
                                                 "dup_7_gram_char_frac", "dup_8_gram_char_frac",
                                                 "dup_9_gram_char_frac", "dup_10_gram_char_frac"};
    for (int k = 0; k < 3; ++k) j.num(kTop[k], st.top_ngram_char_frac[k]);
    for (int k = 0; k < 6; ++k) j.num(kDup[k], st.dup_ngram_char_frac[k]);
    doc.set_attribute("gopher_repetition", j.reason(reason).str());
    return Verdict::keep();
  }

 private:
  GopherRepetitionOptions o_;
};

class C4Stage final : public Stage {
 public:
  explicit C4Stage(C4Options o) : o_(o) {}
  std::string_view name() const override { return "c4"; }
  std::vector<std::pair<std::string, double>> thresholds() const override {
    return {{"c4.sentences", double(o_.min_sentences)}};
  }
  std::unique_ptr<StageState> make_state() const override { return std::make_unique<Scratch>(); }
  Verdict process(Document& doc, StageState* state) const override {
    Scratch local;
    Scratch& scratch = scratch_of(state, local);
    C4Stats st;
    std::string_view reason = check_c4(doc.text, o_, st, scratch.cleaned, scratch);
    if (o_.mode == FilterMode::kDrop) {
      if (!reason.empty()) return Verdict::drop(reason);
      doc.text.swap(scratch.cleaned);
      return Verdict::keep();
    }
    doc.set_attribute("c4", JsonObject()
                                .num("lines", st.lines)
                                .num("lines_kept", st.lines_kept)
                                .num("lines_too_long_word", st.lines_too_long_word)
                                .num("lines_no_terminal_punct", st.lines_no_terminal_punct)
                                .num("lines_too_few_words", st.lines_too_few_words)
                                .num("lines_javascript", st.lines_javascript)
                                .num("lines_policy", st.lines_policy)
                                .num("sentences", st.sentences)
                                .num("chars_kept", st.chars_kept)
                                .reason(reason)
                                .str());
    return Verdict::keep();
  }

 private:
  C4Options o_;
};

class FineWebStage final : public Stage {
 public:
  explicit FineWebStage(FineWebOptions o) : o_(std::move(o)) {}
  std::string_view name() const override { return "fineweb"; }
  std::vector<std::pair<std::string, double>> thresholds() const override {
    return {{"fineweb.line_punct_ratio", o_.min_line_punct_ratio},
            {"fineweb.short_line_ratio", o_.max_short_line_ratio},
            {"fineweb.dup_line_char_ratio", o_.max_dup_line_char_ratio},
            {"fineweb.newline_word_ratio", o_.max_newline_word_ratio}};
  }
  std::unique_ptr<StageState> make_state() const override { return std::make_unique<Scratch>(); }
  Verdict process(Document& doc, StageState* state) const override {
    Scratch local;
    FineWebStats st;
    std::string_view reason = check_fineweb(doc.text, o_, st, scratch_of(state, local));
    if (o_.mode == FilterMode::kDrop) return reason.empty() ? Verdict::keep() : Verdict::drop(reason);
    doc.set_attribute("fineweb", JsonObject()
                                     .num("lines", st.lines)
                                     .num("line_punct_ratio", st.line_punct_ratio)
                                     .num("short_line_ratio", st.short_line_ratio)
                                     .num("dup_line_char_ratio", st.dup_line_char_ratio)
                                     .num("newline_word_ratio", st.newline_word_ratio)
                                     .reason(reason)
                                     .str());
    return Verdict::keep();
  }

 private:
  FineWebOptions o_;
};

}  // namespace

std::string_view check_gopher_quality(std::string_view text, const GopherQualityOptions& o, GopherQualityStats& st) {
  Scratch s;
  return quality_detail::check_gopher_quality(text, o, st, s);
}
std::string_view check_gopher_repetition(std::string_view text, const GopherRepetitionOptions& o,
                                         GopherRepetitionStats& st) {
  Scratch s;
  return quality_detail::check_gopher_repetition(text, o, st, s);
}
std::string_view check_c4(std::string_view text, const C4Options& o, C4Stats& st, std::string& cleaned) {
  Scratch s;
  return quality_detail::check_c4(text, o, st, cleaned, s);
}
std::string_view check_fineweb(std::string_view text, const FineWebOptions& o, FineWebStats& st) {
  Scratch s;
  return quality_detail::check_fineweb(text, o, st, s);
}

std::unique_ptr<Stage> make_gopher_quality_filter(const GopherQualityOptions& o) {
  return std::make_unique<GopherQualityStage>(o);
}
std::unique_ptr<Stage> make_gopher_repetition_filter(const GopherRepetitionOptions& o) {
  return std::make_unique<GopherRepetitionStage>(o);
}
std::unique_ptr<Stage> make_c4_filter(const C4Options& o) { return std::make_unique<C4Stage>(o); }
std::unique_ptr<Stage> make_fineweb_filter(const FineWebOptions& o) { return std::make_unique<FineWebStage>(o); }

void register_quality_stages(StageRegistry& registry) {
  registry.add({"gopher_quality",
                "Gopher quality rules (words 50-100k, mean word length 3-10, symbols, bullets, "
                "letters, stop words); mode=drop|tag",
                [](const StageConfig& c) {
                  GopherQualityOptions o;
                  o.mode = parse_mode(c);
                  o.min_words = get_count(c, "min_words", o.min_words);
                  o.max_words = get_count(c, "max_words", o.max_words);
                  o.min_mean_word_length = get_fraction(c, "min_mean_word_length", o.min_mean_word_length);
                  o.max_mean_word_length = get_fraction(c, "max_mean_word_length", o.max_mean_word_length);
                  o.max_symbol_word_ratio = get_fraction(c, "max_symbol_word_ratio", o.max_symbol_word_ratio);
                  o.max_bullet_lines_ratio = get_fraction(c, "max_bullet_lines_ratio", o.max_bullet_lines_ratio);
                  o.max_ellipsis_lines_ratio = get_fraction(c, "max_ellipsis_lines_ratio", o.max_ellipsis_lines_ratio);
                  o.min_alpha_words_ratio = get_fraction(c, "min_alpha_words_ratio", o.min_alpha_words_ratio);
                  o.min_stop_words = get_count(c, "min_stop_words", o.min_stop_words);
                  o.stop_words = c.get_strings("stop_words", o.stop_words);
                  return make_gopher_quality_filter(o);
                }});
  registry.add({"gopher_repetition",
                "Gopher repetition rules (duplicate lines/paragraphs, top 2-4-gram and duplicate "
                "5-10-gram char fractions); mode=drop|tag",
                [](const StageConfig& c) {
                  GopherRepetitionOptions o;
                  o.mode = parse_mode(c);
                  o.max_dup_para_frac = get_fraction(c, "max_dup_para_frac", o.max_dup_para_frac);
                  o.max_dup_para_char_frac = get_fraction(c, "max_dup_para_char_frac", o.max_dup_para_char_frac);
                  o.max_dup_line_frac = get_fraction(c, "max_dup_line_frac", o.max_dup_line_frac);
                  o.max_dup_line_char_frac = get_fraction(c, "max_dup_line_char_frac", o.max_dup_line_char_frac);
                  for (int n = 2; n <= 4; ++n)
                    o.max_top_ngram_char_frac[n - 2] =
                        get_fraction(c, cat("max_top_", n, "_gram_char_frac"), o.max_top_ngram_char_frac[n - 2]);
                  for (int n = 5; n <= 10; ++n)
                    o.max_dup_ngram_char_frac[n - 5] =
                        get_fraction(c, cat("max_dup_", n, "_gram_char_frac"), o.max_dup_ngram_char_frac[n - 5]);
                  return make_gopher_repetition_filter(o);
                }});
  registry.add({"c4",
                "C4 rules: remove lines without terminal punctuation, < 3 words, javascript, "
                "policy; drop lorem ipsum, '{', < 5 sentences; mode=drop|tag",
                [](const StageConfig& c) {
                  C4Options o;
                  o.mode = parse_mode(c);
                  o.max_word_length = get_count(c, "max_word_length", o.max_word_length);
                  o.remove_citations = c.get_bool("remove_citations", o.remove_citations);
                  o.filter_no_terminal_punct = c.get_bool("filter_no_terminal_punct", o.filter_no_terminal_punct);
                  o.min_words_per_line = get_count(c, "min_words_per_line", o.min_words_per_line);
                  o.filter_lorem_ipsum = c.get_bool("filter_lorem_ipsum", o.filter_lorem_ipsum);
                  o.filter_javascript = c.get_bool("filter_javascript", o.filter_javascript);
                  o.filter_curly_bracket = c.get_bool("filter_curly_bracket", o.filter_curly_bracket);
                  o.filter_policy = c.get_bool("filter_policy", o.filter_policy);
                  o.min_sentences = get_count(c, "min_sentences", o.min_sentences);
                  return make_c4_filter(o);
                }});
  registry.add({"fineweb",
                "FineWeb rules: terminal-punctuation lines >= 0.12, short lines <= 0.67, duplicate "
                "line chars <= 0.01, newlines per word <= 0.3; mode=drop|tag",
                [](const StageConfig& c) {
                  FineWebOptions o;
                  o.mode = parse_mode(c);
                  o.min_line_punct_ratio = get_fraction(c, "min_line_punct_ratio", o.min_line_punct_ratio);
                  o.line_punct_exclude_zero = c.get_bool("line_punct_exclude_zero", o.line_punct_exclude_zero);
                  o.max_short_line_ratio = get_fraction(c, "max_short_line_ratio", o.max_short_line_ratio);
                  o.short_line_length = get_count(c, "short_line_length", o.short_line_length);
                  o.max_dup_line_char_ratio = get_fraction(c, "max_dup_line_char_ratio", o.max_dup_line_char_ratio);
                  o.max_newline_word_ratio = get_fraction(c, "max_newline_word_ratio", o.max_newline_word_ratio);
                  o.stop_chars = c.get_strings("stop_chars", o.stop_chars);
                  return make_fineweb_filter(o);
                }});
}

}  // namespace kiln
