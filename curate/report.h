// The data card: a self-contained HTML page (inline SVG, no scripts, no network) and the
// same figures as JSON, written next to a curate run's outputs:
//   - the funnel of documents and bytes through every stage, and drops by stage and reason
//   - characters per document before and after, as histograms
//   - every attribute stages attached: categorical ones (language) as bars, numeric ones
//     (quality and toxicity scores) as histograms of kept vs dropped, with the stage's
//     threshold drawn in
//   - sample rejected documents per reason, PII-scrubbed
//   - the recipe and the exact command
// `kiln report OUT_DIR` renders it again from stats.json and run.json.
//
//   RunInfo info{"kiln curate recipe.toml", recipe.text};
//   write_report("out/sample", stats, info);
#pragma once

#include <string>

#include "curate/balance.h"
#include "curate/run_stats.h"

namespace kiln {

struct RunInfo {
  std::string command;      // the exact command line
  std::string recipe_text;  // the recipe as written ("" for runs without one)
  // dedup_stats.json of a `kiln dedup` run in the same directory (cluster sizes), if any;
  // write_report and rewrite_report read it from the directory. Not saved in run.json.
  std::string dedup_stats_json;
  std::string to_json() const;
  static RunInfo from_json(std::string_view json);
};

std::string render_report_html(const RunStats& stats, const RunInfo& info);
std::string render_report_json(const RunStats& stats, const RunInfo& info);
// Writes report.html, report.json and run.json into `dir` atomically; returns the HTML path.
std::string write_report(const std::string& dir, const RunStats& stats, const RunInfo& info);
// Re-renders the report of a finished run from its stats.json and run.json.
std::string rewrite_report(const std::string& dir);

// The representation card of a rebalancing (`kiln balance`): each group's share before,
// its target and its share after, as a chart and a table. Self-contained HTML.
std::string render_balance_html(const BalanceResult& result, const std::string& attribute, const std::string& command);

}  // namespace kiln
