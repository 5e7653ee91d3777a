#include "curate/report.h"

#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <map>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "corpus/text.h"

namespace kiln {
namespace {

std::string esc(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fmt(double v, const char* spec = "%.1f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

std::string human(uint64_t n) {
  if (n >= 10'000'000'000ull) return fmt(double(n) / 1e9, "%.0fG");
  if (n >= 10'000'000) return fmt(double(n) / 1e6, "%.0fM");
  if (n >= 10'000) return fmt(double(n) / 1e3, "%.0fk");
  return std::to_string(n);
}

const char* kColors[] = {"#3b7dd8", "#e07b39", "#5aa469", "#a05195"};

struct Series {
  std::string name;
  std::vector<double> values;
};

// Horizontal bar chart: one row per label, one thin bar per series. `marker_row` draws a
// dashed line above that row (a threshold between buckets); -1 for none.
std::string bar_chart(const std::string& title, const std::vector<std::string>& labels, const std::vector<Series>& series,
                      const std::string& unit, int marker_row = -1, const std::string& marker_label = "") {
  const int label_w = 170, bar_w = 460, value_w = 130;
  const int bar_h = series.size() > 1 ? 9 : 16, row_h = bar_h * int(series.size()) + 8;
  const int legend_h = series.size() > 1 ? 20 : 0;
  const int width = label_w + bar_w + value_w, height = int(labels.size()) * row_h + legend_h + 28;
  double top = 0;
  for (auto& s : series)
    for (double v : s.values) top = std::max(top, v);
  if (top <= 0) top = 1;
  std::string svg = cat("<figure><figcaption>", esc(title), "</figcaption><svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"", width,
                        "\" height=\"", height, "\" viewBox=\"0 0 ", width, " ", height, "\" role=\"img\" aria-label=\"",
                        esc(title), "\">");
  int y0 = 6;
  if (legend_h) {
    int x = label_w;
    for (size_t s = 0; s < series.size(); ++s) {
      svg += cat("<rect x=\"", x, "\" y=\"", y0, "\" width=\"12\" height=\"12\" fill=\"", kColors[s % 4], "\"/>");
      svg += cat("<text x=\"", x + 16, "\" y=\"", y0 + 11, "\" font-size=\"12\">", esc(series[s].name), "</text>");
      x += 24 + 8 * int(series[s].name.size());
    }
    y0 += legend_h;
  }
  for (size_t r = 0; r < labels.size(); ++r) {
    int y = y0 + int(r) * row_h;
    svg += cat("<text x=\"", label_w - 8, "\" y=\"", y + row_h / 2 + 4, "\" text-anchor=\"end\" font-size=\"12\">",
               esc(labels[r]), "</text>");
    for (size_t s = 0; s < series.size(); ++s) {
      double v = r < series[s].values.size() ? series[s].values[r] : 0;
      double w = v > 0 ? std::max(1.0, bar_w * v / top) : 0;
      int by = y + 4 + int(s) * bar_h;
      svg += cat("<rect class=\"bar\" x=\"", label_w, "\" y=\"", by, "\" width=\"", fmt(w), "\" height=\"", bar_h - 1,
                 "\" fill=\"", kColors[s % 4], "\"><title>", esc(series[s].name), " ", esc(labels[r]), ": ",
                 fmt(v, "%.0f"), unit, "</title></rect>");
      if (v > 0)
        svg += cat("<text x=\"", label_w + int(w) + 4, "\" y=\"", by + bar_h - 2, "\" font-size=\"10\" fill=\"#555\">",
                   top < 100 && v != std::floor(v) ? fmt(v, "%.2f") : human(uint64_t(v + 0.5)), "</text>");
    }
  }
  if (marker_row >= 0) {
    int y = y0 + marker_row * row_h;
    svg += cat("<line x1=\"", label_w - 60, "\" x2=\"", label_w + bar_w, "\" y1=\"", y, "\" y2=\"", y,
               "\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/><text x=\"", label_w + bar_w + 4, "\" y=\"", y + 4,
               "\" font-size=\"11\" fill=\"#c00\">", esc(marker_label), "</text>");
  }
  return svg + "</svg></figure>";
}

std::vector<std::string> log_labels(size_t n) {
  std::vector<std::string> labels;
  for (size_t k = 0; k < n; ++k)
    labels.push_back(k == 0 ? "0" : human(uint64_t(1) << (k - 1)) + "–" + human((uint64_t(1) << k) - 1));
  return labels;
}

size_t used_buckets(const LengthHistogram& a, const LengthHistogram& b, size_t& first) {
  size_t last = 0;
  first = a.buckets.size();
  for (size_t k = 0; k < a.buckets.size(); ++k)
    if (a.buckets[k] || b.buckets[k]) {
      last = k;
      first = std::min(first, k);
    }
  return first == a.buckets.size() ? 0 : last + 1;
}

std::string length_chart(const std::string& title, const LengthHistogram& before, const LengthHistogram& after,
                         const char* before_name, const char* after_name) {
  size_t first;
  size_t end = used_buckets(before, after, first);
  if (end == 0) return "";
  auto labels = log_labels(end);
  labels.erase(labels.begin(), labels.begin() + long(first));
  Series a{before_name, {}}, b{after_name, {}};
  for (size_t k = first; k < end; ++k) {
    a.values.push_back(double(before.buckets[k]));
    b.values.push_back(double(after.buckets[k]));
  }
  return bar_chart(title, labels, {a, b}, " docs");
}

std::string attribute_chart(const std::string& name, const AttributeSummary& a, const std::map<std::string, double>& thresholds) {
  std::string html;
  if (!a.categories.empty()) {
    std::vector<std::pair<std::string, std::array<uint64_t, 2>>> rows(a.categories.begin(), a.categories.end());
    std::stable_sort(rows.begin(), rows.end(), [](auto& x, auto& y) { return x.second[0] + x.second[1] > y.second[0] + y.second[1]; });
    if (rows.size() > 25) rows.resize(25);
    std::vector<std::string> labels;
    Series kept{"kept", {}}, dropped{"dropped", {}};
    for (auto& [k, v] : rows) {
      labels.push_back(k);
      kept.values.push_back(double(v[0]));
      dropped.values.push_back(double(v[1]));
    }
    html += bar_chart(name + " (documents per value)", labels, {kept, dropped}, " docs");
  }
  if (a.numeric_count[0] + a.numeric_count[1] > 0) {
    auto t = thresholds.find(name);
    if (a.in_unit_range()) {
      std::vector<std::string> labels;
      Series kept{"kept", {}}, dropped{"dropped", {}};
      int marker = -1;
      for (size_t b = 0; b < AttributeSummary::kUnitBins; ++b) {
        double lo = double(b) / AttributeSummary::kUnitBins, hi = double(b + 1) / AttributeSummary::kUnitBins;
        labels.push_back(fmt(lo, "%.2f") + "–" + fmt(hi, "%.2f"));
        kept.values.push_back(double(a.unit_bins[0][b]));
        dropped.values.push_back(double(a.unit_bins[1][b]));
        if (t != thresholds.end() && marker < 0 && t->second <= hi) marker = int(b) + (t->second > lo ? 1 : 0);
      }
      html += bar_chart(name + " (histogram, min " + fmt(a.min, "%.3g") + ", max " + fmt(a.max, "%.3g") + ")", labels,
                        {kept, dropped}, " docs", marker, t != thresholds.end() ? "threshold " + fmt(t->second, "%.3g") : "");
    } else {
      html += length_chart(name + " (|value|, log buckets; min " + fmt(a.min, "%.3g") + ", max " + fmt(a.max, "%.3g") + ")",
                           a.log_bins[0], a.log_bins[1], "kept", "dropped");
    }
  }
  return html;
}

std::string funnel(const RunStats& s) {
  std::vector<std::string> labels = {"read"};
  Series docs{"documents", {double(s.docs_read)}}, bytes{"text MB", {double(s.bytes_read) / 1e6}};
  uint64_t d = s.docs_read, b = s.bytes_read;
  uint64_t unreadable = 0, unreadable_bytes = 0;
  for (auto& [k, v] : s.read_rejects) unreadable += v.docs, unreadable_bytes += v.bytes;
  if (unreadable) {
    d -= unreadable;
    labels.push_back("readable");
    docs.values.push_back(double(d));
    bytes.values.push_back(double(b) / 1e6);
  }
  for (auto& stage : s.stages) {
    d -= stage.docs_dropped;
    b -= stage.bytes_dropped;
    labels.push_back("after " + stage.name);
    docs.values.push_back(double(d));
    bytes.values.push_back(double(b) / 1e6);
  }
  return bar_chart("Documents through the stages", labels, {docs}, " docs") +
         bar_chart("Text megabytes through the stages", labels, {bytes}, " MB");
}

// Duplicate clusters from a `kiln dedup` run: how many clusters of each size, and what
// was removed as exact and as near duplicates.
std::string dedup_section(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (parser.parse(json).get(e) != simdjson::SUCCESS) return "";
  auto u64 = [&](const char* key) {
    uint64_t v = 0;
    return e[key].get_uint64().get(v) == simdjson::SUCCESS ? v : 0;
  };
  std::vector<std::pair<uint64_t, uint64_t>> sizes;
  simdjson::dom::object histogram;
  if (e["cluster_sizes"].get_object().get(histogram) == simdjson::SUCCESS)
    for (auto [size, count] : histogram) sizes.push_back({std::stoull(std::string(size)), count.get_uint64().value_unsafe()});
  std::sort(sizes.begin(), sizes.end());
  std::string h = "<h2>Duplicate clusters</h2>";
  h += cat("<p>", u64("docs"), " documents; ", u64("num_clusters"), " clusters holding ", u64("docs_in_clusters"),
           " documents; removed ", u64("docs_removed_exact"), " exact duplicates (", u64("bytes_removed_exact"), " bytes) and ",
           u64("docs_removed_near"), " near duplicates (", u64("bytes_removed_near"), " bytes).</p>");
  // Sizes above 2^k are grouped into power-of-two buckets to keep the chart short.
  std::map<uint64_t, uint64_t> buckets;
  for (auto [size, count] : sizes) buckets[size <= 8 ? size : uint64_t(1) << std::bit_width(size - 1)] += count;
  std::vector<std::string> labels;
  Series clusters{"clusters", {}};
  for (auto [size, count] : buckets) {
    labels.push_back(size <= 8 ? std::to_string(size) : cat(size / 2 + 1, "–", size));
    clusters.values.push_back(double(count));
  }
  if (!labels.empty()) h += bar_chart("Clusters by size (documents per cluster)", labels, {clusters}, " clusters");
  return h;
}

}  // namespace

std::string RunInfo::to_json() const {
  std::string o = "{\"command\":";
  append_json_string(o, command);
  o += ",\"recipe\":";
  append_json_string(o, recipe_text);
  return o + "}";
}

RunInfo RunInfo::from_json(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  std::string_view command, recipe;
  if (parser.parse(json.data(), json.size()).get(e) || e["command"].get_string().get(command) ||
      e["recipe"].get_string().get(recipe))
    throw Error("run.json: expected {\"command\", \"recipe\"}");
  return {std::string(command), std::string(recipe), ""};
}

std::string render_report_html(const RunStats& s, const RunInfo& info) {
  auto pct = [](uint64_t a, uint64_t b) { return fmt(b ? 100.0 * double(a) / double(b) : 0.0) + "%"; };
  std::string h =
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>kiln data card</title>"
      "<style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:64em;color:#222;padding:0 1em}"
      "table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:right}"
      "td:first-child,th:first-child,td.l{text-align:left}pre{background:#f5f5f5;padding:1em;overflow:auto;white-space:pre-wrap}"
      "figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}.kpi{display:flex;gap:2em;flex-wrap:wrap}"
      ".kpi div{background:#f3f6fb;padding:.6em 1em;border-radius:6px}.kpi b{display:block;font-size:1.4em}"
      "details{margin:.3em 0}summary{cursor:pointer}</style></head><body>";
  h += "<h1>kiln data card</h1><div class=\"kpi\">";
  h += cat("<div><b>", human(s.docs_kept), "</b>documents kept of ", human(s.docs_read), " (", pct(s.docs_kept, s.docs_read), ")</div>");
  h += cat("<div><b>", fmt(double(s.bytes_kept) / 1e6, "%.1f"), " MB</b>text kept of ", fmt(double(s.bytes_read) / 1e6, "%.1f"),
           " MB (", pct(s.bytes_kept, s.bytes_read), ")</div>");
  h += cat("<div><b>", s.num_inputs + s.num_inputs_resumed, "</b>input files (", s.num_inputs_resumed, " resumed)</div>");
  h += cat("<div><b>", fmt(s.seconds, "%.1f"), " s</b>wall time</div></div>");

  h += "<h2>Funnel</h2>" + funnel(s);
  h += "<h2>Drops by stage and reason</h2><table><tr><th>stage</th><th>reason</th><th>documents</th><th>bytes</th><th>share of input docs</th></tr>";
  for (auto& [k, v] : s.read_rejects)
    h += cat("<tr><td>read</td><td class=\"l\">", esc(k), "</td><td>", v.docs, "</td><td>", v.bytes, "</td><td>",
             pct(v.docs, s.docs_read), "</td></tr>");
  for (auto& stage : s.stages)
    for (auto& [k, v] : stage.reasons)
      h += cat("<tr><td>", esc(stage.name), "</td><td class=\"l\">", esc(k), "</td><td>", v.docs, "</td><td>", v.bytes,
               "</td><td>", pct(v.docs, s.docs_read), "</td></tr>");
  h += "</table><table><tr><th>stage</th><th>documents in</th><th>dropped</th><th>CPU seconds</th></tr>";
  for (auto& stage : s.stages)
    h += cat("<tr><td>", esc(stage.name), "</td><td>", stage.docs_in, "</td><td>", stage.docs_dropped, " (",
             pct(stage.docs_dropped, stage.docs_in), ")</td><td>", fmt(stage.seconds, "%.2f"), "</td></tr>");
  h += "</table>";

  h += "<h2>Document length</h2>" +
       length_chart("Characters per document, before the stages and kept", s.chars_read, s.chars_kept, "read", "kept");
  h += cat("<p>Median characters per document: read &lt; ", s.chars_read.quantile(0.5) + 1, ", kept &lt; ",
           s.chars_kept.quantile(0.5) + 1, ".</p>");

  // Demographic mentions ("demographics.<axis>.<group>" counts from the demographic_tags
  // stage): per axis, the mentions of each group and their share, kept vs dropped.
  std::map<std::string, std::vector<std::pair<std::string, const AttributeSummary*>>> axes;
  for (auto& [name, a] : s.attributes) {
    if (!name.starts_with("demographics.")) continue;
    size_t dot = name.find('.', 13);
    if (dot == std::string::npos) continue;
    axes[name.substr(13, dot - 13)].push_back({name.substr(dot + 1), &a});
  }
  if (!axes.empty()) {
    h += "<h2>Demographic representation</h2><p>Mentions of each group along each axis (term lists of the "
         "demographic_tags stage), in kept and dropped documents; the table gives each group's share of the "
         "axis's mentions before the stages dropped anything (all) and after (kept).</p>";
    for (auto& [axis, groups] : axes) {
      std::vector<std::string> labels;
      Series kept{"kept", {}}, dropped{"dropped", {}};
      double total_all = 0, total_kept = 0;
      for (auto& [group, a] : groups) total_all += a->sum[0] + a->sum[1], total_kept += a->sum[0];
      std::string table = "<table><tr><th>" + esc(axis) + "</th><th>mentions</th><th>share (all)</th><th>share (kept)</th><th>documents</th></tr>";
      for (auto& [group, a] : groups) {
        labels.push_back(group);
        kept.values.push_back(a->sum[0]);
        dropped.values.push_back(a->sum[1]);
        table += cat("<tr><td>", esc(group), "</td><td>", fmt(a->sum[0] + a->sum[1], "%.0f"), "</td><td>",
                     fmt(total_all > 0 ? 100 * (a->sum[0] + a->sum[1]) / total_all : 0), "%</td><td>",
                     fmt(total_kept > 0 ? 100 * a->sum[0] / total_kept : 0), "%</td><td>",
                     a->numeric_count[0] + a->numeric_count[1], "</td></tr>");
      }
      h += bar_chart("Mentions by group: " + axis, labels, {kept, dropped}, " mentions") + table + "</table>";
    }
  }
  if (!s.attributes.empty()) {
    h += "<h2>Attributes</h2><p>Values the stages attached, over documents at the end of their way through the "
         "stages (kept vs dropped). Dashed lines mark the thresholds stages applied.</p>";
    // dedup_cluster holds cluster ids, not a measure: the dedup section charts cluster sizes.
    for (auto& [name, a] : s.attributes)
      if (!name.starts_with("demographics.") && name != "dedup_cluster") h += attribute_chart(name, a, s.thresholds);
  }
  if (!info.dedup_stats_json.empty()) h += dedup_section(info.dedup_stats_json);
  if (!s.records_skipped.empty()) {
    h += "<h2>WARC records that are not documents</h2><table><tr><th>type</th><th>records</th></tr>";
    for (auto& [k, v] : s.records_skipped) h += cat("<tr><td>", esc(k), "</td><td>", v, "</td></tr>");
    h += "</table>";
  }
  if (!s.reject_samples.empty()) {
    h += "<h2>Sample rejects</h2><p>The first documents dropped for each reason, in input order; e-mail addresses, "
         "phone numbers and IP addresses replaced.</p>";
    for (auto& [key, samples] : s.reject_samples) {
      h += "<details><summary>" + esc(key) + cat(" (", samples.size(), " shown)</summary>");
      for (auto& sample : samples)
        h += "<p><b>" + esc(sample.id) + cat("</b> (", sample.bytes, " bytes)</p><pre>") + esc(sample.text) +
             (sample.bytes > sample.text.size() ? " …" : "") + "</pre>";
      h += "</details>";
    }
  }
  if (!s.input_errors.empty()) {
    h += "<h2>Input errors</h2><ul>";
    for (auto& e : s.input_errors) h += "<li>" + esc(e) + "</li>";
    h += "</ul>";
  }
  h += "<h2>Command</h2><pre>" + esc(info.command) + "</pre>";
  if (!info.recipe_text.empty()) h += "<h2>Recipe</h2><pre>" + esc(info.recipe_text) + "</pre>";
  return h + "</body></html>\n";
}

std::string render_report_json(const RunStats& s, const RunInfo& info) {
  return "{\"run\":" + info.to_json() + ",\"stats\":" + s.to_json() +
         (info.dedup_stats_json.empty() ? "" : ",\"dedup\":" + info.dedup_stats_json) + "}\n";
}

std::string write_report(const std::string& dir, const RunStats& stats, const RunInfo& given) {
  std::string html = dir + "/report.html";
  RunInfo info = given;
  if (info.dedup_stats_json.empty() && std::filesystem::exists(dir + "/dedup_stats.json"))
    info.dedup_stats_json = read_file(dir + "/dedup_stats.json");
  write_file(dir + "/run.json", info.to_json() + "\n");
  write_file(dir + "/report.json", render_report_json(stats, info));
  write_file(html, render_report_html(stats, info));
  return html;
}

std::string rewrite_report(const std::string& dir) {
  for (const char* f : {"stats.json", "run.json"})
    if (!std::filesystem::exists(dir + "/" + f)) throw Error(cat(dir, ": no ", f, " (not the output of a curate run?)"));
  RunStats stats = RunStats::from_json(read_file(dir + "/stats.json"));
  RunInfo info = RunInfo::from_json(read_file(dir + "/run.json"));
  return write_report(dir, stats, info);
}

}  // namespace kiln

namespace kiln {

std::string render_balance_html(const BalanceResult& r, const std::string& attribute, const std::string& command) {
  std::string h = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>kiln balance</title>"
                  "<style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:64em;color:#222;padding:0 1em}"
                  "table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:right}"
                  "td:first-child,th:first-child{text-align:left}pre{background:#f5f5f5;padding:1em;white-space:pre-wrap}"
                  "figcaption{font-weight:600}</style></head><body>";
  h += "<h1>Representation: " + esc(attribute) + "</h1>";
  std::vector<std::string> labels;
  Series before{"before", {}}, target{"target", {}}, after{"after", {}};
  for (const auto& g : r.groups) {
    labels.push_back(g.value);
    before.values.push_back(100 * g.share_before);
    target.values.push_back(100 * g.target_share);
    after.values.push_back(100 * g.share_after);
  }
  h += bar_chart("Share of units per value (%)", labels, {before, target, after}, "%");
  h += "<table><tr><th>value</th><th>documents before</th><th>share before</th><th>target</th><th>share after</th>"
       "<th>documents after</th><th>repeats</th></tr>";
  for (const auto& g : r.groups)
    h += cat("<tr><td>", esc(g.value), "</td><td>", g.docs_before, "</td><td>", fmt(100 * g.share_before, "%.2f"),
             "%</td><td>", fmt(100 * g.target_share, "%.2f"), "%</td><td>", fmt(100 * g.share_after, "%.2f"), "%</td><td>",
             g.docs_after, "</td><td>", fmt(g.repeats, "%.2f"), g.capped ? " (capped)" : "", "</td></tr>");
  h += cat("</table><p>Units before ", r.units_before, ", after ", r.units_after, ".</p>");
  h += "<h2>Command</h2><pre>" + esc(command) + "</pre></body></html>\n";
  return h;
}

}  // namespace kiln
