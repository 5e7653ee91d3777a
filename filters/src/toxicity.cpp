#include "filters/toxicity.h"

#include <re2/re2.h>
#include <simdjson.h>
#include <utf8proc.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <unordered_set>

#include "corpus/document.h"
#include "corpus/error.h"
#include "corpus/text.h"
#include "filters/src/word_phrases.h"
#include "filters/text_analysis.h"

namespace kiln {

using phrase_detail::combine;
using phrase_detail::word_hashes;

namespace {

void append_utf8(std::string& out, char32_t cp) {
  utf8proc_uint8_t buf[4];
  auto n = utf8proc_encode_char(utf8proc_int32_t(cp), buf);
  out.append(reinterpret_cast<char*>(buf), size_t(n));
}

std::string lowercase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) append_utf8(out, char32_t(utf8proc_tolower(utf8proc_int32_t(next_code_point(text, i)))));
  return out;
}

// C4's allowlist (TFDS c4_utils / datatrove _BADWORDS_ALLOWLIST): common subwords of
// languages without spaces that would otherwise remove > 10% of their documents.
const std::set<std::pair<std::string, std::string>> kAllow = {{"ja", "sm"}, {"ja", "グロ"}, {"ja", "女の子"}, {"zh", "性"}};

}  // namespace

struct ToxicityLexicon::Impl {
  struct List {
    std::string name;
    bool substring = false;
    std::unordered_set<uint64_t> entries;  // hashes of word sequences (whole-word lists)
    std::vector<size_t> lengths;           // entry lengths in words, distinct
    std::unique_ptr<RE2> pattern;          // alternation of entries (substring lists)
  };
  std::vector<List> lists;
  std::vector<std::string> names;
};

ToxicityLexicon::ToxicityLexicon(const ToxicityLexiconOptions& o) : impl_(std::make_unique<Impl>()) {
  std::string path = o.lexicon_path.empty() ? default_toxicity_lexicon_path() : o.lexicon_path;
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.load(path).get(root) != simdjson::SUCCESS)
    throw Error(cat(path, ": expected a JSON object {\"list\": [\"entry\", ...]}"));
  bool all = o.lists.size() == 1 && o.lists[0] == "*";
  std::vector<std::string> wanted = o.lists;
  if (all) {
    wanted.clear();
    for (auto field : root) wanted.emplace_back(field.key);
  }
  for (const std::string& name : wanted) {
    simdjson::dom::array words;
    if (root[name].get(words) != simdjson::SUCCESS) throw Error(cat(path, ": no word list named '", name, "'"));
    Impl::List list;
    list.name = name;
    list.substring = name == "ja" || name == "th" || name == "zh";
    std::string alternation;
    std::set<size_t> lengths;
    std::vector<uint64_t> hashes;
    for (auto w : words) {
      std::string_view entry;
      if (w.get(entry) != simdjson::SUCCESS) throw Error(cat(path, ": list '", name, "' must hold strings"));
      if (kAllow.count({name, std::string(entry)})) continue;
      if (list.substring) {
        if (!alternation.empty()) alternation += '|';
        alternation += RE2::QuoteMeta(lowercase(entry));
        continue;
      }
      word_hashes(entry, hashes);
      if (hashes.empty()) continue;
      uint64_t h = 0;
      for (uint64_t x : hashes) h = combine(h, x);
      list.entries.insert(h);
      lengths.insert(hashes.size());
    }
    list.lengths.assign(lengths.begin(), lengths.end());
    if (list.substring && !alternation.empty()) {
      RE2::Options ro;
      ro.set_max_mem(64 << 20);
      list.pattern = std::make_unique<RE2>("(" + alternation + ")", ro);
      if (!list.pattern->ok()) throw Error(cat(path, ": list '", name, "': ", list.pattern->error()));
    }
    impl_->names.push_back(name);
    impl_->lists.push_back(std::move(list));
  }
}

ToxicityLexicon::~ToxicityLexicon() = default;
const std::vector<std::string>& ToxicityLexicon::lists() const { return impl_->names; }

