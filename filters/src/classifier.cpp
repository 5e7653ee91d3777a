#include "filters/classifier.h"

#include <utf8proc.h>
#include <zstd.h>
// Inlined: feature hashing calls xxh3 several times per word; through the shared library
// the calls cost more than the hashing. Same functions, same values.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>

#include "corpus/document.h"
#include "corpus/error.h"
#include "corpus/reader.h"
#include "corpus/text.h"
#include "filters/text_analysis.h"

namespace kiln {

namespace {

void append_lower(std::string& out, char32_t cp) {
  utf8proc_uint8_t buf[4];
  auto n = utf8proc_encode_char(utf8proc_tolower(utf8proc_int32_t(cp)), buf);
  out.append(reinterpret_cast<char*>(buf), size_t(n));
}

uint64_t mix(uint64_t a, uint64_t b) { return XXH3_64bits_withSeed(&b, sizeof b, a); }

}  // namespace

// h % d without a 64-bit division (~40 cycles, once per feature): Lemire, Kaser & Kurz,
// "Faster remainder by direct computation" (2019), the 64-bit form with a 128-bit magic
// number M = ceil(2^128 / d); exact for every 64-bit h (tested against %).
BucketModulus::BucketModulus(uint64_t divisor)
    : d(divisor), magic(~static_cast<unsigned __int128>(0) / divisor + 1) {}

uint64_t BucketModulus::operator()(uint64_t h) const {
  const unsigned __int128 low = magic * h;  // the fraction h/d, mod 1, in 128 bits
  const unsigned __int128 bottom = (static_cast<unsigned __int128>(static_cast<uint64_t>(low)) * d) >> 64;
  const unsigned __int128 top = static_cast<unsigned __int128>(static_cast<uint64_t>(low >> 64)) * d;
  return static_cast<uint64_t>((bottom + top) >> 64);
}

// Features: lowercased white-space tokens (as fastText splits), their n-grams up to
// word_ngrams, and character n-grams of "<token>" when char_max > 0; each hashed into
// `buckets`. Duplicates are kept (counts act as term frequency).
void TextClassifier::features(std::string_view text, std::vector<uint32_t>& out) const {
  out.clear();
  thread_local std::vector<uint64_t> tokens;
  thread_local std::string word, bracketed;
  thread_local std::vector<size_t> cp_starts;
  tokens.clear();
  const BucketModulus bucket(o_.buckets);
  auto flush = [&] {
    if (word.empty()) return;
    tokens.push_back(XXH3_64bits(word.data(), word.size()));
    if (o_.char_max > 0) {
      std::string& w = bracketed;
      w.assign(1, '<');
      w += word;
      w += '>';
      cp_starts.clear();
      for (size_t i = 0; i < w.size(); ++i)
        if ((static_cast<unsigned char>(w[i]) & 0xC0) != 0x80) cp_starts.push_back(i);
      cp_starts.push_back(w.size());
      size_t ncp = cp_starts.size() - 1;
      for (size_t i = 0; i < ncp; ++i)
        for (int n = o_.char_min; n <= o_.char_max && i + size_t(n) <= ncp; ++n) {
          if (n == 1 && (w[cp_starts[i]] == '<' || w[cp_starts[i]] == '>')) continue;
          uint64_t h = XXH3_64bits_withSeed(w.data() + cp_starts[i], cp_starts[i + size_t(n)] - cp_starts[i], 7);
          out.push_back(uint32_t(bucket(h)));
        }
    }
    word.clear();
  };
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {  // ASCII: utf8proc's lowercase of A-Z is the +32, of the rest the byte
      ++i;
      if (is_unicode_space(c)) flush();
      else word += char(c >= 'A' && c <= 'Z' ? c + 32 : c);
      continue;
    }
    char32_t cp = next_code_point(text, i);
    if (is_unicode_space(cp)) flush();
    else append_lower(word, cp);
  }
  flush();
  for (size_t t = 0; t < tokens.size(); ++t) {
    uint64_t h = tokens[t];
    out.push_back(uint32_t(bucket(h)));
    for (int n = 2; n <= o_.word_ngrams && t + size_t(n) <= tokens.size(); ++n) {
      h = mix(h, tokens[t + size_t(n) - 1]);
      out.push_back(uint32_t(bucket(h)));
    }
  }
}

