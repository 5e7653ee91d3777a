// Flags shared by the data verbs (reader options, output options, threads) and the
// terminal progress line.
#pragma once

#include <functional>
#include <string>

#include "curate/cli/verb.h"
#include "curate/pipeline.h"

namespace kiln::cli {

void add_reader_flags(po::options_description& options);
ReaderOptions reader_options_from(const po::variables_map& values);

void add_output_flags(po::options_description& options);
void apply_output_flags(const po::variables_map& values, PipelineOptions& pipeline);

// A progress callback printing "files, docs/s, MB/s, ETA" on one stderr line, or an empty
// function when stderr is not a terminal.
std::function<void(const ProgressInfo&)> terminal_progress();

// Prints the run summary (kept, rejected by stage and reason, where outputs are).
void print_run_summary(const RunStats& stats, const std::string& output_dir);

}  // namespace kiln::cli
