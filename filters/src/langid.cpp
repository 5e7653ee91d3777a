#include "filters/langid.h"

#include <utf8proc.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "corpus/error.h"
#include "corpus/reader.h"
#include "corpus/text.h"
#include "filters/text_analysis.h"

namespace kiln {

namespace {

inline uint64_t fmix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  return x ^ (x >> 33);
}

bool is_word_char(utf8proc_int32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  auto c = utf8proc_category(cp);
  return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||  // letters
         (c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME);    // marks (Indic vowel signs)
}

}  // namespace

void for_each_langid_ngram(std::string_view text, int min_n, int max_n, const std::function<void(uint64_t)>& fn) {
  thread_local std::vector<char32_t> word;
  word.clear();
  auto flush = [&] {
    if (word.empty()) return;
    word.push_back(U' ');
    const size_t len = word.size();  // word[0] is the leading space
    for (size_t i = 0; i < len; ++i) {
      uint64_t h = 0x9E3779B97F4A7C15ull;
      for (int n = 1; n <= max_n && i + size_t(n) <= len; ++n) {
        h = (h ^ uint64_t(word[i + size_t(n) - 1])) * 0x100000001B3ull;  // FNV-1a step over code points
        if (n < min_n) continue;
        // 1-grams only of non-ASCII letters: ASCII letters occur in ~300 languages, so their
        // unigrams cost the most adds and tell the least (dev split: same accuracy, ~1.8x faster).
        if (n == 1 && word[i] < 0x80) continue;
        fn(fmix64(h ^ uint64_t(n)));
      }
    }
    word.clear();
  };
  size_t i = 0;
  while (i < text.size()) {
    char32_t cp = next_code_point(text, i);
    if (is_word_char(utf8proc_int32_t(cp))) {
      if (word.empty()) word.push_back(U' ');
      word.push_back(char32_t(utf8proc_tolower(utf8proc_int32_t(cp))));
    } else {
      flush();
    }
  }
  flush();
}

// ---- training --------------------------------------------------------------------------

void LangIdTrainer::add(std::string_view label, std::string_view text) {
  auto it = label_index_.find(std::string(label));
  size_t l;
  if (it == label_index_.end()) {
    l = labels_.size();
    labels_.emplace_back(label);
    label_index_.emplace(std::string(label), l);
    counts_.emplace_back();
    totals_.push_back(0);
  } else {
    l = it->second;
  }
  auto& counts = counts_[l];
  uint64_t added = 0;
  for_each_langid_ngram(text, o_.min_n, o_.max_n, [&](uint64_t h) {
    ++counts[h];
    ++added;
  });
  totals_[l] += added;
}

