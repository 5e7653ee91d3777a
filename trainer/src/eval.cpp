#include "trainer/eval.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <regex>

#include "corpus/error.h"
#include "corpus/stream.h"

namespace kiln::trainer {

PerplexityResult evaluate_perplexity(GPT& model, const TokenSource& tokens, const PerplexityOptions& o,
                                     const EvalProgress& progress) {
  const int T = o.seq_len > 0 ? o.seq_len : model.config().max_seq_len;
  const int stride = o.stride > 0 ? o.stride : T;
  if (T > model.config().max_seq_len)
    throw Error(cat("eval: seq_len ", T, " exceeds the model's block_size ", model.config().max_seq_len));
  if (stride > T) throw Error(cat("eval: stride ", stride, " exceeds seq_len ", T, " (tokens would be skipped)"));
  const uint64_t n = tokens.size();
  if (n < 2) throw Error("eval: need at least 2 tokens");
  // Window at `begin` has inputs [begin, begin+len) and targets [begin+1, begin+len]; only
  // targets past the previous window's last are scored, so each token counts once.
  uint64_t scored_until = 0;  // targets with index <= scored_until are done
  const uint64_t last = o.max_tokens ? std::min<uint64_t>(n - 1, o.max_tokens) : n - 1;
  double nll = 0.0;
  uint64_t count = 0;
  std::vector<int32_t> window(T + 1), x(T), y(T), starts(T);
  for (uint64_t begin = 0; scored_until < last; begin += stride) {
    const int len = (int)std::min<uint64_t>(T, last - begin);
    tokens.read(begin, len + 1, window.data());
    for (int i = 0; i < len; i++) {
      x[i] = window[i];
      y[i] = begin + 1 + i > scored_until ? window[i + 1] : -1;
    }
    const bool masked = o.end_of_document >= 0;
    if (masked) doc_starts_from_end_token(x.data(), 1, len, o.end_of_document, starts.data());
    const float mean = model.forward(x.data(), y.data(), 1, len, AttentionMask::kCausal, masked ? starts.data() : nullptr);
    nll += (double)mean * model.num_targets();
    count += model.num_targets();
    scored_until = begin + len;
    if (progress) progress(scored_until, last);
  }
  PerplexityResult r;
  r.tokens = count;
  r.loss = nll / count;
  r.perplexity = std::exp(r.loss);
  r.bits_per_byte = nll / std::log(2.0) / (double)(o.num_bytes ? o.num_bytes : count);
  return r;
}

namespace {
// lm-evaluation-harness tasks/hellaswag/utils.py preprocess().
std::string harness_preprocess(std::string text) {
  while (!text.empty() && std::isspace((unsigned char)text.back())) text.pop_back();
  size_t start = 0;
  while (start < text.size() && std::isspace((unsigned char)text[start])) start++;
  text = text.substr(start);
  for (size_t p = 0; (p = text.find(" [title]", p)) != std::string::npos; p += 2) text.replace(p, 8, ". ");
  static const std::regex tag("\\[.*?\\]");
  text = std::regex_replace(text, tag, "");
  std::string out;  // Python's str.replace("  ", " "): one left-to-right pass, not repeated
  for (size_t i = 0; i < text.size(); i++) {
    out += text[i];
    if (text[i] == ' ' && i + 1 < text.size() && text[i + 1] == ' ') i++;
  }
  return out;
}

size_t utf8_chars(std::string_view s) {  // Python's len() of the decoded string
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string capitalize(std::string s) {  // Python str.capitalize() for ASCII
  if (!s.empty()) s[0] = (char)std::toupper((unsigned char)s[0]);
  for (size_t i = 1; i < s.size(); i++) s[i] = (char)std::tolower((unsigned char)s[i]);
  return s;
}
}  // namespace

std::vector<ChoiceItem> read_multiple_choice_jsonl(const std::string& path) {
  const std::string text = read_file(path);
  std::vector<ChoiceItem> items;
  simdjson::dom::parser parser;
  size_t line_start = 0, line_no = 0;
  while (line_start < text.size()) {
    size_t end = text.find('\n', line_start);
    if (end == std::string::npos) end = text.size();
    line_no++;
    const std::string_view line(text.data() + line_start, end - line_start);
    line_start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    simdjson::dom::element doc;
    if (parser.parse(line.data(), line.size()).get(doc))
      throw Error(cat(path, ":", line_no, ": expected a JSON object"));
    ChoiceItem item;
    std::string_view s;
    if (!doc["ctx"].get_string().get(s)) {
      item.context = std::string(s);
    } else {
      std::string_view a, b;
      if (doc["ctx_a"].get_string().get(a) || doc["ctx_b"].get_string().get(b))
        throw Error(cat(path, ":", line_no, ": expected \"ctx\" or \"ctx_a\" and \"ctx_b\""));
      item.context = std::string(a) + " " + capitalize(std::string(b));
      if (!doc["activity_label"].get_string().get(s)) item.context = std::string(s) + ": " + item.context;
    }
    item.context = harness_preprocess(item.context);
    simdjson::dom::array endings;
    if (doc["endings"].get_array().get(endings)) throw Error(cat(path, ":", line_no, ": expected an \"endings\" array"));
    for (auto e : endings) {
      if (e.get_string().get(s)) throw Error(cat(path, ":", line_no, ": endings must be strings"));
      item.endings.push_back(harness_preprocess(std::string(s)));
    }
    int64_t label;
    if (!doc["label"].get_int64().get(label)) item.label = (int)label;
    else if (!doc["label"].get_string().get(s)) item.label = std::stoi(std::string(s));
    else throw Error(cat(path, ":", line_no, ": expected a \"label\""));
    if (item.label < 0 || item.label >= (int)item.endings.size())
      throw Error(cat(path, ":", line_no, ": label ", item.label, " is not an index into ", item.endings.size(), " endings"));
    items.push_back(std::move(item));
  }
  return items;
}

double continuation_loglikelihood(GPT& model, const std::vector<int32_t>& context,
                                  const std::vector<int32_t>& continuation) {
  if (context.empty() || continuation.empty()) throw Error("loglikelihood: context and continuation must be non-empty");
  std::vector<int32_t> all = context;
  all.insert(all.end(), continuation.begin(), continuation.end());
  const size_t maxT = model.config().max_seq_len;
  // Inputs are all but the last token, keeping the last maxT of them (left truncation).
  const size_t len = std::min(all.size() - 1, maxT);
  const size_t first = all.size() - 1 - len;
  std::vector<int32_t> x(all.begin() + first, all.begin() + first + len), y(len, -1);
  for (size_t i = 0; i < len; i++)
    if (first + i + 1 >= context.size()) y[i] = all[first + i + 1];
  const float mean = model.forward(x.data(), y.data(), 1, (int)len);
  return -(double)mean * model.num_targets();
}

ChoiceResult evaluate_multiple_choice(GPT& model, const std::vector<ChoiceItem>& items, const Tokenize& tokenize,
                                      const EvalProgress& progress) {
  ChoiceResult r;
  size_t right = 0, right_norm = 0, done = 0;
  for (const ChoiceItem& item : items) {
    if (progress) progress(done++, items.size());
    const auto ctx = tokenize(item.context);
    int best = -1, best_norm = -1;
    double best_ll = -INFINITY, best_ll_norm = -INFINITY;
    for (size_t e = 0; e < item.endings.size(); e++) {
      const double ll = continuation_loglikelihood(model, ctx, tokenize(" " + item.endings[e]));
      const double ll_norm = ll / std::max<size_t>(1, utf8_chars(item.endings[e]));
      if (ll > best_ll) best_ll = ll, best = (int)e;  // ties: the first (numpy argmax)
      if (ll_norm > best_ll_norm) best_ll_norm = ll_norm, best_norm = (int)e;
    }
    right += best == item.label;
    right_norm += best_norm == item.label;
  }
  if (progress) progress(items.size(), items.size());
  r.items = items.size();
  r.acc = items.empty() ? 0 : (double)right / items.size();
  r.acc_norm = items.empty() ? 0 : (double)right_norm / items.size();
  return r;
}

namespace {
// RFC 4180 CSV: fields separated by commas, optionally quoted, "" inside quotes is a quote,
// quoted fields may span lines.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false, any = false;
  for (size_t i = 0; i < text.size(); i++) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', i++;
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') i++;
      rows.back().push_back(std::move(field));
      field.clear();
      rows.emplace_back();
      continue;
    } else {
      field += c;
    }
    any = true;
  }
  if (any && !(rows.back().empty() && field.empty())) rows.back().push_back(std::move(field));
  if (rows.back().empty()) rows.pop_back();
  return rows;
}
}  // namespace

