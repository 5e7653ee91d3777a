// `kiln eval`'s one library call and its JSON / HTML report.
#include <simdjson.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "trainer/checkpoint.h"
#include "trainer/codec.h"
#include "trainer/eval.h"

namespace kiln::trainer {

std::vector<LogPoint> read_train_log(const std::string& path) {
  const std::string text = read_file(path);
  std::vector<LogPoint> points;
  std::istringstream in(text);
  std::string line;
  simdjson::dom::parser parser;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    line_no++;
    if (line.empty() || line.rfind("step,", 0) == 0) continue;
    LogPoint p;
    if (line[0] == '{') {
      simdjson::dom::element doc;
      if (parser.parse(line).get(doc)) throw Error(cat(path, ":", line_no, ": expected a JSON object"));
      uint64_t step;
      double loss, val;
      if (doc["step"].get_uint64().get(step) || doc["loss"].get_double().get(loss))
        throw Error(cat(path, ":", line_no, ": expected \"step\" and \"loss\""));
      p.step = step;
      p.loss = loss;
      if (!doc["val_loss"].get_double().get(val)) p.val_loss = val;
    } else {  // step,loss,val_loss,...
      unsigned long long step;
      double loss;
      char val[64] = "";
      if (std::sscanf(line.c_str(), "%llu,%lf,%63[^,]", &step, &loss, val) < 2)
        throw Error(cat(path, ":", line_no, ": expected step,loss,val_loss,..."));
      p.step = step;
      p.loss = loss;
      if (*val) p.val_loss = std::atof(val);
    }
    points.push_back(p);
  }
  return points;
}

EvalReport run_eval(const EvalOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  EvalReport report;
  report.model_path = o.model_path;
  Checkpoint ck = read_any_checkpoint(o.model_path);
  auto backend = o.make_backend ? o.make_backend() : make_cpu_backend({.threads = o.threads});
  GPT model(ck.config, *backend);
  model.upload_params(ck.params);
  report.config = model.config();
  report.num_params = model.num_params();
  const TextCodec codec = load_codec(o.tokenizer_path);
  auto task_progress = [&](std::string_view task) -> EvalProgress {
    if (!o.on_progress) return {};
    return [&o, task](size_t done, size_t total) { o.on_progress(task, done, total); };
  };
  if (codec.vocab_size > model.config().vocab_size)
    throw Error(cat(o.model_path, ": vocabulary ", model.config().vocab_size, " is smaller than ", codec.name, "'s ",
                    codec.vocab_size, " (byte-level text needs 256; pass --tokenizer for a BPE model)"));
  if (!o.data_path.empty()) {
    PerplexityOptions p = o.perplexity;
    uint64_t text_bytes = 0;
    auto tokens = load_tokens(o.data_path, codec.encode, &text_bytes);
    // BPE tokens: bits per byte over the text's bytes (all but the first token are scored,
    // so this undercounts by that token's bytes). Byte-level: one byte per scored token, exact.
    if (!p.num_bytes && !o.tokenizer_path.empty() && !p.max_tokens) p.num_bytes = text_bytes;
    if (o.mask_documents && p.end_of_document < 0) {
      p.end_of_document = is_token_store(o.data_path) ? token_store_eot(o.data_path) : codec.eot;
      if (p.end_of_document < 0)
        throw Error(cat(o.data_path, ": document masking needs the token that ends each document (--eot)"));
    }
    report.perplexity = evaluate_perplexity(model, *tokens, p, task_progress("perplexity (tokens)"));
    report.has_perplexity = true;
  }
  if (!o.choice_path.empty()) {
    auto items = read_multiple_choice_jsonl(o.choice_path);
    if (o.limit && items.size() > o.limit) items.resize(o.limit);
    report.choice = evaluate_multiple_choice(model, items, codec.encode, task_progress("multiple choice"));
    report.has_choice = true;
  }
  if (!o.pairs_path.empty()) {
    auto pairs = read_crows_pairs_csv(o.pairs_path);
    if (o.limit && pairs.size() > o.limit) pairs.resize(o.limit);
    report.pairs = evaluate_bias_pairs(model, pairs, codec.encode, codec.eot, task_progress("bias pairs"));
    report.has_pairs = true;
  }
  if (!o.log_path.empty()) report.curve = read_train_log(o.log_path);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

namespace {
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if ((unsigned char)c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += c;
  }
  return out + "\"";
}
std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}
std::string num(double x, int digits = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}
}  // namespace

