#include "dedup/decontaminate.h"

#include <simdjson.h>

#include <algorithm>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "corpus/text.h"
#include "dedup/minhash.h"

namespace kiln::dedup {

namespace {

void collect_strings(simdjson::dom::element e, std::string& out) {
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) {
    if (!out.empty()) out += ' ';
    out += s;
    return;
  }
  simdjson::dom::array a;
  if (e.get_array().get(a) == simdjson::SUCCESS)
    for (auto v : a) collect_strings(v, out);
}

}  // namespace

std::unique_ptr<Decontaminator> Decontaminator::open(const DecontaminationOptions& options) {
  if (options.ngram <= 0) throw Error(cat("decontaminate: ngram must be positive, not ", options.ngram));
  auto d = std::unique_ptr<Decontaminator>(new Decontaminator());
  d->options_ = options;
  simdjson::dom::parser parser;
  std::string text, norm;
  std::vector<uint64_t> grams;
  for (const std::string& path : options.eval_paths) {
    std::string data = read_file(path);
    size_t start = 0;
    uint64_t line_no = 0;
    while (start < data.size()) {
      size_t end = data.find('\n', start);
      if (end == std::string::npos) end = data.size();
      std::string_view line(data.data() + start, end - start);
      start = end + 1;
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      simdjson::dom::element root;
      simdjson::dom::object object;
      if (parser.parse(line.data(), line.size()).get(root) || root.get_object().get(object))
        throw Error(cat(path, ":", line_no, ": expected a JSON object"));
      EvalItem item;
      item.file = path;
      text.clear();
      for (auto [key, value] : object) {
        if (key == options.id_field) {
          std::string_view s;
          int64_t n;
          if (value.get_string().get(s) == simdjson::SUCCESS) item.id = s;
          else if (value.get_int64().get(n) == simdjson::SUCCESS) item.id = std::to_string(n);
        }
        if (std::find(options.skip_fields.begin(), options.skip_fields.end(), key) != options.skip_fields.end())
          continue;
        collect_strings(value, text);
      }
      if (item.id.empty()) item.id = cat(path, ":", line_no);
      normalize_text(repair_utf8(text), options.normalize, norm);
      shingle_hashes(norm, ShingleKind::kWords, options.ngram, grams);
      const uint32_t index = uint32_t(d->items_.size());
      d->items_.push_back(std::move(item));
      for (uint64_t g : grams) {
        auto& list = d->index_[g];
        if (list.empty() || list.back() != index) list.push_back(index);
      }
    }
  }
  return d;
}

Verdict Decontaminator::process(Document& doc, StageState*) const {
  thread_local std::string norm;
  thread_local std::vector<uint64_t> grams;
  thread_local std::vector<uint32_t> hit;
  normalize_text(doc.text, options_.normalize, norm);
  shingle_hashes(norm, ShingleKind::kWords, options_.ngram, grams);
  hit.clear();
  for (uint64_t g : grams) {
    auto it = index_.find(g);
    if (it != index_.end()) hit.insert(hit.end(), it->second.begin(), it->second.end());
  }
  if (hit.empty()) return Verdict::keep();
  std::sort(hit.begin(), hit.end());
  hit.erase(std::unique(hit.begin(), hit.end()), hit.end());
  std::string ids = "[";
  for (size_t i = 0; i < hit.size(); ++i) {
    if (i) ids += ',';
    append_json_string(ids, items_[hit[i]].id);
  }
  ids += ']';
  doc.set_attribute("eval_overlap", std::move(ids));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (uint32_t item : hit) {
      Match& m = matches_[item];
      bool earlier = m.docs == 0 || doc.source_path < m.first_path ||
                     (doc.source_path == m.first_path && doc.source_offset < m.first_offset);
      ++m.docs;
      if (earlier) {
        m.first_path = doc.source_path;
        m.first_offset = doc.source_offset;
        m.first_id = doc.id;
      }
    }
  }
  return options_.action == ContaminationAction::kDrop ? Verdict::drop("eval_overlap") : Verdict::keep();
}

uint64_t Decontaminator::num_items_matched() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return matches_.size();
}

std::string Decontaminator::report_jsonl() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  for (auto& [item, m] : matches_) {
    out += "{\"file\":";
    append_json_string(out, items_[item].file);
    out += ",\"id\":";
    append_json_string(out, items_[item].id);
    out += cat(",\"docs_matched\":", m.docs, ",\"first_doc\":");
    append_json_string(out, m.first_id);
    out += "}\n";
  }
  return out;
}

}  // namespace kiln::dedup