LangIdModel LangIdTrainer::finish() const {
  if (labels_.size() > 65535) throw Error("langid: more than 65,535 labels");
  LangIdModel m;
  m.min_n_ = o_.min_n;
  m.max_n_ = o_.max_n;
  // Labels in sorted order so the model does not depend on input order.
  std::vector<size_t> order(labels_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return labels_[a] < labels_[b]; });
  struct Entry {
    uint64_t key;
    uint16_t lang;
    uint8_t delta;
  };
  std::vector<Entry> entries;
  for (size_t li = 0; li < order.size(); ++li) {
    size_t l = order[li];
    m.labels_.push_back(labels_[l]);
    double denom = double(totals_[l]) + o_.alpha * o_.vocabulary;
    m.unseen_.push_back(float(std::log(o_.alpha / denom)));
    std::vector<std::pair<uint64_t, uint32_t>> grams(counts_[l].begin(), counts_[l].end());
    size_t keep = std::min<size_t>(grams.size(), o_.max_ngrams_per_language);
    // Most frequent first; equal counts by hash, so the kept set is deterministic.
    std::partial_sort(grams.begin(), grams.begin() + ptrdiff_t(keep), grams.end(),
                      [](auto& a, auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    for (size_t i = 0; i < keep; ++i) {
      // log P(g|l) - log P(unseen|l) = log((c + alpha) / alpha), in 1/16 nat.
      double delta = std::log((grams[i].second + o_.alpha) / o_.alpha);
      entries.push_back({grams[i].first, uint16_t(li), uint8_t(std::min(255.0, std::round(delta * 16)))});
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.key != b.key ? a.key < b.key : a.lang < b.lang; });
  for (const Entry& e : entries) {
    if (m.keys_.empty() || m.keys_.back() != e.key) {
      m.keys_.push_back(e.key);
      m.offsets_.push_back(uint32_t(m.entry_lang_.size()));
    }
    m.entry_lang_.push_back(e.lang);
    m.entry_delta_.push_back(e.delta);
  }
  m.offsets_.push_back(uint32_t(m.entry_lang_.size()));
  m.build_index();
  return m;
}

void LangIdModel::build_index() {
  size_t cap = 16;
  while (cap < keys_.size() * 2) cap <<= 1;
  slots_.assign(cap, 0);
  slot_mask_ = cap - 1;
  for (size_t i = 0; i < keys_.size(); ++i) {
    size_t s = keys_[i] & slot_mask_;
    while (slots_[s]) s = (s + 1) & slot_mask_;
    slots_[s] = uint32_t(i + 1);
  }
}

// ---- prediction ------------------------------------------------------------------------

std::vector<double> LangIdModel::scores(std::string_view text, uint64_t* ngrams) const {
  thread_local std::vector<int32_t> acc;
  acc.assign(labels_.size(), 0);
  uint64_t n = 0;
  for_each_langid_ngram(text, min_n_, max_n_, [&](uint64_t h) {
    ++n;
    size_t s = h & slot_mask_;
    while (uint32_t k = slots_[s]) {
      if (keys_[k - 1] == h) {
        for (uint32_t e = offsets_[k - 1]; e < offsets_[k]; ++e) acc[entry_lang_[e]] += entry_delta_[e];
        return;
      }
      s = (s + 1) & slot_mask_;
    }
  });
  if (ngrams) *ngrams = n;
  std::vector<double> out(labels_.size(), 0.0);
  if (n == 0) return out;
  for (size_t l = 0; l < out.size(); ++l) out[l] = double(unseen_[l]) + double(acc[l]) / 16.0 / double(n);
  return out;
}

LangIdPrediction LangIdModel::predict(std::string_view text, size_t max_bytes) const {
  if (max_bytes && text.size() > max_bytes) {
    size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // code point start
    text = text.substr(0, cut);
  }
  LangIdPrediction p;
  std::vector<double> s = scores(text, &p.ngrams);
  if (p.ngrams == 0 || s.empty()) return p;
  // Ties go to the smaller label index (labels are sorted).
  size_t best = 0;
  for (size_t l = 1; l < s.size(); ++l)
    if (s[l] > s[best]) best = l;
  double second = -1e300, z = 0;
  for (size_t l = 0; l < s.size(); ++l) {
    z += std::exp(kSharpness * (s[l] - s[best]));
    if (l != best) second = std::max(second, s[l]);
  }
  p.label = labels_[best];
  p.confidence = 1.0 / z;
  p.margin = s.size() > 1 ? s[best] - second : 0.0;
  return p;
}

// ---- file format -----------------------------------------------------------------------
// "KILNLID1", u32 min_n, u32 max_n, u32 L, L × (u16 length, bytes), f32 unseen[L], u32 V,
// u64 keys[V], u32 offsets[V+1], u16 entry_lang[E], u8 entry_delta[E]; little-endian,
// the whole zstd-compressed.

namespace {

template <class T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
template <class T>
void put_array(std::string& out, const std::vector<T>& v) {
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

struct Cursor {
  const std::string& path;
  std::string_view data;
  size_t at = 0;
  void need(size_t n) {
    if (data.size() - at < n) throw Error(cat(path, ": byte ", at, ": language-ID model is truncated"));
  }
  template <class T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, data.data() + at, sizeof v);
    at += sizeof v;
    return v;
  }
  template <class T>
  void get_array(std::vector<T>& v, size_t n) {
    if (n > (data.size() - at) / sizeof(T)) need(n * sizeof(T));
    v.resize(n);
    std::memcpy(v.data(), data.data() + at, n * sizeof(T));
    at += n * sizeof(T);
  }
};

}  // namespace