std::vector<SentencePair> read_crows_pairs_csv(const std::string& path) {
  const auto rows = parse_csv(read_file(path));
  if (rows.empty()) throw Error(cat(path, ": empty CSV"));
  const auto& header = rows[0];
  const auto more = std::find(header.begin(), header.end(), "sent_more") - header.begin();
  const auto less = std::find(header.begin(), header.end(), "sent_less") - header.begin();
  if (more == (long)header.size() || less == (long)header.size())
    throw Error(cat(path, ": expected columns sent_more and sent_less in the header"));
  std::vector<SentencePair> pairs;
  for (size_t r = 1; r < rows.size(); r++) {
    if (rows[r].size() != header.size())
      throw Error(cat(path, ": row ", r, " has ", rows[r].size(), " fields, the header ", header.size()));
    pairs.push_back({rows[r][more], rows[r][less]});
  }
  return pairs;
}

BiasResult evaluate_bias_pairs(GPT& model, const std::vector<SentencePair>& pairs, const Tokenize& tokenize,
                               int32_t eot, const EvalProgress& progress) {
  // Without an end-of-text token to condition on, the first token is the context.
  auto loglik = [&](const std::string& s) {
    const auto t = tokenize(s);
    if (eot >= 0) return t.empty() ? 0.0 : continuation_loglikelihood(model, {eot}, t);
    if (t.size() < 2) return 0.0;
    return continuation_loglikelihood(model, {t[0]}, std::vector<int32_t>(t.begin() + 1, t.end()));
  };
  BiasResult r;
  double gap = 0.0;
  size_t stereo = 0;
  size_t done = 0;
  for (const auto& p : pairs) {
    if (progress) progress(done++, pairs.size());
    const double a = loglik(p.more), b = loglik(p.less);
    stereo += a > b;
    gap += std::fabs(a - b);
  }
  if (progress) progress(pairs.size(), pairs.size());
  r.pairs = pairs.size();
  r.pct_stereotype = pairs.empty() ? 0 : (double)stereo / pairs.size();
  r.mean_loglik_gap = pairs.empty() ? 0 : gap / pairs.size();
  return r;
}

}  // namespace kiln::trainer
