#include "tokenizer/tool.h"

#include <simdjson.h>
#include <tbb/parallel_for.h>

#include <chrono>
#include <charconv>
#include <cstring>

#include "corpus/error.h"
#include "corpus/line_reader.h"
#include "corpus/stream.h"
#include "corpus/text.h"

namespace kiln::tokenizer {

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string base_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The standard special tokens of tiktoken's encodings (tiktoken_ext/openai_public.py).
std::vector<SpecialToken> standard_specials(const std::string& encoding) {
  if (encoding == "gpt2" || encoding == "r50k_base") return {{"<|endoftext|>", 50256}};
  if (encoding == "p50k_base") return {{"<|endoftext|>", 50256}};
  if (encoding == "cl100k_base") {
    return {{"<|endoftext|>", 100257}, {"<|fim_prefix|>", 100258}, {"<|fim_middle|>", 100259},
            {"<|fim_suffix|>", 100260}, {"<|endofprompt|>", 100276}};
  }
  if (encoding == "o200k_base") return {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}};
  return {};
}

std::string encoding_of(const std::string& path) {
  const std::string name = base_name(path);
  for (const char* e : {"o200k_base", "cl100k_base", "p50k_base", "r50k_base", "gpt2"}) {
    if (name.find(e) != std::string::npos) return e;
  }
  return "";
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Writes bytes to a file or stdout, compressed by the file's extension, atomically.
class Output {
 public:
  explicit Output(const std::string& path) : file_(path), compression_(path == "-" ? Compression::kNone : compression_for_path(path)) {}
  void write(std::string_view bytes) {
    if (compression_ == Compression::kNone) {
      file_.write(bytes);
      return;
    }
    packed_.clear();
    compress_append(compression_, 3, bytes, packed_);
    file_.write(packed_);
  }
  void commit() { file_.commit(); }

 private:
  AtomicFile file_;
  Compression compression_;
  std::string packed_;
};

void append_ids(std::string& out, IdsFormat format, const std::vector<uint32_t>& ids, const std::string& doc_id,
                bool first_chunk, bool last_chunk) {
  switch (format) {
    case IdsFormat::kBinary:
      out.append(reinterpret_cast<const char*>(ids.data()), ids.size() * 4);
      break;
    case IdsFormat::kText: {
      char buf[16];
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i || !first_chunk) out += ' ';
        out.append(buf, std::to_chars(buf, buf + sizeof buf, ids[i]).ptr);
      }
      if (last_chunk) out += '\n';
      break;
    }
    case IdsFormat::kJsonl: {
      if (first_chunk) {
        out += "{\"id\":";
        append_json_string(out, doc_id);
        out += ",\"ids\":[";
      }
      char buf[16];
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i || !first_chunk) out += ',';
        out.append(buf, std::to_chars(buf, buf + sizeof buf, ids[i]).ptr);
      }
      if (last_chunk) out += "]}\n";
      break;
    }
  }
}

// Where a text may be cut without changing its pre-tokens: after an ASCII letter that is
// followed by a space and another ASCII letter (every pattern ends a letter run there and
// starts " <letter>..." afresh). Returns 0 if there is none in text[from, end).
size_t safe_cut(std::string_view text, size_t from) {
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  for (size_t p = text.size() >= 2 ? text.size() - 2 : 0; p > from; --p) {
    if (text[p] == ' ' && letter(text[p - 1]) && letter(text[p + 1])) return p;
  }
  return 0;
}

}  // namespace

Tokenizer load_tokenizer(const TokenizerSource& source) {
  if (ends_with(source.path, ".json") || ends_with(source.path, ".json.zst") || ends_with(source.path, ".json.gz")) {
    return Tokenizer::from_hf_json(source.path);
  }
  const std::string encoding = encoding_of(source.path);
  const std::string pattern_name = !source.pattern.empty() ? source.pattern : encoding;
  if (pattern_name.empty()) {
    throw Error(cat(source.path, ": cannot tell the split pattern from the file name; give --pattern "
                                 "(gpt2, cl100k_base or o200k_base)"));
  }
  std::vector<SpecialToken> specials;
  if (source.special_tokens.empty()) {
    specials = standard_specials(encoding);
  } else {
    for (const std::string& s : source.special_tokens) {
      const size_t eq = s.rfind('=');
      uint32_t id = 0;
      if (eq == std::string::npos || eq == 0 ||
          std::from_chars(s.data() + eq + 1, s.data() + s.size(), id).ptr != s.data() + s.size()) {
        throw Error(cat("special token \"", s, "\": expected TEXT=ID, e.g. <|endoftext|>=50256"));
      }
      specials.push_back({s.substr(0, eq), id});
    }
  }
  return Tokenizer::from_tiktoken_file(source.path, parse_pattern(pattern_name), std::move(specials));
}