std::vector<double> TextClassifier::probabilities(std::string_view text) const {
  thread_local std::vector<uint32_t> f;
  features(text, f);
  const size_t L = labels_.size();
  std::vector<double> z(bias_.begin(), bias_.end());
  if (!f.empty()) {
    double scale = 1.0 / double(f.size());
    thread_local std::vector<double> acc;
    acc.assign(L, 0.0);
    // The weight rows are scattered over (buckets x L) floats, tens of MB: fetch a few
    // features ahead, the adds are in the same order as without.
    constexpr size_t kAhead = 12;
    for (size_t k = 0; k < f.size(); ++k) {
      if (k + kAhead < f.size()) __builtin_prefetch(&weights_[size_t(f[k + kAhead]) * L]);
      const float* w = &weights_[size_t(f[k]) * L];
      for (size_t c = 0; c < L; ++c) acc[c] += w[c];
    }
    for (size_t c = 0; c < L; ++c) z[c] += acc[c] * scale;
  }
  double m = *std::max_element(z.begin(), z.end()), sum = 0;
  for (double& v : z) sum += (v = std::exp(v - m));
  for (double& v : z) v /= sum;
  return z;
}

ClassifierPrediction TextClassifier::predict(std::string_view text) const {
  std::vector<double> p = probabilities(text);
  size_t best = size_t(std::max_element(p.begin(), p.end()) - p.begin());  // ties: first label
  return {labels_[best], p[best]};
}

void TextClassifierTrainer::add(std::string_view label, std::string_view text) {
  auto it = std::find(labels_.begin(), labels_.end(), label);
  if (it == labels_.end()) {
    labels_.emplace_back(label);
    it = labels_.end() - 1;
  }
  examples_.emplace_back(uint32_t(it - labels_.begin()), std::string(text));
}

TextClassifier TextClassifierTrainer::train() const {
  if (labels_.size() < 2) throw Error("classifier: need at least two labels to train");
  TextClassifier m;
  m.o_ = o_;
  // Labels sorted so the model does not depend on input order.
  std::vector<std::string> sorted = labels_;
  std::sort(sorted.begin(), sorted.end());
  std::vector<uint32_t> remap(labels_.size());
  for (size_t i = 0; i < labels_.size(); ++i)
    remap[i] = uint32_t(std::find(sorted.begin(), sorted.end(), labels_[i]) - sorted.begin());
  m.labels_ = sorted;
  const size_t L = sorted.size();
  m.weights_.assign(size_t(o_.buckets) * L, 0.0f);
  m.bias_.assign(L, 0.0f);
  // Features once; order shuffled per epoch by a seeded generator.
  std::vector<std::vector<uint32_t>> feats(examples_.size());
  for (size_t i = 0; i < examples_.size(); ++i) m.features(examples_[i].second, feats[i]);
  std::vector<size_t> order(examples_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(o_.seed);
  const double total = double(o_.epochs) * double(examples_.size());
  double step = 0;
  std::vector<double> z(L);
  for (int epoch = 0; epoch < o_.epochs; ++epoch) {
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);  // Fisher-Yates
    for (size_t k : order) {
      double lr = o_.lr * (1.0 - step++ / total);
      const auto& f = feats[k];
      uint32_t y = remap[examples_[k].first];
      double scale = f.empty() ? 0.0 : 1.0 / double(f.size());
      for (size_t c = 0; c < L; ++c) {
        double acc = 0;
        for (uint32_t id : f) acc += m.weights_[size_t(id) * L + c];
        z[c] = m.bias_[c] + acc * scale;
      }
      double mx = *std::max_element(z.begin(), z.end()), sum = 0;
      for (double& v : z) sum += (v = std::exp(v - mx));
      for (size_t c = 0; c < L; ++c) {
        double g = z[c] / sum - (c == y ? 1.0 : 0.0);  // d loss / d logit
        m.bias_[c] -= float(lr * g);
        float d = float(lr * g * scale);
        for (uint32_t id : f) m.weights_[size_t(id) * L + c] -= d;
      }
    }
  }
  return m;
}

