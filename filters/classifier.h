// A fastText-style supervised text classifier: a linear softmax model over hashed
// features (lowercased word unigrams and bigrams, optionally character n-grams of words),
// trained by SGD with a linearly decaying learning rate, as `fasttext supervised` does,
// but without fastText's low-rank embedding layer (a direct feature × class weight table;
// for a handful of classes it is as small and needs no hidden dimension to tune).
//
//   TextClassifierTrainer trainer(ClassifierTrainOptions{});
//   trainer.add("toxic", "you are an idiot");
//   TextClassifier model = trainer.train();
//   model.save("tox.kiln");
//   ClassifierPrediction p = model.predict("have a nice day");   // p.label, p.probability
//
// Inputs for training and evaluation: JSONL with a label field, or fastText lines
// ("__label__X text").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/stage.h"

namespace kiln {

// Defaults chosen on a dev split carved from the Davidson training split (every fifth
// line; benchmarks/filters/README.md), never on its test split. The learning rate is
// large because features are averaged (1/n) straight into the logits.
struct ClassifierTrainOptions {
  uint32_t buckets = 1u << 21;     // hashed feature slots (fastText's -bucket is 2,000,000)
  int word_ngrams = 1;             // 1 = unigrams, 2 = + bigrams (fastText -wordNgrams)
  int char_min = 3, char_max = 5;  // character n-grams of "<word>" (fastText -minn/-maxn); 0 = none
  int epochs = 20;
  double lr = 8.0;                 // initial learning rate, decays linearly to 0
  uint64_t seed = 1;               // example order
};

// x % d for a fixed d without a division instruction (feature hashing into buckets).
struct BucketModulus {
  explicit BucketModulus(uint64_t divisor);  // divisor >= 1
  uint64_t operator()(uint64_t h) const;     // == h % divisor, for every h
  uint64_t d;
  unsigned __int128 magic;
};

struct ClassifierPrediction {
  std::string_view label;
  double probability = 0;
};

class TextClassifier {
 public:
  static TextClassifier load(const std::string& path);  // throws Error naming the file
  void save(const std::string& path) const;
  ClassifierPrediction predict(std::string_view text) const;      // thread-safe
  std::vector<double> probabilities(std::string_view text) const;  // per label, labels() order
  const std::vector<std::string>& labels() const { return labels_; }

 private:
  friend class TextClassifierTrainer;
  void features(std::string_view text, std::vector<uint32_t>& out) const;
  ClassifierTrainOptions o_;
  std::vector<std::string> labels_;
  std::vector<float> weights_;  // (buckets, L)
  std::vector<float> bias_;     // (L)
};

class TextClassifierTrainer {
 public:
  explicit TextClassifierTrainer(ClassifierTrainOptions options) : o_(options) {}
  void add(std::string_view label, std::string_view text);
  TextClassifier train() const;

 private:
  ClassifierTrainOptions o_;
  std::vector<std::string> labels_;
  std::vector<std::pair<uint32_t, std::string>> examples_;
};

// Labelled examples from JSONL (`label_field`, `text_field`) or fastText lines (any file
// whose first byte is not '{'): fn(label, text).
void read_labelled(const std::string& path, const std::string& label_field, const std::string& text_field,
                   const std::function<void(std::string_view, std::string_view)>& fn);

struct ClassifierEvaluation {
  uint64_t docs = 0, correct = 0;
  double macro_f1 = 0;
  double seconds = 0;  // prediction only, one thread
  std::vector<std::string> labels;
  std::vector<double> f1;  // per label
};
ClassifierEvaluation evaluate_classifier(const TextClassifier& model, const std::string& path,
                                         const std::string& label_field, const std::string& text_field);

struct ClassifierStageOptions {
  std::string model_path;
  std::string attribute = "classifier";  // attribute name: {"label": ..., "score": p(target)}
  std::string target;                    // label whose probability is the score ("" = the predicted one)
  double max_score = 1.0;                // drop when score > max_score (reason "classifier_<target>")
  bool tag_only = false;                 // mode = "tag": never drop
};
std::unique_ptr<Stage> make_classifier_stage(const ClassifierStageOptions& options);
void register_classifier_stages(StageRegistry& registry);

}  // namespace kiln
