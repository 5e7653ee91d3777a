// Language identification with a character n-gram naive Bayes classifier.
//
// Text is lowercased (utf8proc), cut into words at anything that is not a letter or a
// mark, and each word padded with one space on both sides; its character 2- to 4-grams
// (code points) and the 1-grams of non-ASCII letters are the features (" th", "the ", "é"). Training counts n-grams per
// language and keeps each language's most frequent ones (`max_ngrams_per_language`);
// prediction adds, for every n-gram of the text, log P(n-gram | language) under additive
// smoothing, so an n-gram a language never kept costs it the smoothed "unseen"
// probability. Scores are sparse sums: only (n-gram, language) pairs that were kept are
// stored, with the log-ratio to "unseen" quantised to 1/16 nat.
//
//   LangIdTrainer trainer;                         // LangIdTrainOptions: defaults below
//   trainer.add("eng", "The quick brown fox");
//   LangIdModel model = trainer.finish();
//   model.save("langid.kiln");
//   LangIdPrediction p = model.predict("Der schnelle braune Fuchs");  // p.label, p.confidence
//
// The shipped model (data/models/langid.kiln) is trained by
// scripts/fixtures/filters/train_langid_model.sh; see data/models/README.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "corpus/stage.h"
#include "filters/quality.h"

namespace kiln {

// max_ngrams_per_language and alpha were chosen on a dev split carved from the training
// split (K in 1000-4000, alpha in 0.01-0.5; benchmarks/filters/README.md), not on the test sets.
struct LangIdTrainOptions {
  int min_n = 1;                            // shortest character n-gram (1-grams of non-ASCII letters only)
  int max_n = 4;                            // longest (fastText's lid.176 uses minn/maxn 2-4)
  uint32_t max_ngrams_per_language = 1500;  // kept per language, most frequent first; ties by hash
  double alpha = 0.03;                      // additive smoothing per n-gram
  double vocabulary = 1 << 20;              // smoothing denominator: T + alpha * vocabulary
};

struct LangIdPrediction {
  std::string_view label;   // "" when the text has no letters
  double confidence = 0;    // softmax over languages of the mean per-n-gram score × sharpness
  double margin = 0;        // mean per-n-gram log-likelihood gap to the runner-up (nats)
  uint64_t ngrams = 0;      // features seen
};

class LangIdModel {
 public:
  LangIdModel() = default;
  // Reads a model written by save(). Throws Error naming the file on a bad or truncated model.
  static LangIdModel load(const std::string& path);
  void save(const std::string& path) const;  // zstd-compressed binary

  // Thread-safe. Looks at the first `max_bytes` bytes (0 = all), cut at a code point.
  LangIdPrediction predict(std::string_view text, size_t max_bytes = 0) const;
  // Scores of every label (mean log-likelihood per n-gram), for tests and ranking.
  std::vector<double> scores(std::string_view text, uint64_t* ngrams = nullptr) const;

  const std::vector<std::string>& labels() const { return labels_; }
  size_t num_entries() const { return entry_lang_.size(); }
  size_t num_ngrams() const { return keys_.size(); }
  int min_n() const { return min_n_; }
  int max_n() const { return max_n_; }

  // Softmax sharpness applied to mean per-n-gram scores for `confidence`.
  static constexpr double kSharpness = 8.0;

 private:
  friend class LangIdTrainer;
  void build_index();

  int min_n_ = 1, max_n_ = 4;
  std::vector<std::string> labels_;
  std::vector<float> unseen_;          // (L) log P(unseen n-gram | language)
  std::vector<uint64_t> keys_;         // (V) n-gram hashes, sorted
  std::vector<uint32_t> offsets_;      // (V+1) entries of keys_[i] are [offsets_[i], offsets_[i+1])
  std::vector<uint16_t> entry_lang_;   // (E) language index
  std::vector<uint8_t> entry_delta_;   // (E) log P(g|l) - unseen_[l], in 1/16 nat
  // Open-addressing index over keys_ built at load: slot → key index + 1 (0 = empty).
  std::vector<uint32_t> slots_;
  uint64_t slot_mask_ = 0;
};

class LangIdTrainer {
 public:
  explicit LangIdTrainer(LangIdTrainOptions options = {}) : o_(options) {}
  void add(std::string_view label, std::string_view text);
  LangIdModel finish() const;
  size_t num_labels() const { return labels_.size(); }

 private:
  LangIdTrainOptions o_;
  std::vector<std::string> labels_;
  std::unordered_map<std::string, size_t> label_index_;
  std::vector<std::unordered_map<uint64_t, uint32_t>> counts_;  // per label: n-gram hash → count
  std::vector<uint64_t> totals_;
};

// Calls `fn(hash)` for every character n-gram feature of `text` (the features above).
void for_each_langid_ngram(std::string_view text, int min_n, int max_n, const std::function<void(uint64_t)>& fn);

// Trains on JSONL inputs (compressed or not): `label_field` holds the label, the reader's
// text field the text. Records without a label are skipped.
struct LangIdTrainInputs {
  std::vector<std::string> paths;
  std::string label_field = "lang";
  std::string text_field = "text";
};
LangIdModel train_langid(const LangIdTrainInputs& inputs, const LangIdTrainOptions& options);

// Accuracy of `model` on labelled JSONL inputs (same fields as training), predicting on
// one thread; `seconds` times prediction only (records are read first).
struct LangIdEvaluation {
  uint64_t docs = 0;
  uint64_t correct = 0;
  double seconds = 0;
  double accuracy() const { return docs ? double(correct) / double(docs) : 0.0; }
};
LangIdEvaluation evaluate_langid(const LangIdModel& model, const LangIdTrainInputs& inputs, size_t max_bytes = 0);

// The shipped model: $KILN_LANGID_MODEL if set, else data/models/langid.kiln of the
// source tree this library was built from.
std::string default_langid_model_path();

struct LangIdStageOptions {
  FilterMode mode = FilterMode::kDrop;
  std::string model_path;              // "" = default_langid_model_path()
  double min_confidence = 0.5;         // below: reason "langid_low_confidence"
  std::vector<std::string> languages;  // keep only these labels (reason "langid_not_wanted"); empty = all
  size_t max_bytes = 4096;             // classify the first 4 KiB: enough for a confident guess
};
// Always writes attributes "lang" (label) and "lang_confidence"; in drop mode also drops.
std::unique_ptr<Stage> make_langid_stage(const LangIdStageOptions& options);

void register_langid_stages(StageRegistry& registry);

}  // namespace kiln
