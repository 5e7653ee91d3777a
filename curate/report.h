// The run report: a self-contained HTML page (inline SVG, no scripts, no network) written
// next to a curate run's outputs: the document funnel through every stage, the drop
// reasons, the recipe and the exact command. The full data card (length, language and
// score histograms, dedup clusters, balance) grows from this page.
//
//   std::string path = write_run_report(recipe, stats, "kiln curate recipe.toml");
#pragma once

#include <string>

#include "curate/pipeline.h"
#include "curate/recipe.h"

namespace kiln {

// Renders the report page.
std::string render_run_report(const Recipe& recipe, const RunStats& stats, const std::string& command);
// Writes <output_dir>/report.html atomically; returns its path ("" when output is stdout).
std::string write_run_report(const Recipe& recipe, const RunStats& stats, const std::string& command);

}  // namespace kiln
