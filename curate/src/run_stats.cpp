#include "curate/run_stats.h"

#include <re2/re2.h>
#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <functional>

#include "corpus/error.h"
#include "corpus/text.h"

namespace kiln {

// ---- histograms ----------------------------------------------------------------------

void LengthHistogram::add(uint64_t value) {
  size_t k = value == 0 ? 0 : size_t(std::bit_width(value));
  ++buckets[std::min(k, buckets.size() - 1)];
}

void LengthHistogram::merge(const LengthHistogram& o) {
  for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
}

uint64_t LengthHistogram::total() const {
  uint64_t t = 0;
  for (auto b : buckets) t += b;
  return t;
}

uint64_t LengthHistogram::quantile(double q) const {
  uint64_t n = total();
  if (n == 0) return 0;
  uint64_t target = uint64_t(q * double(n - 1)) + 1, seen = 0;
  for (size_t k = 0; k < buckets.size(); ++k) {
    seen += buckets[k];
    if (seen >= target) return k == 0 ? 0 : (uint64_t(1) << k) - 1;
  }
  return 0;
}

void AttributeSummary::add_number(double v, int dropped) {
  if (!std::isfinite(v)) return;
  if (numeric_count[0] + numeric_count[1] == 0) {
    min = max = v;
  } else {
    min = std::min(min, v);
    max = std::max(max, v);
  }
  ++numeric_count[size_t(dropped)];
  sum[size_t(dropped)] += v;
  if (v >= 0 && v <= 1) ++unit_bins[size_t(dropped)][std::min(kUnitBins - 1, size_t(v * kUnitBins))];
  log_bins[size_t(dropped)].add(uint64_t(std::min(std::fabs(v), 1e18)));
}

void AttributeSummary::add_category(std::string_view v, int dropped) {
  auto it = categories.find(std::string(v));
  if (it == categories.end()) {
    if (categories.size() >= kMaxCategories) {
      ++categories["(other)"][size_t(dropped)];
      return;
    }
    it = categories.emplace(std::string(v), std::array<uint64_t, 2>{}).first;
  }
  ++it->second[size_t(dropped)];
}

void AttributeSummary::merge(const AttributeSummary& o) {
  for (auto& [k, v] : o.categories) {
    if (!categories.count(k) && categories.size() >= kMaxCategories) {
      categories["(other)"][0] += v[0];
      categories["(other)"][1] += v[1];
      continue;
    }
    categories[k][0] += v[0];
    categories[k][1] += v[1];
  }
  if (o.numeric_count[0] + o.numeric_count[1] > 0) {
    bool empty = numeric_count[0] + numeric_count[1] == 0;
    min = empty ? o.min : std::min(min, o.min);
    max = empty ? o.max : std::max(max, o.max);
  }
  for (int d = 0; d < 2; ++d) {
    numeric_count[d] += o.numeric_count[d];
    sum[d] += o.sum[d];
    for (size_t b = 0; b < kUnitBins; ++b) unit_bins[d][b] += o.unit_bins[d][b];
    log_bins[d].merge(o.log_bins[d]);
  }
}

// ---- RunStats ------------------------------------------------------------------------

void RunStats::merge(const RunStats& o) {
  num_inputs += o.num_inputs;
  num_inputs_resumed += o.num_inputs_resumed;
  docs_read += o.docs_read;
  docs_kept += o.docs_kept;
  docs_rejected += o.docs_rejected;
  bytes_read += o.bytes_read;
  bytes_kept += o.bytes_kept;
  for (auto& [k, v] : o.read_rejects) {
    read_rejects[k].docs += v.docs;
    read_rejects[k].bytes += v.bytes;
  }
  for (auto& [k, v] : o.records_skipped) records_skipped[k] += v;
  if (stages.size() < o.stages.size()) stages.resize(o.stages.size());
  for (size_t i = 0; i < o.stages.size(); ++i) {
    StageStats& s = stages[i];
    const StageStats& t = o.stages[i];
    if (s.name.empty()) s.name = t.name;
    s.docs_in += t.docs_in;
    s.bytes_in += t.bytes_in;
    s.docs_dropped += t.docs_dropped;
    s.bytes_dropped += t.bytes_dropped;
    s.seconds += t.seconds;
    for (auto& [k, v] : t.reasons) {
      s.reasons[k].docs += v.docs;
      s.reasons[k].bytes += v.bytes;
    }
  }
  chars_read.merge(o.chars_read);
  chars_kept.merge(o.chars_kept);
  for (auto& [k, v] : o.attributes) attributes[k].merge(v);
  for (auto& [k, v] : o.thresholds) thresholds[k] = v;
  for (auto& [k, v] : o.reject_samples) {
    auto& mine = reject_samples[k];
    for (auto& sample : v)
      if (mine.size() < kRejectSamples) mine.push_back(sample);
  }
  output_shards.insert(output_shards.end(), o.output_shards.begin(), o.output_shards.end());
  reject_shards.insert(reject_shards.end(), o.reject_shards.begin(), o.reject_shards.end());
  input_errors.insert(input_errors.end(), o.input_errors.begin(), o.input_errors.end());
  seconds += o.seconds;
}

void RunStats::add_attributes(const Document& doc, bool dropped) {
  if (doc.attributes.empty()) return;
  thread_local simdjson::dom::parser parser;
  int d = dropped ? 1 : 0;
  auto add_scalar = [&](const std::string& name, simdjson::dom::element e) {
    switch (e.type()) {
      case simdjson::dom::element_type::STRING: attributes[name].add_category(std::string_view(e), d); break;
      case simdjson::dom::element_type::BOOL: attributes[name].add_category(bool(e) ? "true" : "false", d); break;
      case simdjson::dom::element_type::INT64:
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::DOUBLE: attributes[name].add_number(double(e), d); break;
      default: break;
    }
  };
  std::function<void(const std::string&, simdjson::dom::element, int)> add = [&](const std::string& name,
                                                                                  simdjson::dom::element e, int depth) {
    if (e.type() != simdjson::dom::element_type::OBJECT) return add_scalar(name, e);
    if (depth == 3) return;
    for (auto [key, value] : simdjson::dom::object(e)) add(name + "." + std::string(key), value, depth + 1);
  };
  for (const auto& a : doc.attributes) {
    simdjson::dom::element e;
    if (parser.parse(a.raw_value).get(e) != simdjson::SUCCESS) continue;
    add(a.name, e, 0);
  }
}

void RunStats::add_reject_sample(const std::string& key, const Document& doc) {
  auto& samples = reject_samples[key];
  if (samples.size() >= kRejectSamples) return;
  // Cut at a character boundary near 400 bytes.
  size_t cut = std::min<size_t>(doc.text.size(), 400);
  while (cut < doc.text.size() && (static_cast<unsigned char>(doc.text[cut]) & 0xC0) == 0x80) ++cut;
  samples.push_back({doc.id, scrub_pii(doc.text.substr(0, cut)), doc.text.size()});
}

namespace {

void append_reasons(std::string& out, const std::map<std::string, ReasonCount>& reasons) {
  out += '{';
  bool first = true;
  for (auto& [k, v] : reasons) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, k);
    out += cat(":{\"docs\":", v.docs, ",\"bytes\":", v.bytes, "}");
  }
  out += '}';
}