TrainFilesReport train_files(const TrainFilesOptions& options) {
  if (options.output.empty()) throw Error("tokenizer train: no output file given");
  TrainFilesReport report;
  const double t0 = now();
  BpeTrainer trainer(options.trainer);
  trainer.add_files(options.inputs);
  const double t1 = now();
  const Tokenizer tok = trainer.train();
  const double t2 = now();
  tok.save_hf_json(options.output);
  report.sequences = trainer.num_sequences();
  report.bytes = trainer.num_bytes();
  report.distinct_words = trainer.num_distinct_words();
  report.merges = tok.num_merges();
  report.vocab_size = tok.vocab_size();
  report.count_seconds = t1 - t0;
  report.merge_seconds = t2 - t1;
  return report;
}

IdsFormat parse_ids_format(const std::string& name) {
  if (name == "text") return IdsFormat::kText;
  if (name == "jsonl") return IdsFormat::kJsonl;
  if (name == "bin") return IdsFormat::kBinary;
  throw Error(cat("unknown ids format '", name, "': expected text, jsonl or bin"));
}

EncodeFilesReport encode_files(const EncodeFilesOptions& options) {
  const Tokenizer tok = load_tokenizer(options.tokenizer);
  EncodeFilesReport report;
  const double t0 = now();
  Output out(options.output);
  std::string buf;
  constexpr size_t kPiece = size_t(4) << 20;
  constexpr size_t kBatchBytes = size_t(32) << 20;
  auto finish_doc = [&](std::vector<uint32_t>& ids) {
    if (options.append_id >= 0) ids.push_back(static_cast<uint32_t>(options.append_id));
  };

  for (const std::string& path : expand_inputs(options.inputs)) {
    InputFormat format = options.reader.format;
    if (format == InputFormat::kAuto) format = detect_format(path);
    if (format == InputFormat::kText) {
      // One document per file, encoded piece by piece on all cores.
      auto in = InputStream::open(path);
      std::string pending;
      std::vector<std::string> pieces;
      bool eof = false, first = true;
      while (!eof) {
        pieces.clear();
        size_t batch = 0;
        while (!eof && batch < kBatchBytes) {
          const size_t old = pending.size();
          pending.resize(old + kPiece);
          const size_t n = in->read(pending.data() + old, kPiece);
          pending.resize(old + n);
          eof = n == 0;
          const size_t cut = eof ? pending.size() : safe_cut(pending, pending.size() > kPiece ? pending.size() - kPiece : 0);
          if (cut == 0) continue;  // no safe cut yet: read on
          pieces.push_back(pending.substr(0, cut));
          pending.erase(0, cut);
          batch += cut;
        }
        const auto ids = tok.encode_batch(std::span<const std::string>(pieces), options.encode);
        buf.clear();
        for (size_t i = 0; i < ids.size(); ++i) {
          std::vector<uint32_t> v = ids[i];
          const bool last = eof && i + 1 == ids.size();
          if (last) finish_doc(v);
          append_ids(buf, options.format, v, path, first, last);
          first = false;
          report.tokens += v.size();
          report.bytes += pieces[i].size();
        }
        if (eof && ids.empty()) {  // an empty file, or the end fell on a batch boundary
          std::vector<uint32_t> v;
          finish_doc(v);
          append_ids(buf, options.format, v, path, first, true);
          report.tokens += v.size();
        }
        out.write(buf);
      }
      ++report.documents;
      continue;
    }
    ReaderOptions ro = options.reader;
    ro.format = format;
    auto reader = DocumentReader::open(path, ro);
    std::vector<Record> batch;
    bool more = true;
    while (more) {
      more = reader->next_batch(batch, SIZE_MAX, kBatchBytes);
      std::vector<std::vector<uint32_t>> ids(batch.size());
      tbb::parallel_for(tbb::blocked_range<size_t>(0, batch.size(), 8), [&](const tbb::blocked_range<size_t>& r) {
        for (size_t i = r.begin(); i != r.end(); ++i) {
          if (batch[i].needs_decode) DocumentReader::decode(batch[i], ro);
          if (!batch[i].rejected() && !batch[i].skipped()) ids[i] = tok.encode(batch[i].doc.text, options.encode);
        }
      });
      buf.clear();
      for (size_t i = 0; i < batch.size(); ++i) {
        if (batch[i].skipped()) continue;
        if (batch[i].rejected()) {
          ++report.rejected;
          continue;
        }
        finish_doc(ids[i]);
        append_ids(buf, options.format, ids[i], batch[i].doc.id, true, true);
        ++report.documents;
        report.bytes += batch[i].doc.text.size();
        report.tokens += ids[i].size();
      }
      out.write(buf);
    }
  }
  out.commit();
  report.seconds = now() - t0;
  return report;
}

