// Flags shared by the data verbs (reader options, output options, threads) and the
// terminal progress line.
#pragma once

#include <functional>
#include <string>
#include <string_view>

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

// --mask-documents and --eot (kiln train, kiln eval): attention only within each document
// of a packed window, documents ending with EOT (by default the token store's or the
// tokenizer's <|endoftext|>).
void add_document_mask_flags(po::options_description& options);
// The --eot given, or -1; an error when it is negative or given without --mask-documents.
int explicit_end_of_document(const po::variables_map& values);

// "h:mm:ss" ("--:--" when unknown), for progress lines.
std::string format_duration(double seconds);

// For work counted in items (evaluation tasks): a callback printing "VERB: WHAT done/total,
// rate, ETA" on one stderr line, at most 5 times a second; empty when stderr is not a terminal.
std::function<void(std::string_view what, size_t done, size_t total)> terminal_item_progress(const char* verb);

// Prints the run summary (kept, rejected by stage and reason, where outputs are).
void print_run_summary(const RunStats& stats, const std::string& output_dir);

}  // namespace kiln::cli