void LangIdModel::save(const std::string& path) const {
  std::string raw = "KILNLID1";
  put(raw, uint32_t(min_n_));
  put(raw, uint32_t(max_n_));
  put(raw, uint32_t(labels_.size()));
  for (auto& l : labels_) {
    put(raw, uint16_t(l.size()));
    raw += l;
  }
  put_array(raw, unseen_);
  put(raw, uint32_t(keys_.size()));
  put_array(raw, keys_);
  put_array(raw, offsets_);
  put_array(raw, entry_lang_);
  put_array(raw, entry_delta_);
  std::string packed(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress(packed.data(), packed.size(), raw.data(), raw.size(), 19);
  if (ZSTD_isError(n)) throw Error(cat(path, ": zstd: ", ZSTD_getErrorName(n)));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(packed.data(), std::streamsize(n));
  if (!out.flush()) throw Error(cat(path, ": cannot write the model"));
}

LangIdModel LangIdModel::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(cat(path, ": cannot open language-ID model"));
  std::string packed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  unsigned long long size = ZSTD_getFrameContentSize(packed.data(), packed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1ull << 32))
    throw Error(cat(path, ": not a zstd-compressed language-ID model"));
  std::string raw(size, '\0');
  size_t n = ZSTD_decompress(raw.data(), raw.size(), packed.data(), packed.size());
  if (ZSTD_isError(n) || n != size) throw Error(cat(path, ": corrupt language-ID model (zstd)"));
  Cursor c{path, raw};
  c.need(8);
  if (raw.compare(0, 8, "KILNLID1") != 0) throw Error(cat(path, ": byte 0: expected magic KILNLID1"));
  c.at = 8;
  LangIdModel m;
  m.min_n_ = int(c.get<uint32_t>());
  m.max_n_ = int(c.get<uint32_t>());
  if (m.min_n_ < 1 || m.max_n_ < m.min_n_ || m.max_n_ > 8) throw Error(cat(path, ": bad n-gram orders"));
  uint32_t L = c.get<uint32_t>();
  for (uint32_t i = 0; i < L; ++i) {
    uint16_t len = c.get<uint16_t>();
    c.need(len);
    m.labels_.emplace_back(raw.substr(c.at, len));
    c.at += len;
  }
  c.get_array(m.unseen_, L);
  uint32_t V = c.get<uint32_t>();
  c.get_array(m.keys_, V);
  c.get_array(m.offsets_, size_t(V) + 1);
  uint32_t E = m.offsets_.back();
  for (size_t i = 0; i < V; ++i)
    if (m.offsets_[i] > m.offsets_[i + 1]) throw Error(cat(path, ": offsets not increasing at n-gram ", i));
  c.get_array(m.entry_lang_, E);
  c.get_array(m.entry_delta_, E);
  for (uint16_t l : m.entry_lang_)
    if (l >= L) throw Error(cat(path, ": entry names language ", l, " of ", L));
  m.build_index();
  return m;
}

// ---- training from files ---------------------------------------------------------------

namespace {

// Calls fn(label, text) for every labelled record of the inputs.
template <class Fn>
void for_each_labelled(const LangIdTrainInputs& inputs, Fn&& fn) {
  ReaderOptions ro;
  ro.format = InputFormat::kJsonl;
  ro.text_field = inputs.text_field;
  for (const auto& path : inputs.paths) {
    auto reader = DocumentReader::open(path, ro);
    Record r;
    while (reader->next(r)) {
      DocumentReader::decode(r, ro);
      if (r.rejected()) throw Error(r.reject_message);
      const std::string* raw = r.doc.field(inputs.label_field);
      if (!raw) continue;
      if (raw->size() < 2 || raw->front() != '"' || raw->back() != '"' || raw->find('\\') != std::string::npos)
        throw Error(cat(path, ":", r.doc.source_line, ": field '", inputs.label_field, "' must be a plain JSON string"));
      fn(std::string_view(*raw).substr(1, raw->size() - 2), r.doc.text);
    }
  }
}

}  // namespace

LangIdModel train_langid(const LangIdTrainInputs& inputs, const LangIdTrainOptions& options) {
  LangIdTrainer trainer(options);
  for_each_labelled(inputs, [&](std::string_view label, const std::string& text) { trainer.add(label, text); });
  if (trainer.num_labels() == 0) throw Error(cat("langid: no labelled records (field '", inputs.label_field, "')"));
  return trainer.finish();
}

LangIdEvaluation evaluate_langid(const LangIdModel& model, const LangIdTrainInputs& inputs, size_t max_bytes) {
  std::vector<std::pair<std::string, std::string>> rows;
  for_each_labelled(inputs, [&](std::string_view label, const std::string& text) { rows.emplace_back(label, text); });
  LangIdEvaluation e;
  auto start = std::chrono::steady_clock::now();
  for (auto& [label, text] : rows) {
    ++e.docs;
    e.correct += model.predict(text, max_bytes).label == label;
  }
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return e;
}

