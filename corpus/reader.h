// Document readers: JSONL, WARC/WET and plain text, compressed or not, as one stream of
// records.
//
// Reading is split in two so the pipeline can use every core: next() runs serially and
// cuts the input into records (lines, WARC records, files); decode() turns a record into
// a Document and is thread-safe, so JSON parsing happens on the workers.
//
//   ReaderOptions options;
//   options.text_field = "content";
//   auto reader = DocumentReader::open("crawl.jsonl.zst", options);
//   Record record;
//   while (reader->next(record)) {
//     DocumentReader::decode(record, options);
//     if (record.rejected()) log(record.reject_reason, record.reject_message);
//     else use(record.doc);
//   }
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "corpus/document.h"
#include "corpus/text.h"

namespace kiln {

enum class InputFormat {
  kAuto,   // from the name: .jsonl/.json/.ndjson → JSONL; .warc/.wet/.arc → WARC; else text
  kJsonl,  // one JSON object per line
  kWarc,   // WARC 1.0/1.1 (and WET); gzip per record or whole-file
  kText,   // one document per file
};

struct ReaderOptions {
  InputFormat format = InputFormat::kAuto;
  std::string text_field = "text";  // JSONL field holding the text
  std::string id_field = "id";      // JSONL field holding the id (string or number)
  Utf8Policy utf8 = Utf8Policy::kRepair;
  // Longest JSONL line or WARC record block kept in memory; longer ones are rejected
  // with reason "too_long" (their first bytes go to the rejects output).
  uint64_t max_record_bytes = uint64_t(64) << 20;
  // WARC record types that become documents; the others are counted as skipped.
  std::vector<std::string> warc_types = {"response", "conversion", "resource"};
};

InputFormat parse_input_format(const std::string& name);  // "auto", "jsonl", "warc", "text"
InputFormat detect_format(const std::string& path);        // by extension, ".gz"/".zst" ignored

struct Record {
  Document doc;
  std::string raw;            // JSONL: the line until decode() parses it
  bool needs_decode = false;  // set by next() for JSONL records
  // A record that is not a document (a WARC request or warcinfo): counted, not written.
  std::string skipped_type;
  // A rejected record: the reason (a counter name) and a message naming file and line.
  std::string reject_reason;
  std::string reject_message;

  bool rejected() const { return !reject_reason.empty(); }
  bool skipped() const { return !skipped_type.empty(); }
};

class DocumentReader {
 public:
  virtual ~DocumentReader() = default;
  // Opens `path` ("-" = stdin). Throws Error if it cannot be opened.
  static std::unique_ptr<DocumentReader> open(const std::string& path, const ReaderOptions& options);

  // The next record in input order; false at the end. Throws Error on a stream error
  // (truncated .zst/.gz, a WARC record that overruns the file), after every earlier
  // record was returned.
  virtual bool next(Record& record) = 0;
  // Completes a record next() left undecoded. Thread-safe.
  static void decode(Record& record, const ReaderOptions& options);

  // Replaces `batch` with the next records, at most max_records of them and stopping once
  // their raw bytes reach max_bytes (the cut depends on the input alone, so batches — and
  // whatever is derived from them — are the same for any thread count). Returns false once
  // the input is exhausted; the batch may still hold its last records. On a stream error the
  // records read before it stay in `batch` and the Error propagates.
  bool next_batch(std::vector<Record>& batch, size_t max_records, uint64_t max_bytes);

  virtual uint64_t file_offset() const = 0;  // compressed bytes consumed, for progress
  virtual uint64_t file_size() const = 0;    // 0 if unknown
};

// Expands globs ("data/*.jsonl.zst") and directories into a sorted, de-duplicated list of
// files; "-" stays as is. A directory stands for the document files below it (.jsonl,
// .ndjson, .warc, .wet, .arc, .txt, each optionally .gz/.zst), skipping hidden entries and
// folders named "rejects", so a curate output directory reads as its kept documents.
// Throws Error if a pattern matches nothing.
std::vector<std::string> expand_inputs(const std::vector<std::string>& patterns);

}  // namespace kiln
