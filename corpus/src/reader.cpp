#include "corpus/reader.h"

#include <glob.h>
#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "corpus/error.h"
#include "corpus/line_reader.h"
#include "corpus/stream.h"

namespace kiln {
namespace fs = std::filesystem;

InputFormat parse_input_format(const std::string& name) {
  if (name == "auto") return InputFormat::kAuto;
  if (name == "jsonl") return InputFormat::kJsonl;
  if (name == "warc" || name == "wet") return InputFormat::kWarc;
  if (name == "text") return InputFormat::kText;
  throw Error(cat("unknown input format '", name, "': expected auto, jsonl, warc or text"));
}

InputFormat detect_format(const std::string& path) {
  std::string name = fs::path(path).filename().string();
  for (std::string_view ext : {".zst", ".zstd", ".gz"})
    if (name.ends_with(ext)) name.resize(name.size() - ext.size());
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  for (std::string_view ext : {".jsonl", ".json", ".ndjson"})
    if (name.ends_with(ext)) return InputFormat::kJsonl;
  for (std::string_view ext : {".warc", ".wet", ".wat", ".arc"})
    if (name.ends_with(ext)) return InputFormat::kWarc;
  if (path == "-") return InputFormat::kJsonl;
  return InputFormat::kText;
}

namespace {

// Applies the UTF-8 policy to a document's text; returns false if it was rejected.
bool check_text_utf8(Record& r, const ReaderOptions& options) {
  if (is_valid_utf8(r.doc.text)) return true;
  if (options.utf8 == Utf8Policy::kRepair) {
    r.doc.text = repair_utf8(r.doc.text);
    return true;
  }
  r.reject_reason = "invalid_utf8";
  r.reject_message = cat(r.doc.source_path, ": record at byte ", r.doc.source_offset, ": text is not valid UTF-8");
  return false;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool is_json_integer(std::string_view s) {
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  if (s.empty() || (s.size() > 1 && s.front() == '0')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Raw JSON of any value, validating scalars (ondemand is lazy and would not otherwise look).
simdjson::error_code raw_value(simdjson::ondemand::value& v, std::string_view& raw) {
  using namespace simdjson;
  ondemand::json_type type;
  if (auto e = v.type().get(type)) return e;
  switch (type) {
    case ondemand::json_type::object: {
      ondemand::object o;
      if (auto e = v.get_object().get(o)) return e;
      return o.raw_json().get(raw);
    }
    case ondemand::json_type::array: {
      ondemand::array a;
      if (auto e = v.get_array().get(a)) return e;
      return a.raw_json().get(raw);
    }
    case ondemand::json_type::string: {
      raw = trim_right(v.raw_json_token());
      std::string_view unused;
      return v.get_string().get(unused);
    }
    case ondemand::json_type::number: {
      raw = trim_right(v.raw_json_token());
      ondemand::number n;
      auto e = v.get_number().get(n);
      // Integers beyond 64 bits are valid JSON: keep them verbatim.
      return e == NUMBER_ERROR && is_json_integer(raw) ? SUCCESS : e;
    }
    case ondemand::json_type::boolean: {
      raw = trim_right(v.raw_json_token());
      bool unused;
      return v.get_bool().get(unused);
    }
    case ondemand::json_type::null: {
      raw = trim_right(v.raw_json_token());
      return v.is_null().error();
    }
  }
  return simdjson::INCORRECT_TYPE;
}

// The value of a JSON string token that raw_value() already validated.
std::string unquote(std::string_view raw) {
  thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string json(raw);
  simdjson::ondemand::document doc;
  std::string_view value;
  if (parser.iterate(json).get(doc) != simdjson::SUCCESS || doc.get_string().get(value) != simdjson::SUCCESS)
    return std::string(raw);
  return std::string(value);
}

void reject(Record& r, std::string reason, std::string message) {
  r.reject_reason = std::move(reason);
  r.reject_message = cat(r.doc.source_path, ":", r.doc.source_line, ": ", message);
}

void decode_jsonl(Record& r, const ReaderOptions& options) {
  using namespace simdjson;
  r.needs_decode = false;
  if (!is_valid_utf8(r.raw)) {
    if (options.utf8 == Utf8Policy::kReject) return reject(r, "invalid_utf8", "line is not valid UTF-8");
    r.raw = repair_utf8(r.raw);
  }
  thread_local ondemand::parser parser;
  thread_local std::string padded;
  padded.assign(r.raw);
  padded.reserve(r.raw.size() + SIMDJSON_PADDING);
  padded_string_view input(padded.data(), padded.size(), padded.capacity());

  auto fail = [&](error_code e, std::string_view what) {
    reject(r, "malformed_json", cat("malformed JSON (", what, "): ", error_message(e)));
  };
  ondemand::document json;
  if (auto e = parser.iterate(input).get(json)) return fail(e, "parse");
  ondemand::object object;
  if (auto e = json.get_object().get(object)) return fail(e, "expected an object");
  bool have_text = false;
  for (auto field_result : object) {
    ondemand::field field;
    if (auto e = std::move(field_result).get(field)) return fail(e, "field");
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return fail(e, "key");
    ondemand::value value = field.value();
    if (key == options.text_field) {
      std::string_view text;
      if (value.get_string().get(text) != SUCCESS) {
        return reject(r, "text_not_string", cat("field '", options.text_field, "' is not a string"));
      }
      r.doc.text.assign(text);
      r.doc.fields.push_back({std::string(key), std::string()});  // marks where the text goes
      have_text = true;
      continue;
    }
    if (key == "attributes") {
      ondemand::object attrs;
      if (value.get_object().get(attrs) == SUCCESS) {
        for (auto a : attrs) {
          ondemand::field af;
          if (auto e = std::move(a).get(af)) return fail(e, "attributes");
          std::string_view akey, araw;
          if (auto e = af.unescaped_key().get(akey)) return fail(e, "attributes key");
          ondemand::value av = af.value();
          if (auto e = raw_value(av, araw)) return fail(e, "attributes value");
          r.doc.attributes.push_back({std::string(akey), std::string(araw)});
        }
        continue;
      }
    }
    std::string_view raw;
    if (auto e = raw_value(value, raw)) return fail(e, std::string("field '") + std::string(key) + "'");
    if (key == options.id_field) r.doc.id = raw.front() == '"' ? unquote(raw) : std::string(raw);
    r.doc.fields.push_back({std::string(key), std::string(raw)});
  }
  const char* trailing = nullptr;
  if (json.current_location().get(trailing) == SUCCESS) return reject(r, "malformed_json", "malformed JSON: trailing content after the object");
  if (!have_text) return reject(r, "missing_text_field", cat("no '", options.text_field, "' field"));
  r.raw.clear();
}

// ---- JSONL ---------------------------------------------------------------------------

class JsonlReader final : public DocumentReader {
 public:
  JsonlReader(const std::string& path, const ReaderOptions& options)
      : path_(path), lines_(InputStream::open(path), options.max_record_bytes) {}

  bool next(Record& r) override {
    LineReader::Line line;
    for (;;) {
      if (!lines_.next(line)) return false;
      if (!trim_right(line.text).empty() || line.too_long) break;  // blank lines are not records
    }
    r = Record{};
    r.doc.source_path = path_;
    r.doc.source_line = line.number;
    r.doc.source_offset = line.offset;
    r.raw.assign(line.text);
    if (line.too_long) {
      reject(r, "too_long", cat("line of ", line.length, " bytes exceeds max_record_bytes"));
    } else {
      r.needs_decode = true;
    }
    return true;
  }
  uint64_t file_offset() const override { return const_cast<LineReader&>(lines_).stream().file_offset(); }
  uint64_t file_size() const override { return const_cast<LineReader&>(lines_).stream().file_size(); }

 private:
  std::string path_;
  LineReader lines_;
};

// ---- plain text: one document per file -----------------------------------------------

class TextReader final : public DocumentReader {
 public:
  TextReader(const std::string& path, const ReaderOptions& options)
      : path_(path), options_(options), in_(InputStream::open(path)) {}

  bool next(Record& r) override {
    if (done_) return false;
    done_ = true;
    r = Record{};
    r.doc.source_path = path_;
    r.doc.id = path_;
    std::vector<char> buf(1 << 16);
    uint64_t total = 0;
    while (size_t n = in_->read(buf.data(), buf.size())) {
      if (total + n <= options_.max_record_bytes) r.doc.text.append(buf.data(), n);
      total += n;
    }
    r.doc.fields.push_back({options_.id_field, json_quote(repair_utf8(path_))});
    r.doc.fields.push_back({options_.text_field, std::string()});
    if (total > options_.max_record_bytes) {
      r.raw = std::move(r.doc.text);
      reject(r, "too_long", cat("file of ", total, " bytes exceeds max_record_bytes"));
      return true;
    }
    check_text_utf8(r, options_);
    return true;
  }
  uint64_t file_offset() const override { return in_->file_offset(); }
  uint64_t file_size() const override { return in_->file_size(); }

 private:
  std::string path_;
  ReaderOptions options_;
  std::unique_ptr<InputStream> in_;
  bool done_ = false;
};

// ---- WARC ----------------------------------------------------------------------------

// Buffered decoded bytes with header-line and exact-length reads.
class ByteReader {
 public:
  explicit ByteReader(std::unique_ptr<InputStream> in) : in_(std::move(in)), buf_(1 << 16) {}
  InputStream& stream() { return *in_; }
  uint64_t offset() const { return offset_; }

  // A line without its "\r\n" or "\n"; false at end of input. Lines are capped at 64 KiB.
  bool read_line(std::string& line) {
    line.clear();
    for (;;) {
      if (pos_ == end_ && !fill()) return !line.empty();
      const char* s = buf_.data() + pos_;
      const void* nl = std::memchr(s, '\n', end_ - pos_);
      size_t n = nl ? size_t(static_cast<const char*>(nl) - s) : end_ - pos_;
      line.append(s, n);
      pos_ += n;
      offset_ += n;
      if (nl) {
        ++pos_;
        ++offset_;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return true;
      }
      if (line.size() > (1 << 16)) throw Error(cat(in_->path(), ": byte ", offset_, ": header line longer than 64 KiB"));
    }
  }
  // Appends up to n bytes to `out` (or drops them if out is null); returns the count.
  uint64_t read(uint64_t n, std::string* out) {
    uint64_t got = 0;
    while (got < n) {
      if (pos_ == end_ && !fill()) break;
      size_t k = size_t(std::min<uint64_t>(n - got, end_ - pos_));
      if (out) out->append(buf_.data() + pos_, k);
      pos_ += k;
      offset_ += k;
      got += k;
    }
    return got;
  }

 private:
  bool fill() {
    pos_ = 0;
    end_ = in_->read(buf_.data(), buf_.size());
    return end_ > 0;
  }
  std::unique_ptr<InputStream> in_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  uint64_t offset_ = 0;
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return trim_right(s);
}

struct Header {
  std::vector<std::pair<std::string, std::string>> entries;
  const std::string* get(std::string_view name) const {
    for (auto& [k, v] : entries)
      if (iequals(k, name)) return &v;
    return nullptr;
  }
};

// Splits an HTTP response block into its headers and body; decodes chunked bodies.
// Returns false if the block does not look like an HTTP response.
bool split_http(std::string_view block, Header& headers, std::string& body) {
  if (!block.starts_with("HTTP/")) return false;
  size_t end = block.find("\r\n\r\n");
  size_t sep = 4;
  if (end == std::string_view::npos) {
    end = block.find("\n\n");
    sep = 2;
  }
  if (end == std::string_view::npos) return false;
  std::string_view head = block.substr(0, end);
  size_t line_start = head.find('\n');
  while (line_start != std::string_view::npos) {
    size_t next = head.find('\n', line_start + 1);
    std::string_view line = head.substr(line_start + 1, next == std::string_view::npos ? next : next - line_start - 1);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos)
      headers.entries.emplace_back(std::string(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
    line_start = next;
  }
  std::string_view payload = block.substr(end + sep);
  const std::string* te = headers.get("Transfer-Encoding");
  if (te && te->find("chunked") != std::string::npos) {
    // Servers often lie; keep the raw payload if the chunk sizes do not add up.
    std::string decoded;
    size_t p = 0;
    bool ok = false;
    while (p < payload.size()) {
      size_t eol = payload.find("\r\n", p);
      if (eol == std::string_view::npos) break;
      size_t size = 0;
      auto hex = payload.substr(p, eol - p);
      size_t i = 0;
      for (; i < hex.size() && std::isxdigit(static_cast<unsigned char>(hex[i])); ++i)
        size = size * 16 + size_t(std::isdigit(static_cast<unsigned char>(hex[i])) ? hex[i] - '0' : (std::tolower(hex[i]) - 'a' + 10));
      if (i == 0) break;
      p = eol + 2;
      if (size == 0) {
        ok = true;
        break;
      }
      if (p + size > payload.size()) break;
      decoded.append(payload.substr(p, size));
      p += size + 2;
    }
    body = ok ? std::move(decoded) : std::string(payload);
  } else {
    body.assign(payload);
  }
  return true;
}

class WarcReader final : public DocumentReader {
 public:
  WarcReader(const std::string& path, const ReaderOptions& options)
      : path_(path), options_(options), in_(InputStream::open(path)) {}

  bool next(Record& r) override {
    std::string line;
    // Records are separated by blank lines; tolerate any number of them.
    uint64_t record_offset;
    do {
      record_offset = in_.offset();
      if (!in_.read_line(line)) return false;
    } while (trim(line).empty());
    if (!line.starts_with("WARC/")) {
      throw Error(cat(path_, ": byte ", record_offset, ": expected a WARC version line ('WARC/1.0'), found '",
                      repair_utf8(line.substr(0, 40)), "'"));
    }
    Header header;
    for (;;) {
      if (!in_.read_line(line))
        throw Error(cat(path_, ": WARC record at byte ", record_offset, ": input ends inside the header"));
      if (line.empty()) break;
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;  // folded or junk header line: ignore
      header.entries.emplace_back(std::string(trim(std::string_view(line).substr(0, colon))),
                                  std::string(trim(std::string_view(line).substr(colon + 1))));
    }
    const std::string* length_text = header.get("Content-Length");
    uint64_t length = 0;
    if (!length_text || length_text->empty() ||
        !std::all_of(length_text->begin(), length_text->end(), [](unsigned char c) { return std::isdigit(c); })) {
      throw Error(cat(path_, ": WARC record at byte ", record_offset, ": missing or invalid Content-Length"));
    }
    length = std::stoull(*length_text);
    const std::string* type = header.get("WARC-Type");
    std::string record_type = type ? *type : "unknown";
    bool wanted = std::find(options_.warc_types.begin(), options_.warc_types.end(), record_type) !=
                  options_.warc_types.end();
    bool keep_block = wanted && length <= options_.max_record_bytes;

    r = Record{};
    r.doc.source_path = path_;
    r.doc.source_offset = record_offset;
    std::string block;
    uint64_t got = in_.read(length, keep_block ? &block : nullptr);
    if (got < length) {
      throw Error(cat(path_, ": WARC record at byte ", record_offset, ": Content-Length is ", length,
                      " but the input ends after ", got, " bytes of the block"));
    }
    // The block must be followed by the CRLF CRLF separator; anything else means the
    // Content-Length is wrong and everything after this point would be misread.
    uint64_t separator_offset = in_.offset();
    std::string separator;
    in_.read(2, &separator);
    // Writers disagree on the exact separator (warcio accepts LF or extra newlines), so
    // any line-break bytes are accepted; anything else means a wrong Content-Length.
    if (separator.find_first_not_of("\r\n") != std::string::npos) {
      throw Error(cat(path_, ": WARC record at byte ", record_offset, ": Content-Length ", length,
                      " does not end at a record boundary (expected CRLF at byte ", separator_offset, ")"));
    }
    if (!wanted) {
      r.skipped_type = record_type;
      return true;
    }
    auto field = [&](std::string_view name, const std::string* value) {
      if (value) r.doc.fields.push_back({std::string(name), json_quote(repair_utf8(*value))});
    };
    const std::string* id = header.get("WARC-Record-ID");
    if (id) r.doc.id = *id;
    field(options_.id_field, id);
    field("url", header.get("WARC-Target-URI"));
    field("date", header.get("WARC-Date"));
    field("warc_type", &record_type);
    if (length > options_.max_record_bytes) {
      reject(r, "too_long", cat("WARC record block of ", length, " bytes exceeds max_record_bytes"));
      return true;
    }
    Header http;
    std::string body;
    if (record_type == "response" && split_http(block, http, body)) {
      field("content_type", http.get("Content-Type"));
      r.doc.text = std::move(body);
    } else {
      field("content_type", header.get("Content-Type"));
      r.doc.text = std::move(block);
    }
    r.doc.fields.push_back({options_.text_field, std::string()});
    check_text_utf8(r, options_);
    return true;
  }
  uint64_t file_offset() const override { return const_cast<ByteReader&>(in_).stream().file_offset(); }
  uint64_t file_size() const override { return const_cast<ByteReader&>(in_).stream().file_size(); }

 private:
  void reject(Record& r, std::string reason, std::string message) {
    r.reject_reason = std::move(reason);
    r.reject_message = cat(path_, ": byte ", r.doc.source_offset, ": ", message);
  }
  std::string path_;
  ReaderOptions options_;
  ByteReader in_;
};

}  // namespace

std::unique_ptr<DocumentReader> DocumentReader::open(const std::string& path, const ReaderOptions& options) {
  InputFormat format = options.format == InputFormat::kAuto ? detect_format(path) : options.format;
  switch (format) {
    case InputFormat::kJsonl: return std::make_unique<JsonlReader>(path, options);
    case InputFormat::kWarc: return std::make_unique<WarcReader>(path, options);
    case InputFormat::kText:
    case InputFormat::kAuto: break;
  }
  return std::make_unique<TextReader>(path, options);
}

void DocumentReader::decode(Record& record, const ReaderOptions& options) {
  if (record.needs_decode) decode_jsonl(record, options);
}

bool DocumentReader::next_batch(std::vector<Record>& batch, size_t max_records, uint64_t max_bytes) {
  batch.clear();
  uint64_t bytes = 0;
  Record record;
  while (batch.size() < max_records && bytes < max_bytes) {
    if (!next(record)) return false;
    bytes += record.raw.size() + record.doc.text.size();
    batch.push_back(std::move(record));
    record = Record();
  }
  return true;
}

namespace {
bool is_document_file(std::string name) {
  for (std::string_view ext : {".zst", ".zstd", ".gz"})
    if (name.ends_with(ext)) name.resize(name.size() - ext.size());
  for (std::string_view ext : {".jsonl", ".ndjson", ".warc", ".wet", ".arc", ".txt"})
    if (name.ends_with(ext)) return true;
  return false;
}
}  // namespace

std::vector<std::string> expand_inputs(const std::vector<std::string>& patterns) {
  std::set<std::string> files;
  std::vector<std::string> ordered;
  auto add = [&](const std::string& f) {
    if (files.insert(f).second) ordered.push_back(f);
  };
  for (const std::string& pattern : patterns) {
    if (pattern == "-") {
      add(pattern);
      continue;
    }
    std::vector<std::string> matched;
    if (fs::is_directory(pattern)) {
      // A directory means its documents: hidden entries (kiln's .kiln markers), kiln's own
      // rejects/ folder, and files of no document type (stats.json, report.html) are skipped.
      for (auto it = fs::recursive_directory_iterator(pattern); it != fs::recursive_directory_iterator(); ++it) {
        std::string name = it->path().filename().string();
        if (name.starts_with(".") || (it->is_directory() && name == "rejects")) {
          if (it->is_directory()) it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file() && is_document_file(name)) matched.push_back(it->path().string());
      }
    } else if (pattern.find_first_of("*?[") != std::string::npos) {
      glob_t g{};
      if (::glob(pattern.c_str(), 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i)
          if (fs::is_regular_file(g.gl_pathv[i])) matched.push_back(g.gl_pathv[i]);
      globfree(&g);
    } else if (fs::exists(pattern)) {
      matched.push_back(pattern);
    }
    if (matched.empty()) throw Error(cat(pattern, ": no input files match"));
    std::sort(matched.begin(), matched.end());
    for (auto& f : matched) add(f);
  }
  return ordered;
}

}  // namespace kiln