std::string default_langid_model_path() {
  if (const char* env = std::getenv("KILN_LANGID_MODEL")) return env;
  return std::string(KILN_SOURCE_DIR) + "/data/models/langid.kiln";
}

// ---- stage -----------------------------------------------------------------------------

namespace {

class LangIdStage final : public Stage {
 public:
  LangIdStage(const LangIdStageOptions& o, std::shared_ptr<const LangIdModel> model) : o_(o), model_(std::move(model)) {}
  std::string_view name() const override { return "langid"; }
  std::vector<std::pair<std::string, double>> thresholds() const override {
    return {{"lang_confidence", o_.min_confidence}};
  }
  Verdict process(Document& doc, StageState*) const override {
    LangIdPrediction p = model_->predict(doc.text, o_.max_bytes);
    doc.set_attribute("lang", json_quote(p.label));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", p.confidence);
    doc.set_attribute("lang_confidence", buf);
    if (o_.mode == FilterMode::kTag) return Verdict::keep();
    if (p.confidence < o_.min_confidence) return Verdict::drop("langid_low_confidence");
    if (!o_.languages.empty() && std::find(o_.languages.begin(), o_.languages.end(), p.label) == o_.languages.end())
      return Verdict::drop("langid_not_wanted");
    return Verdict::keep();
  }

 private:
  LangIdStageOptions o_;
  std::shared_ptr<const LangIdModel> model_;
};

// A language the model cannot predict would silently drop every document ("en" for "eng"
// did exactly that): refuse it, naming the labels that look like it.
void check_languages(const LangIdModel& model, const std::vector<std::string>& languages, const std::string& where) {
  const auto& labels = model.labels();
  for (const std::string& lang : languages) {
    if (std::find(labels.begin(), labels.end(), lang) != labels.end()) continue;
    std::string similar;
    for (const std::string& label : labels) {
      if (lang.empty() || label.compare(0, std::min(lang.size(), size_t(2)), lang, 0, 2) != 0) continue;
      if (similar.size() > 60) {
        similar += ", ...";
        break;
      }
      similar += (similar.empty() ? "" : ", ") + label;
    }
    throw Error(cat(where, "language '", lang, "' is not one of the model's ", labels.size(),
                    " labels (ISO 639-3 codes such as 'eng'", similar.empty() ? "" : "; close: " + similar, ")"));
  }
}

std::shared_ptr<const LangIdModel> load_stage_model(const LangIdStageOptions& options) {
  std::string path = options.model_path.empty() ? default_langid_model_path() : options.model_path;
  return std::make_shared<const LangIdModel>(LangIdModel::load(path));
}

}  // namespace

std::unique_ptr<Stage> make_langid_stage(const LangIdStageOptions& options) {
  auto model = load_stage_model(options);
  check_languages(*model, options.languages, "langid: ");
  return std::make_unique<LangIdStage>(options, std::move(model));
}

void register_langid_stages(StageRegistry& registry) {
  registry.add({"langid",
                "character n-gram language ID: attributes lang, lang_confidence; drops below "
                "min_confidence or outside languages=[...]; model=PATH; mode=drop|tag",
                [](const StageConfig& c) {
                  LangIdStageOptions o;
                  std::string mode = c.get_string("mode", "drop");
                  if (mode == "tag") o.mode = FilterMode::kTag;
                  else if (mode != "drop") throw Error(cat(c.where("mode"), ": mode must be \"drop\" or \"tag\""));
                  o.model_path = c.get_string("model", "");
                  o.min_confidence = c.get_double("min_confidence", o.min_confidence);
                  if (!(o.min_confidence >= 0 && o.min_confidence <= 1))
                    throw Error(cat(c.where("min_confidence"), ": min_confidence must be in [0, 1]"));
                  o.languages = c.get_strings("languages", o.languages);
                  int64_t max_bytes = c.get_int("max_bytes", int64_t(o.max_bytes));
                  if (max_bytes < 0) throw Error(cat(c.where("max_bytes"), ": max_bytes must not be negative"));
                  o.max_bytes = size_t(max_bytes);
                  auto model = load_stage_model(o);
                  check_languages(*model, o.languages, c.where("languages") + ": ");
                  return std::make_unique<LangIdStage>(o, std::move(model));
                }});
}

}  // namespace kiln