uint64_t decode_files(const DecodeFilesOptions& options) {
  const Tokenizer tok = load_tokenizer(options.tokenizer);
  Output out(options.output);
  simdjson::dom::parser parser;
  uint64_t docs = 0;
  std::vector<uint32_t> ids;
  std::string buf;
  for (const std::string& path : expand_inputs(options.inputs)) {
    LineReader lines(InputStream::open(path));
    LineReader::Line line;
    while (lines.next(line)) {
      std::string_view text = line.text;
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      ids.clear();
      buf.clear();
      const size_t first = text.find_first_not_of(" \t");
      if (first != std::string_view::npos && text[first] == '{') {
        simdjson::dom::element doc;
        simdjson::dom::array arr;
        if (parser.parse(text.data(), text.size()).get(doc) || doc["ids"].get_array().get(arr)) {
          throw Error(cat(path, ":", line.number, ": expected a JSON object with an \"ids\" array"));
        }
        for (auto v : arr) {
          uint64_t id;
          if (v.get_uint64().get(id)) throw Error(cat(path, ":", line.number, ": \"ids\" must hold non-negative integers"));
          ids.push_back(static_cast<uint32_t>(id));
        }
        buf += "{\"id\":";
        std::string_view id;
        if (!doc["id"].get_string().get(id)) {
          append_json_string(buf, id);
        } else {
          buf += cat("\"", path, ":", line.number, "\"");
        }
        buf += ",\"text\":";
        const std::string decoded = tok.decode(ids);
        append_json_string(buf, is_valid_utf8(decoded) ? decoded : repair_utf8(decoded));
        buf += "}\n";
      } else {
        for (size_t p = 0; p < text.size();) {
          while (p < text.size() && text[p] == ' ') ++p;
          if (p == text.size()) break;
          uint32_t id;
          auto r = std::from_chars(text.data() + p, text.data() + text.size(), id);
          if (r.ec != std::errc()) throw Error(cat(path, ":", line.number, ": byte ", p + 1, ": expected a token id"));
          ids.push_back(id);
          p = static_cast<size_t>(r.ptr - text.data());
        }
        try {
          buf = tok.decode(ids);
        } catch (const Error& e) {
          throw Error(cat(path, ":", line.number, ": ", e.what()));
        }
      }
      out.write(buf);
      ++docs;
    }
  }
  out.commit();
  return docs;
}

void convert_tokenizer(const TokenizerSource& source, const std::string& output) {
  const Tokenizer tok = load_tokenizer(source);
  if (ends_with(output, ".json") || ends_with(output, ".json.zst") || ends_with(output, ".json.gz")) {
    tok.save_hf_json(output);
  } else {
    tok.save_tiktoken_file(output);
  }
}

std::string tokenizer_info(const TokenizerSource& source) {
  const Tokenizer tok = load_tokenizer(source);
  std::string out = "{\"path\":";
  append_json_string(out, source.path);
  out += cat(",\"kind\":\"", tok.merge_rule() == MergeRule::kRanks ? "tiktoken" : "hf-bpe", "\",\"pattern\":\"",
             pattern_name(tok.pattern()), "\",\"vocab_size\":", tok.vocab_size(), ",\"tokens\":", tok.num_tokens(),
             ",\"merges\":", tok.num_merges(), ",\"add_prefix_space\":", tok.hf_options().add_prefix_space ? "true" : "false",
             ",\"ignore_merges\":", tok.hf_options().ignore_merges ? "true" : "false", ",\"special_tokens\":{");
  auto specials = tok.special_tokens();
  std::sort(specials.begin(), specials.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  for (size_t i = 0; i < specials.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, specials[i].content);
    out += cat(":", specials[i].id);
  }
  out += "}}";
  return out;
}

}  // namespace kiln::tokenizer
