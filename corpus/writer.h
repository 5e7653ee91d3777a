// Writing documents: JSONL serialisation and size-bounded, atomically written shards.
//
// A document is written with its kept input fields in input order (raw JSON, untouched),
// its text at the text field's original position, and the attributes stages added under
// "attributes". Dropped documents are written the same way with a "reject" object
// ({"stage", "reason"}) appended; records that never became documents (a malformed JSON
// line) are written as {"reject": {...}, "raw": "<the line>"}.
//
// ShardWriter takes already-encoded bytes (the pipeline compresses batches on its
// workers, each batch one zstd frame) and rolls to a new shard at a batch boundary once
// the current shard holds shard_bytes of uncompressed data. Shards are named
// `<prefix>-<NNNN><extension>` and appear under that name only once complete.
//
//   ShardWriter out("out/part-00000", ".jsonl.zst", 256 << 20);
//   out.write(encoded, decoded_size);
//   std::vector<std::string> shards = out.commit();
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/document.h"
#include "corpus/reader.h"
#include "corpus/stream.h"

namespace kiln {

// Appends one JSON line (with '\n') for `doc`. The text goes under `text_field` at the
// position its marker holds in doc.fields, or last if there is no marker.
void append_jsonl(const Document& doc, std::string_view text_field, std::string& out);
// Appends a rejected document: the document plus "reject": {"stage", "reason"}.
void append_rejected_jsonl(const Document& doc, std::string_view text_field, std::string_view stage,
                           std::string_view reason, std::string& out);
// Appends a record that could not be read as a document (reason and message from the reader).
void append_unreadable_jsonl(const Record& record, std::string& out);

class ShardWriter {
 public:
  ShardWriter(std::string prefix, std::string extension, uint64_t shard_bytes);
  // Appends encoded bytes holding `decoded_bytes` of JSONL; may first roll to a new shard.
  void write(std::string_view encoded, uint64_t decoded_bytes);
  // Completes the open shard; returns every shard written, in order.
  std::vector<std::string> commit();
  uint64_t bytes_written() const { return encoded_total_; }

 private:
  std::string shard_path(size_t index) const;
  std::string prefix_, extension_;
  uint64_t shard_bytes_;
  std::unique_ptr<AtomicFile> open_;
  uint64_t open_decoded_ = 0;
  uint64_t encoded_total_ = 0;
  std::vector<std::string> done_;
};

}  // namespace kiln