// ---- file format: "KILNCLS1", options, labels, bias, weights; zstd-compressed ----------

void TextClassifier::save(const std::string& path) const {
  std::string raw = "KILNCLS1";
  auto put = [&](const void* p, size_t n) { raw.append(static_cast<const char*>(p), n); };
  int32_t ints[5] = {int32_t(o_.buckets), o_.word_ngrams, o_.char_min, o_.char_max, int32_t(labels_.size())};
  put(ints, sizeof ints);
  for (auto& l : labels_) {
    uint16_t n = uint16_t(l.size());
    put(&n, 2);
    put(l.data(), n);
  }
  put(bias_.data(), bias_.size() * 4);
  put(weights_.data(), weights_.size() * 4);
  std::string packed(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress(packed.data(), packed.size(), raw.data(), raw.size(), 3);
  if (ZSTD_isError(n)) throw Error(cat(path, ": zstd: ", ZSTD_getErrorName(n)));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(packed.data(), std::streamsize(n));
  if (!out.flush()) throw Error(cat(path, ": cannot write the model"));
}

TextClassifier TextClassifier::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(cat(path, ": cannot open classifier model"));
  std::string packed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  unsigned long long size = ZSTD_getFrameContentSize(packed.data(), packed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1ull << 34))
    throw Error(cat(path, ": not a zstd-compressed classifier model"));
  std::string raw(size, '\0');
  if (ZSTD_decompress(raw.data(), raw.size(), packed.data(), packed.size()) != size)
    throw Error(cat(path, ": corrupt classifier model"));
  size_t at = 0;
  auto get = [&](void* p, size_t n) {
    if (raw.size() - at < n) throw Error(cat(path, ": byte ", at, ": classifier model is truncated"));
    std::memcpy(p, raw.data() + at, n);
    at += n;
  };
  char magic[8];
  get(magic, 8);
  if (std::memcmp(magic, "KILNCLS1", 8) != 0) throw Error(cat(path, ": byte 0: expected magic KILNCLS1"));
  int32_t ints[5];
  get(ints, sizeof ints);
  TextClassifier m;
  if (ints[0] <= 0 || ints[4] < 2 || ints[4] > 65535) throw Error(cat(path, ": bad classifier header"));
  m.o_.buckets = uint32_t(ints[0]);
  m.o_.word_ngrams = ints[1];
  m.o_.char_min = ints[2];
  m.o_.char_max = ints[3];
  for (int32_t i = 0; i < ints[4]; ++i) {
    uint16_t n;
    get(&n, 2);
    std::string l(n, '\0');
    get(l.data(), n);
    m.labels_.push_back(l);
  }
  m.bias_.resize(size_t(ints[4]));
  get(m.bias_.data(), m.bias_.size() * 4);
  m.weights_.resize(size_t(m.o_.buckets) * size_t(ints[4]));
  get(m.weights_.data(), m.weights_.size() * 4);
  return m;
}

// ---- inputs, evaluation ----------------------------------------------------------------

void read_labelled(const std::string& path, const std::string& label_field, const std::string& text_field,
                   const std::function<void(std::string_view, std::string_view)>& fn) {
  ReaderOptions ro;
  ro.format = InputFormat::kJsonl;
  ro.text_field = text_field;
  auto reader = DocumentReader::open(path, ro);
  Record r;
  while (reader->next(r)) {
    if (!r.raw.empty() && r.raw[0] != '{') {  // fastText line: __label__X text
      std::string_view line = r.raw;
      if (!line.starts_with("__label__"))
        throw Error(cat(path, ":", r.doc.source_line, ": expected a JSON object or a __label__ line"));
      size_t sp = line.find(' ');
      std::string_view label = line.substr(9, sp == std::string_view::npos ? std::string_view::npos : sp - 9);
      fn(label, sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1));
      continue;
    }
    DocumentReader::decode(r, ro);
    if (r.rejected()) throw Error(r.reject_message);
    const std::string* raw = r.doc.field(label_field);
    if (!raw) continue;
    std::string label = raw->size() >= 2 && raw->front() == '"' ? raw->substr(1, raw->size() - 2) : *raw;
    fn(label, r.doc.text);
  }
}