void append_strings(std::string& out, const std::vector<std::string>& items) {
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, repair_utf8(items[i]));
  }
  out += ']';
}

template <class Array>
void append_counts(std::string& out, const Array& counts, bool trim) {
  size_t n = counts.size();
  if (trim)
    while (n > 0 && counts[n - 1] == 0) --n;
  out += '[';
  for (size_t i = 0; i < n; ++i) out += cat(i ? "," : "", counts[i]);
  out += ']';
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

template <class Array>
void read_counts(simdjson::dom::element e, Array& out) {
  simdjson::dom::array a;
  if (e.get_array().get(a)) return;
  size_t i = 0;
  for (auto v : a)
    if (i < out.size()) out[i++] = v.get_uint64().value_unsafe();
}

}  // namespace

std::string RunStats::to_json() const {
  std::string out = "{";
  out += cat("\"num_inputs\":", num_inputs, ",\"num_inputs_resumed\":", num_inputs_resumed, ",\"docs_read\":", docs_read,
             ",\"docs_kept\":", docs_kept, ",\"docs_rejected\":", docs_rejected, ",\"bytes_read\":", bytes_read,
             ",\"bytes_kept\":", bytes_kept, ",\"seconds\":", number(seconds), ",\"read_rejects\":");
  append_reasons(out, read_rejects);
  out += ",\"records_skipped\":{";
  bool first = true;
  for (auto& [k, v] : records_skipped) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, k);
    out += cat(":", v);
  }
  out += "},\"stages\":[";
  for (size_t i = 0; i < stages.size(); ++i) {
    const StageStats& s = stages[i];
    if (i) out += ',';
    out += "{\"name\":";
    append_json_string(out, s.name);
    out += cat(",\"docs_in\":", s.docs_in, ",\"bytes_in\":", s.bytes_in, ",\"docs_dropped\":", s.docs_dropped,
               ",\"bytes_dropped\":", s.bytes_dropped, ",\"seconds\":", number(s.seconds), ",\"reasons\":");
    append_reasons(out, s.reasons);
    out += '}';
  }
  out += "],\"chars_read\":";
  append_counts(out, chars_read.buckets, true);
  out += ",\"chars_kept\":";
  append_counts(out, chars_kept.buckets, true);
  out += ",\"attributes\":{";
  first = true;
  for (auto& [name, a] : attributes) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, name);
    out += ":{\"categories\":{";
    bool first_category = true;
    for (auto& [k, v] : a.categories) {
      if (!first_category) out += ',';
      first_category = false;
      append_json_string(out, k);
      out += cat(":[", v[0], ",", v[1], "]");
    }
    out += cat("},\"numeric_count\":[", a.numeric_count[0], ",", a.numeric_count[1], "],\"sum\":[", number(a.sum[0]), ",",
               number(a.sum[1]), "],\"min\":", number(a.min),
               ",\"max\":", number(a.max), ",\"unit_bins\":[");
    append_counts(out, a.unit_bins[0], false);
    out += ',';
    append_counts(out, a.unit_bins[1], false);
    out += "],\"log_bins\":[";
    append_counts(out, a.log_bins[0].buckets, true);
    out += ',';
    append_counts(out, a.log_bins[1].buckets, true);
    out += "]}";
  }
  out += "},\"thresholds\":{";
  first = true;
  for (auto& [k, v] : thresholds) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, k);
    out += ":" + number(v);
  }
  out += "},\"reject_samples\":{";
  first = true;
  for (auto& [key, samples] : reject_samples) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, key);
    out += ":[";
    for (size_t i = 0; i < samples.size(); ++i) {
      out += i ? ",{\"id\":" : "{\"id\":";
      append_json_string(out, repair_utf8(samples[i].id));
      out += ",\"text\":";
      append_json_string(out, repair_utf8(samples[i].text));
      out += cat(",\"bytes\":", samples[i].bytes, "}");
    }
    out += "]";
  }
  out += "},\"output_shards\":";
  append_strings(out, output_shards);
  out += ",\"reject_shards\":";
  append_strings(out, reject_shards);
  out += ",\"input_errors\":";
  append_strings(out, input_errors);
  out += "}";
  return out;
}

