#include "corpus/writer.h"

#include <cstdio>

#include "corpus/text.h"

namespace kiln {
namespace {

void append_key(std::string& out, std::string_view key, bool& first) {
  if (!first) out.push_back(',');
  first = false;
  append_json_string(out, key);
  out.push_back(':');
}

void append_fields(const Document& doc, std::string_view text_field, std::string& out, bool& first) {
  bool text_written = false;
  for (const auto& field : doc.fields) {
    if (field.raw_value.empty()) {  // the text marker
      if (text_written) continue;
      append_key(out, text_field, first);
      append_json_string(out, doc.text);
      text_written = true;
      continue;
    }
    append_key(out, field.name, first);
    out.append(field.raw_value);
  }
  if (!text_written) {
    append_key(out, text_field, first);
    append_json_string(out, doc.text);
  }
  if (!doc.attributes.empty()) {
    append_key(out, "attributes", first);
    out.push_back('{');
    bool first_attribute = true;
    for (const auto& a : doc.attributes) {
      append_key(out, a.name, first_attribute);
      out.append(a.raw_value);
    }
    out.push_back('}');
  }
}

}  // namespace

void append_jsonl(const Document& doc, std::string_view text_field, std::string& out) {
  bool first = true;
  out.push_back('{');
  append_fields(doc, text_field, out, first);
  out.append("}\n");
}

void append_rejected_jsonl(const Document& doc, std::string_view text_field, std::string_view stage,
                           std::string_view reason, std::string& out) {
  bool first = true;
  out.push_back('{');
  append_fields(doc, text_field, out, first);
  append_key(out, "reject", first);
  out.append("{\"stage\":");
  append_json_string(out, stage);
  out.append(",\"reason\":");
  append_json_string(out, reason);
  out.append("}}\n");
}

void append_unreadable_jsonl(const Record& record, std::string& out) {
  out.append("{\"reject\":{\"stage\":\"read\",\"reason\":");
  append_json_string(out, record.reject_reason);
  out.append(",\"file\":");
  append_json_string(out, repair_utf8(record.doc.source_path));
  out.append(",\"line\":");
  out.append(std::to_string(record.doc.source_line));
  out.append(",\"offset\":");
  out.append(std::to_string(record.doc.source_offset));
  out.append(",\"message\":");
  append_json_string(out, repair_utf8(record.reject_message));
  out.append("},\"raw\":");
  // Raw bytes that are not UTF-8 are stored repaired: JSON cannot hold them.
  const std::string& raw = record.raw.empty() ? record.doc.text : record.raw;
  append_json_string(out, is_valid_utf8(raw) ? raw : repair_utf8(raw));
  out.append("}\n");
}

ShardWriter::ShardWriter(std::string prefix, std::string extension, uint64_t shard_bytes)
    : prefix_(std::move(prefix)), extension_(std::move(extension)), shard_bytes_(shard_bytes) {}

std::string ShardWriter::shard_path(size_t index) const {
  char number[16];
  std::snprintf(number, sizeof number, "%04zu", index);
  return prefix_ + "-" + number + extension_;
}

void ShardWriter::write(std::string_view encoded, uint64_t decoded_bytes) {
  if (encoded.empty()) return;
  if (open_ && open_decoded_ >= shard_bytes_) {
    open_->commit();
    done_.push_back(open_->path());
    open_.reset();
  }
  if (!open_) {
    open_ = std::make_unique<AtomicFile>(shard_path(done_.size()));
    open_decoded_ = 0;
  }
  open_->write(encoded);
  open_decoded_ += decoded_bytes;
  encoded_total_ += encoded.size();
}

std::vector<std::string> ShardWriter::commit() {
  if (open_) {
    open_->commit();
    done_.push_back(open_->path());
    open_.reset();
  }
  return done_;
}

}  // namespace kiln