ClassifierEvaluation evaluate_classifier(const TextClassifier& model, const std::string& path,
                                         const std::string& label_field, const std::string& text_field) {
  std::vector<std::pair<std::string, std::string>> rows;
  read_labelled(path, label_field, text_field,
                [&](std::string_view l, std::string_view t) { rows.emplace_back(std::string(l), std::string(t)); });
  ClassifierEvaluation e;
  e.labels = model.labels();
  const size_t L = e.labels.size();
  std::vector<uint64_t> tp(L), fp(L), fn(L);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string_view> predicted;
  predicted.reserve(rows.size());
  for (auto& [label, text] : rows) predicted.push_back(model.predict(text).label);
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (size_t i = 0; i < rows.size(); ++i) {
    ++e.docs;
    size_t g = size_t(std::find(e.labels.begin(), e.labels.end(), rows[i].first) - e.labels.begin());
    size_t p = size_t(std::find(e.labels.begin(), e.labels.end(), predicted[i]) - e.labels.begin());
    if (g == p) ++e.correct, ++tp[g];
    else {
      ++fp[p];
      if (g < L) ++fn[g];
    }
  }
  for (size_t c = 0; c < L; ++c) {
    double prec = tp[c] + fp[c] ? double(tp[c]) / double(tp[c] + fp[c]) : 0.0;
    double rec = tp[c] + fn[c] ? double(tp[c]) / double(tp[c] + fn[c]) : 0.0;
    e.f1.push_back(prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0.0);
    e.macro_f1 += e.f1.back() / double(L);
  }
  return e;
}

// ---- stage -----------------------------------------------------------------------------

namespace {

class ClassifierStage final : public Stage {
 public:
  ClassifierStage(const ClassifierStageOptions& o, TextClassifier model)
      : o_(o), model_(std::move(model)), reason_("classifier_" + (o.target.empty() ? o.attribute : o.target)) {
    if (!o_.target.empty()) {
      auto it = std::find(model_.labels().begin(), model_.labels().end(), o_.target);
      if (it == model_.labels().end()) throw Error(cat(o_.model_path, ": the model has no label '", o_.target, "'"));
      target_ = size_t(it - model_.labels().begin());
    }
  }
  std::string_view name() const override { return "classifier"; }
  std::vector<std::pair<std::string, double>> thresholds() const override {
    return {{o_.attribute + ".score", o_.max_score}};
  }
  Verdict process(Document& doc, StageState*) const override {
    std::vector<double> p = model_.probabilities(doc.text);
    size_t best = size_t(std::max_element(p.begin(), p.end()) - p.begin());
    double score = o_.target.empty() ? p[best] : p[target_];
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", score);
    doc.set_attribute(o_.attribute, cat("{\"label\":", json_quote(model_.labels()[best]), ",\"score\":", buf, "}"));
    if (!o_.tag_only && score > o_.max_score) return Verdict::drop(reason_);
    return Verdict::keep();
  }

 private:
  ClassifierStageOptions o_;
  TextClassifier model_;
  std::string reason_;
  size_t target_ = 0;
};

}  // namespace

std::unique_ptr<Stage> make_classifier_stage(const ClassifierStageOptions& o) {
  return std::make_unique<ClassifierStage>(o, TextClassifier::load(o.model_path));
}

void register_classifier_stages(StageRegistry& registry) {
  registry.add({"classifier",
                "fastText-style linear classifier (kiln classify train): model=PATH, target=LABEL, "
                "max_score (drop when p(target) > max_score), attribute=NAME; mode=drop|tag",
                [](const StageConfig& c) {
                  ClassifierStageOptions o;
                  o.model_path = c.get_string("model", "");
                  if (o.model_path.empty()) throw Error(cat(c.where("model"), ": classifier needs model = \"PATH\""));
                  o.attribute = c.get_string("attribute", o.attribute);
                  o.target = c.get_string("target", "");
                  o.max_score = c.get_double("max_score", o.max_score);
                  std::string mode = c.get_string("mode", "drop");
                  if (mode == "tag") o.tag_only = true;
                  else if (mode != "drop") throw Error(cat(c.where("mode"), ": mode must be \"drop\" or \"tag\""));
                  return make_classifier_stage(o);
                }});
}

}  // namespace kiln