RunStats RunStats::from_json(std::string_view json) {
  using namespace simdjson;
  dom::parser parser;
  dom::element root;
  if (auto e = parser.parse(json.data(), json.size()).get(root)) throw Error(cat("stats JSON: ", error_message(e)));
  RunStats s;
  auto u64 = [](dom::element e, const char* key) -> uint64_t {
    uint64_t v = 0;
    return e[key].get_uint64().get(v) == SUCCESS ? v : 0;
  };
  auto f64 = [](dom::element e, const char* key) -> double {
    double v = 0;
    return e[key].get_double().get(v) == SUCCESS ? v : 0.0;
  };
  auto reasons = [&](dom::element e, std::map<std::string, ReasonCount>& out) {
    dom::object o;
    if (e.get_object().get(o)) return;
    for (auto [k, v] : o) out[std::string(k)] = {u64(v, "docs"), u64(v, "bytes")};
  };
  auto strings = [](dom::element e, std::vector<std::string>& out) {
    dom::array a;
    if (e.get_array().get(a)) return;
    for (auto v : a) {
      std::string_view sv;
      if (!v.get_string().get(sv)) out.emplace_back(sv);
    }
  };
  auto field = [&](dom::element e, const char* key) {
    dom::element x;
    return e[key].get(x) == SUCCESS ? x : dom::element();
  };
  s.num_inputs = u64(root, "num_inputs");
  s.num_inputs_resumed = u64(root, "num_inputs_resumed");
  s.docs_read = u64(root, "docs_read");
  s.docs_kept = u64(root, "docs_kept");
  s.docs_rejected = u64(root, "docs_rejected");
  s.bytes_read = u64(root, "bytes_read");
  s.bytes_kept = u64(root, "bytes_kept");
  s.seconds = f64(root, "seconds");
  reasons(field(root, "read_rejects"), s.read_rejects);
  dom::object skipped;
  if (!root["records_skipped"].get_object().get(skipped))
    for (auto [k, v] : skipped) s.records_skipped[std::string(k)] = v.get_uint64().value_unsafe();
  dom::array stages;
  if (!root["stages"].get_array().get(stages)) {
    for (dom::element st : stages) {
      StageStats x;
      std::string_view name;
      if (!st["name"].get_string().get(name)) x.name = name;
      x.docs_in = u64(st, "docs_in");
      x.bytes_in = u64(st, "bytes_in");
      x.docs_dropped = u64(st, "docs_dropped");
      x.bytes_dropped = u64(st, "bytes_dropped");
      x.seconds = f64(st, "seconds");
      reasons(field(st, "reasons"), x.reasons);
      s.stages.push_back(std::move(x));
    }
  }
  read_counts(field(root, "chars_read"), s.chars_read.buckets);
  read_counts(field(root, "chars_kept"), s.chars_kept.buckets);
  dom::object attributes;
  if (!root["attributes"].get_object().get(attributes)) {
    for (auto [name, a] : attributes) {
      AttributeSummary x;
      dom::object categories;
      if (!a["categories"].get_object().get(categories))
        for (auto [k, v] : categories) {
          auto& c = x.categories[std::string(k)];
          read_counts(v, c);
        }
      read_counts(field(a, "numeric_count"), x.numeric_count);
      dom::array sums;
      if (!a["sum"].get_array().get(sums)) {
        size_t d = 0;
        for (auto v : sums)
          if (d < 2) x.sum[d++] = v.get_double().value_unsafe();
      }
      x.min = f64(a, "min");
      x.max = f64(a, "max");
      dom::array bins;
      if (!a["unit_bins"].get_array().get(bins)) {
        size_t d = 0;
        for (auto b : bins)
          if (d < 2) read_counts(b, x.unit_bins[d++]);
      }
      if (!a["log_bins"].get_array().get(bins)) {
        size_t d = 0;
        for (auto b : bins)
          if (d < 2) read_counts(b, x.log_bins[d++].buckets);
      }
      s.attributes[std::string(name)] = x;
    }
  }
  dom::object thresholds;
  if (!root["thresholds"].get_object().get(thresholds))
    for (auto [k, v] : thresholds) s.thresholds[std::string(k)] = v.get_double().value_unsafe();
  dom::object samples;
  if (!root["reject_samples"].get_object().get(samples)) {
    for (auto [key, list] : samples) {
      auto& out = s.reject_samples[std::string(key)];
      dom::array a;
      if (list.get_array().get(a)) continue;
      for (dom::element e : a) {
        std::string_view id, text;
        if (e["id"].get_string().get(id) != SUCCESS) id = {};
        if (e["text"].get_string().get(text) != SUCCESS) text = {};
        out.push_back({std::string(id), std::string(text), u64(e, "bytes")});
      }
    }
  }
  strings(field(root, "output_shards"), s.output_shards);
  strings(field(root, "reject_shards"), s.reject_shards);
  strings(field(root, "input_errors"), s.input_errors);
  return s;
}

std::string scrub_pii(std::string_view text) {
  // Deliberately broad: a report is read by people, so over-scrubbing is the safe error.
  static const RE2 email(R"([A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,})");
  static const RE2 ip(R"(\b(?:\d{1,3}\.){3}\d{1,3}\b)");
  static const RE2 phone(R"((?:\+?\d[\d\-. ()]{7,}\d))");
  std::string out(text);
  RE2::GlobalReplace(&out, email, "<EMAIL>");
  RE2::GlobalReplace(&out, ip, "<IP>");
  RE2::GlobalReplace(&out, phone, "<PHONE>");
  return out;
}

}  // namespace kiln
