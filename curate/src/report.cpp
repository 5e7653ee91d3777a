#include "curate/report.h"

#include <algorithm>
#include <cstdio>

#include "corpus/error.h"
#include "corpus/stream.h"

namespace kiln {
namespace {

std::string html_escape(std::string_view s) {
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

// Horizontal bars: one row per step of the funnel, width ∝ documents remaining.
std::string funnel_svg(const RunStats& s) {
  struct Row {
    std::string label;
    uint64_t docs, bytes;
  };
  std::vector<Row> rows;
  uint64_t readable = s.docs_read;
  for (auto& [k, v] : s.read_rejects) readable -= v.docs;
  rows.push_back({"read", s.docs_read, s.bytes_read});
  rows.push_back({"readable", readable, s.bytes_read});
  uint64_t docs = readable, bytes = s.bytes_read;
  for (auto& stage : s.stages) {
    docs -= stage.docs_dropped;
    bytes -= stage.bytes_dropped;
    rows.push_back({"after " + stage.name, docs, bytes});
  }
  const int row_h = 28, label_w = 200, bar_w = 520, width = label_w + bar_w + 180;
  int height = int(rows.size()) * row_h + 10;
  std::string svg = cat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", width, "\" height=\"", height,
                        "\" viewBox=\"0 0 ", width, " ", height, "\" role=\"img\" aria-label=\"document funnel\">");
  double top = double(std::max<uint64_t>(1, s.docs_read));
  for (size_t i = 0; i < rows.size(); ++i) {
    int y = int(i) * row_h + 5;
    double w = std::max(1.0, bar_w * double(rows[i].docs) / top);
    svg += cat("<text x=\"", label_w - 8, "\" y=\"", y + 18, "\" text-anchor=\"end\" font-size=\"13\">",
               html_escape(rows[i].label), "</text>");
    svg += cat("<rect class=\"bar\" x=\"", label_w, "\" y=\"", y + 4, "\" width=\"", fmt(w), "\" height=\"",
               row_h - 8, "\" fill=\"#3b7dd8\"/>");
    svg += cat("<text x=\"", label_w + int(w) + 6, "\" y=\"", y + 18, "\" font-size=\"12\">", rows[i].docs, " docs (",
               fmt(100.0 * double(rows[i].docs) / top), "%)</text>");
  }
  return svg + "</svg>";
}

}  // namespace

std::string render_run_report(const Recipe& recipe, const RunStats& s, const std::string& command) {
  std::string h = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>kiln run report</title>"
                  "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em;color:#222}"
                  "table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:right}"
                  "td:first-child,th:first-child{text-align:left}pre{background:#f5f5f5;padding:1em;overflow:auto}"
                  "</style></head><body><h1>kiln run report</h1>";
  h += cat("<p>", s.docs_read, " documents read, ", s.docs_kept, " kept, ", s.docs_rejected, " rejected; ",
           s.bytes_read, " text bytes read, ", s.bytes_kept, " kept; ", s.num_inputs + s.num_inputs_resumed,
           " input files (", s.num_inputs_resumed, " resumed); ", fmt(s.seconds, "%.2f"), " s.</p>");
  h += "<h2>Funnel</h2>" + funnel_svg(s);
  h += "<h2>Drops by stage and reason</h2><table><tr><th>stage</th><th>reason</th><th>docs</th><th>bytes</th></tr>";
  for (auto& [k, v] : s.read_rejects)
    h += cat("<tr><td>read</td><td>", html_escape(k), "</td><td>", v.docs, "</td><td>", v.bytes, "</td></tr>");
  for (auto& stage : s.stages)
    for (auto& [k, v] : stage.reasons)
      h += cat("<tr><td>", html_escape(stage.name), "</td><td>", html_escape(k), "</td><td>", v.docs, "</td><td>",
               v.bytes, "</td></tr>");
  h += "</table>";
  if (!s.records_skipped.empty()) {
    h += "<h2>WARC records that are not documents</h2><table><tr><th>type</th><th>records</th></tr>";
    for (auto& [k, v] : s.records_skipped) h += cat("<tr><td>", html_escape(k), "</td><td>", v, "</td></tr>");
    h += "</table>";
  }
  if (!s.input_errors.empty()) {
    h += "<h2>Input errors</h2><ul>";
    for (auto& e : s.input_errors) h += "<li>" + html_escape(e) + "</li>";
    h += "</ul>";
  }
  h += "<h2>Command</h2><pre>" + html_escape(command) + "</pre>";
  h += "<h2>Recipe</h2><pre>" + html_escape(recipe.text) + "</pre></body></html>\n";
  return h;
}

std::string write_run_report(const Recipe& recipe, const RunStats& stats, const std::string& command) {
  if (recipe.pipeline.output_dir == "-") return "";
  std::string path = recipe.pipeline.output_dir + "/report.html";
  write_file(path, render_run_report(recipe, stats, command));
  return path;
}

}  // namespace kiln