std::string EvalReport::to_json() const {
  std::ostringstream j;
  const GPTConfig& c = config;
  j << "{\"model\":" << json_string(model_path) << ",\"config\":{\"n_layer\":" << c.num_layers
    << ",\"n_head\":" << c.num_heads << ",\"n_embd\":" << c.channels << ",\"block_size\":" << c.max_seq_len
    << ",\"vocab_size\":" << c.vocab_size << ",\"padded_vocab_size\":" << c.padded_vocab()
    << ",\"position\":\"" << (c.position == PositionEncoding::kRope ? "rope" : "learned") << "\",\"norm\":\""
    << (c.norm == NormKind::kRmsNorm ? "rmsnorm" : "layernorm") << "\"},\"num_params\":" << num_params;
  if (has_perplexity)
    j << ",\"perplexity\":{\"loss\":" << num(perplexity.loss, 6) << ",\"perplexity\":" << num(perplexity.perplexity, 6)
      << ",\"bits_per_byte\":" << num(perplexity.bits_per_byte, 6) << ",\"tokens\":" << perplexity.tokens << "}";
  if (has_choice)
    j << ",\"multiple_choice\":{\"acc\":" << num(choice.acc, 6) << ",\"acc_norm\":" << num(choice.acc_norm, 6)
      << ",\"items\":" << choice.items << "}";
  if (has_pairs)
    j << ",\"bias_pairs\":{\"pct_stereotype\":" << num(pairs.pct_stereotype, 6)
      << ",\"mean_loglik_gap\":" << num(pairs.mean_loglik_gap, 6) << ",\"pairs\":" << pairs.pairs << "}";
  j << ",\"seconds\":" << num(seconds, 3) << "}";
  return j.str();
}

std::string EvalReport::to_html() const {
  std::ostringstream h;
  h << "<!doctype html><html><head><meta charset=\"utf-8\"><title>kiln eval: " << html_escape(model_path)
    << "</title><style>body{font-family:sans-serif;max-width:860px;margin:2em auto;color:#222}"
       "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}"
       "th{background:#f4f4f4}.train{stroke:#1f77b4}.val{stroke:#d62728}</style></head><body>"
    << "<h1>kiln eval</h1><p>model <code>" << html_escape(model_path) << "</code>, " << num_params
    << " parameters (L " << config.num_layers << ", NH " << config.num_heads << ", C " << config.channels << ", T "
    << config.max_seq_len << ", V " << config.vocab_size << ")</p><table><tr><th>metric</th><th>value</th></tr>";
  if (has_perplexity)
    h << "<tr><td>loss (nats/token)</td><td>" << num(perplexity.loss) << "</td></tr><tr><td>perplexity</td><td>"
      << num(perplexity.perplexity) << "</td></tr><tr><td>bits per byte</td><td>" << num(perplexity.bits_per_byte)
      << "</td></tr><tr><td>tokens scored</td><td>" << perplexity.tokens << "</td></tr>";
  if (has_choice)
    h << "<tr><td>multiple choice acc</td><td>" << num(choice.acc) << "</td></tr><tr><td>multiple choice acc_norm</td><td>"
      << num(choice.acc_norm) << "</td></tr><tr><td>items</td><td>" << choice.items << "</td></tr>";
  if (has_pairs)
    h << "<tr><td>pairs: prefers stereotype (ideal 0.5)</td><td>" << num(pairs.pct_stereotype)
      << "</td></tr><tr><td>pairs: mean |log-likelihood gap|</td><td>" << num(pairs.mean_loglik_gap)
      << "</td></tr><tr><td>pairs</td><td>" << pairs.pairs << "</td></tr>";
  h << "</table>";
  if (!curve.empty()) {
    // SVG loss curve: x = step, y = loss, train in blue, validation in red.
    const double W = 800, H = 300, pad = 40;
    double max_step = 1, lo = 1e30, hi = -1e30;
    for (const auto& p : curve) {
      max_step = std::max(max_step, (double)p.step);
      lo = std::min(lo, p.loss), hi = std::max(hi, p.loss);
      if (p.val_loss >= 0) lo = std::min(lo, p.val_loss), hi = std::max(hi, p.val_loss);
    }
    if (hi <= lo) hi = lo + 1;
    auto x = [&](double s) { return pad + (W - 2 * pad) * s / max_step; };
    auto y = [&](double l) { return H - pad - (H - 2 * pad) * (l - lo) / (hi - lo); };
    h << "<h2>training loss</h2><svg width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W << " " << H
      << "\"><rect x=\"" << pad << "\" y=\"" << pad << "\" width=\"" << W - 2 * pad << "\" height=\"" << H - 2 * pad
      << "\" fill=\"none\" stroke=\"#ccc\"/><polyline class=\"train\" fill=\"none\" stroke-width=\"1.5\" points=\"";
    for (const auto& p : curve) h << num(x(p.step), 1) << "," << num(y(p.loss), 1) << " ";
    h << "\"/><polyline class=\"val\" fill=\"none\" stroke-width=\"2\" points=\"";
    for (const auto& p : curve)
      if (p.val_loss >= 0) h << num(x(p.step), 1) << "," << num(y(p.val_loss), 1) << " ";
    h << "\"/><text x=\"" << pad << "\" y=\"" << pad - 8 << "\" font-size=\"12\">" << num(hi, 3)
      << "</text><text x=\"" << pad + 4 << "\" y=\"" << H - pad - 4 << "\" font-size=\"12\">" << num(lo, 3)
      << "</text><text x=\"" << pad << "\" y=\"" << H - pad + 16 << "\" font-size=\"12\">step 0</text><text x=\""
      << W - pad - 80 << "\" y=\"" << H - pad + 16 << "\" font-size=\"12\">step "
      << (uint64_t)max_step << "</text></svg><p><span style=\"color:#1f77b4\">train</span>, "
      << "<span style=\"color:#d62728\">validation</span></p>";
  }
  h << "<p>" << num(seconds, 1) << " s</p></body></html>\n";
  return h.str();
}

}  // namespace kiln::trainer