ToxicityMatches ToxicityLexicon::match(std::string_view text) const {
  ToxicityMatches m;
  m.per_list.assign(impl_->lists.size(), 0);
  thread_local std::vector<Word> words;
  split_words(text, words);
  m.words = words.size();
  thread_local std::vector<uint64_t> hashes;
  bool hashed = false;
  std::string lower;
  for (size_t l = 0; l < impl_->lists.size(); ++l) {
    const auto& list = impl_->lists[l];
    uint64_t n = 0;
    if (list.substring) {
      if (!list.pattern) continue;
      if (lower.empty()) lower = lowercase(text);
      re2::StringPiece input(lower);
      while (RE2::FindAndConsume(&input, *list.pattern)) ++n;
    } else {
      if (!hashed) word_hashes(text, hashes), hashed = true;
      for (size_t i = 0; i < hashes.size(); ++i) {
        uint64_t h = 0;
        size_t len = 0;
        for (size_t want : list.lengths) {
          if (i + want > hashes.size()) break;
          while (len < want) h = combine(h, hashes[i + len++]);
          n += list.entries.count(h);
        }
      }
    }
    m.per_list[l] = n;
    m.total += n;
  }
  return m;
}

std::string default_toxicity_lexicon_path() { return std::string(KILN_SOURCE_DIR) + "/filters/data/naughty_words.json"; }

namespace {

class ToxicityStage final : public Stage {
 public:
  explicit ToxicityStage(const ToxicityLexiconOptions& o) : o_(o), lexicon_(o) {
    for (auto& name : lexicon_.lists()) reasons_.push_back("toxic_words_" + name);
  }
  std::string_view name() const override { return "toxicity_lexicon"; }
  std::vector<std::pair<std::string, double>> thresholds() const override {
    return {{"toxicity_lexicon.score", o_.max_score}};
  }
  Verdict process(Document& doc, StageState*) const override {
    ToxicityMatches m = lexicon_.match(doc.text);
    std::string_view reason;
    if (m.total && m.score() > o_.max_score) {
      size_t top = size_t(std::max_element(m.per_list.begin(), m.per_list.end()) - m.per_list.begin());
      reason = reasons_[top];
    }
    if (o_.mode == FilterMode::kDrop) return reason.empty() ? Verdict::keep() : Verdict::drop(reason);
    char score[32];
    std::snprintf(score, sizeof score, "%.6g", m.score());
    doc.set_attribute("toxicity_lexicon", cat("{\"matches\":", m.total, ",\"words\":", m.words, ",\"score\":", score,
                                              ",\"reason\":", reason.empty() ? "null" : json_quote(reason), "}"));
    return Verdict::keep();
  }

 private:
  ToxicityLexiconOptions o_;
  ToxicityLexicon lexicon_;
  std::vector<std::string> reasons_;  // "toxic_words_<list>", owned here for Verdict::reason
};

}  // namespace

std::unique_ptr<Stage> make_toxicity_lexicon_stage(const ToxicityLexiconOptions& options) {
  return std::make_unique<ToxicityStage>(options);
}

void register_toxicity_stages(StageRegistry& registry) {
  registry.add({"toxicity_lexicon",
                "whole-word bad-word lists (LDNOOBW, CC BY 4.0): lists=[\"en\",...] or [\"*\"], max_score "
                "(matches/word, default 0 = any), lexicon=PATH; reason toxic_words_<list>; mode=drop|tag",
                [](const StageConfig& c) {
                  ToxicityLexiconOptions o;
                  std::string mode = c.get_string("mode", "drop");
                  if (mode == "tag") o.mode = FilterMode::kTag;
                  else if (mode != "drop") throw Error(cat(c.where("mode"), ": mode must be \"drop\" or \"tag\""));
                  o.lexicon_path = c.get_string("lexicon", "");
                  o.lists = c.get_strings("lists", o.lists);
                  o.max_score = c.get_double("max_score", o.max_score);
                  if (!(o.max_score >= 0)) throw Error(cat(c.where("max_score"), ": max_score must be >= 0"));
                  return make_toxicity_lexicon_stage(o);
                }});
}

}  // namespace kiln
