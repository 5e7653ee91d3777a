// Evaluation: loss / perplexity / bits-per-byte, multiple choice (HellaSwag style) and a
// sentence-pair bias probe (CrowS-Pairs style).
//
//   PerplexityResult r = evaluate_perplexity(model, *val_tokens, {.seq_len = 256, .stride = 128});
//   auto items = read_multiple_choice_jsonl("hellaswag_validation_1000.jsonl");
//   ChoiceResult c = evaluate_multiple_choice(model, items, byte_tokens);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "trainer/data.h"
#include "trainer/model.h"

namespace kiln::trainer {

using Tokenize = std::function<std::vector<int32_t>(std::string_view)>;
// Called with (items or windows done, total) as an evaluation goes; may be empty.
using EvalProgress = std::function<void(size_t done, size_t total)>;

struct PerplexityOptions {
  int seq_len = 0;          // window length T (0 = block_size)
  int stride = 0;           // window step; < seq_len = sliding windows (every token scored once,
                            // with up to T tokens of context); 0 = seq_len (disjoint windows)
  uint64_t max_tokens = 0;  // score at most this many tokens (0 = all)
  uint64_t num_bytes = 0;   // UTF-8 bytes the scored tokens decode to, for bits-per-byte
                            // (0 = one byte per token, exact for byte-level tokens)
  int32_t end_of_document = -1;  // >= 0: the EOT ending each document; attention then stays
                                 // inside documents (as a model trained with document masking saw)
};

struct PerplexityResult {
  double loss = 0;           // mean negative log-likelihood, nats per token
  double perplexity = 0;     // exp(loss)
  double bits_per_byte = 0;  // total nats / ln 2 / bytes
  uint64_t tokens = 0;       // tokens scored
};

PerplexityResult evaluate_perplexity(GPT& model, const TokenSource& tokens, const PerplexityOptions& options,
                                     const EvalProgress& progress = {});

// One multiple-choice item: the context and candidate endings; label = index of the right one.
struct ChoiceItem {
  std::string context;
  std::vector<std::string> endings;
  int label = -1;
};

// Reads JSONL with "ctx" (or "ctx_a" + "ctx_b", optionally "activity_label"), "endings" and
// "label" (int or string), applying lm-evaluation-harness's HellaSwag preprocess
// (" [title]" -> ". ", other [bracketed] tags dropped, double spaces collapsed).
std::vector<ChoiceItem> read_multiple_choice_jsonl(const std::string& path);

struct ChoiceResult {
  double acc = 0;       // share of items whose right ending has the largest sum log-likelihood
  double acc_norm = 0;  // the same with log-likelihood / length of the ending in characters
  size_t items = 0;
};

// lm-evaluation-harness's definition: the continuation is " " + ending, scored given the
// context; contexts longer than block_size keep their last tokens.
ChoiceResult evaluate_multiple_choice(GPT& model, const std::vector<ChoiceItem>& items, const Tokenize& tokenize,
                                      const EvalProgress& progress = {});

// Sum of log-probabilities of `continuation` after `context` (tokens), as the harness's
// loglikelihood request. Exposed for tests.
double continuation_loglikelihood(GPT& model, const std::vector<int32_t>& context,
                                  const std::vector<int32_t>& continuation);

struct SentencePair {
  std::string more;  // the more stereotypical sentence (sent_more)
  std::string less;  // the less stereotypical one (sent_less)
};
// CrowS-Pairs CSV (columns sent_more, sent_less, ...; quoted fields with "" escapes).
std::vector<SentencePair> read_crows_pairs_csv(const std::string& path);

struct BiasResult {
  double pct_stereotype = 0;       // share of pairs whose `more` sentence is likelier (ideal 0.5)
  double mean_loglik_gap = 0;      // mean |loglik(more) - loglik(less)|, nats
  size_t pairs = 0;
};
// Whole-sentence log-likelihood (every token after the first), as lm-evaluation-harness's crows_pairs.
// Each sentence's log-likelihood: conditioned on `eot` (>= 0) and scored on all its tokens,
// as lm-evaluation-harness does; without an EOT, on its first token and scored on the rest.
BiasResult evaluate_bias_pairs(GPT& model, const std::vector<SentencePair>& pairs, const Tokenize& tokenize,
                               int32_t eot = -1, const EvalProgress& progress = {});

// ---- `kiln eval`: one call that loads a model, runs the requested evaluations and builds
// the report (JSON, and self-contained HTML with the training log's loss curve) ----
struct EvalOptions {
  std::string model_path;        // kiln or llm.c checkpoint
  std::string tokenizer_path;    // HF tokenizer.json for text inputs; "" = byte-level (see codec.h)
  std::string data_path;         // perplexity data (see load_tokens); "" = skip
  PerplexityOptions perplexity;
  // Document masking for perplexity: with perplexity.end_of_document < 0 the EOT is the
  // token store's, else the tokenizer's <|endoftext|> (an error when there is neither).
  bool mask_documents = false;
  // Progress of each task: ("perplexity" | "multiple choice" | "bias pairs", done, total).
  std::function<void(std::string_view task, size_t done, size_t total)> on_progress;
  std::string choice_path;       // multiple-choice JSONL (HellaSwag); "" = skip
  std::string pairs_path;        // CrowS-Pairs CSV; "" = skip
  size_t limit = 0;              // items per multiple-choice / pairs set (0 = all)
  std::string log_path;          // training log (CSV or JSONL from `kiln train`) for the loss curve
  int threads = 0;               // CPU threads (0 = all cores)
  std::function<std::unique_ptr<Backend>()> make_backend;  // empty = the CPU backend
};

struct LogPoint {
  uint64_t step = 0;
  double loss = 0;
  double val_loss = -1;  // < 0 where not measured
};

struct EvalReport {
  std::string model_path;
  GPTConfig config;
  size_t num_params = 0;
  bool has_perplexity = false, has_choice = false, has_pairs = false;
  PerplexityResult perplexity;
  ChoiceResult choice;
  BiasResult pairs;
  std::vector<LogPoint> curve;
  double seconds = 0;

  std::string to_json() const;
  std::string to_html() const;  // no external resources: inline CSS and an SVG loss curve
};

// Text is tokenized with options.tokenizer_path (byte-level without one); bits-per-byte of
// text data uses its byte count. Throws kiln::Error when the tokenizer's ids do not fit the
// model's vocabulary.
EvalReport run_eval(const EvalOptions& options);

// Reads a training log written by train() (CSV or JSONL).
std::vector<LogPoint> read_train_log(const std::string& path);

}  // namespace kiln::trainer
