#include "curate/balance.h"

#include <simdjson.h>
#include <tbb/combinable.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "corpus/error.h"
#include "corpus/text.h"
#include "curate/src/selection.h"

namespace kiln {
namespace {

constexpr const char* kMissing = "(missing)";

// The group of a document: the attribute's value as text. A path "a.b.c" walks into
// objects. An object of counts (demographic mentions along one axis: {"female": 5,
// "male": 2}) stands for its dominant member ("female"), "mixed" on a tie, and "(none)"
// when empty, so balancing by documents approximates balancing the mention shares.
std::string group_of(const Document& doc, const std::string& attribute) {
  size_t dot = attribute.find('.');
  const std::string* raw = doc.attribute(dot == std::string::npos ? attribute : attribute.substr(0, dot));
  if (!raw) return kMissing;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element e;
  if (parser.parse(*raw).get(e) != simdjson::SUCCESS) return kMissing;
  while (dot != std::string::npos) {
    size_t next = attribute.find('.', dot + 1);
    std::string key = attribute.substr(dot + 1, next == std::string::npos ? std::string::npos : next - dot - 1);
    if (e[key].get(e) != simdjson::SUCCESS) return "(none)";
    dot = next;
  }
  switch (e.type()) {
    case simdjson::dom::element_type::STRING: return std::string(std::string_view(e));
    case simdjson::dom::element_type::BOOL: return bool(e) ? "true" : "false";
    case simdjson::dom::element_type::INT64: return std::to_string(int64_t(e));
    case simdjson::dom::element_type::UINT64: return std::to_string(uint64_t(e));
    case simdjson::dom::element_type::DOUBLE: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", double(e));
      return buf;
    }
    case simdjson::dom::element_type::OBJECT: {
      std::string best;
      double best_count = 0;
      bool tie = false;
      for (auto [key, value] : simdjson::dom::object(e)) {
        double count = 0;
        if (value.get_double().get(count) != simdjson::SUCCESS) continue;
        if (count > best_count) best = std::string(key), best_count = count, tie = false;
        else if (count == best_count && count > 0) tie = true;
      }
      return best.empty() ? "(none)" : tie ? "mixed" : best;
    }
    default: return kMissing;
  }
}

struct Item {
  selection::Measured measured;
  std::string group;
};

class MeasureGroups final : public Stage {
 public:
  MeasureGroups(const BalanceOptions& o, const TextEncoder* encoder, selection::DocumentKeys keys)
      : o_(o), encoder_(encoder), keys_(keys) {}
  std::string_view name() const override { return "balance_measure"; }
  Verdict process(Document& doc, StageState*) const override {
    uint64_t units = 1;
    if (o_.unit == MixUnit::kBytes) units = doc.text.size();
    if (o_.unit == MixUnit::kTokens) {
      thread_local std::vector<uint32_t> tokens;
      encoder_->encode(doc.text, tokens);
      units = tokens.size();
    }
    items_.local().push_back({{keys_.of(doc), units}, group_of(doc, o_.attribute)});
    return Verdict::keep();
  }
  mutable tbb::combinable<std::vector<Item>> items_;

 private:
  const BalanceOptions& o_;
  const TextEncoder* encoder_;
  selection::DocumentKeys keys_;
};

}  // namespace

std::map<std::string, double> parse_shares(const std::string& text) {
  std::map<std::string, double> shares;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    start = end + 1;
    size_t eq = item.rfind('=');
    if (eq == std::string::npos || eq == 0) throw Error(cat("target share '", item, "': expected VALUE=SHARE"));
    try {
      shares[item.substr(0, eq)] = std::stod(item.substr(eq + 1));
    } catch (...) {
      throw Error(cat("target share '", item, "': the share is not a number"));
    }
    if (!(shares[item.substr(0, eq)] >= 0)) throw Error(cat("target share '", item, "' is negative"));
  }
  return shares;
}

std::vector<double> cap_shares(const std::vector<double>& shares, const std::vector<uint64_t>& units, uint64_t budget,
                               double max_repeats, std::vector<bool>* capped) {
  size_t n = shares.size();
  std::vector<double> out(n, 0);
  std::vector<bool> fixed(n, false);
  // UniMax: repeatedly cap groups whose share would need more than max_repeats copies and
  // hand their excess to the uncapped groups, in proportion to those groups' shares.
  for (size_t round = 0; round <= n; ++round) {
    double free_share = 1, free_weight = 0;
    for (size_t g = 0; g < n; ++g) {
      if (fixed[g]) free_share -= out[g];
      else free_weight += shares[g];
    }
    bool changed = false;
    for (size_t g = 0; g < n; ++g) {
      if (fixed[g]) continue;
      out[g] = free_weight > 0 ? free_share * shares[g] / free_weight : 0;
      double cap = budget ? max_repeats * double(units[g]) / double(budget) : 1;
      if (out[g] > cap) {
        out[g] = cap;
        fixed[g] = true;
        changed = true;
      }
    }
    if (!changed) break;
  }
  if (capped) {
    capped->assign(n, false);
    for (size_t g = 0; g < n; ++g) (*capped)[g] = fixed[g];
  }
  return out;
}

BalanceResult run_balance(const std::vector<std::string>& inputs, const BalanceOptions& o, const TextEncoder* encoder) {
  if (o.attribute.empty()) throw Error("balance: no attribute given");
  if (o.target.empty() == (o.temperature <= 0)) throw Error("balance: give either target shares or a temperature");
  if (o.unit == MixUnit::kTokens && !encoder) throw Error("balance by tokens needs a tokenizer");
  std::vector<std::unique_ptr<Stage>> stages;
  const auto keys = selection::DocumentKeys::for_inputs(inputs, o.seed);
  stages.push_back(std::make_unique<MeasureGroups>(o, encoder, keys));
  auto* measure = static_cast<MeasureGroups*>(stages.back().get());
  PipelineOptions pass;  // both passes read the same way
  pass.reader = o.reader;
  pass.threads = o.threads;
  pass.on_progress = o.on_progress;
  PipelineOptions measuring = pass;
  measuring.discard_output = true;
  run_pipeline(inputs, stages, measuring);
  std::map<std::string, std::vector<selection::Measured>> groups;
  measure->items_.combine_each([&](const std::vector<Item>& items) {
    for (auto& it : items) groups[it.group].push_back(it.measured);
  });
  BalanceResult r;
  std::vector<double> shares;
  std::vector<uint64_t> units;
  for (auto& [value, docs] : groups) {
    std::sort(docs.begin(), docs.end());
    BalanceGroup g;
    g.value = value;
    g.docs_before = docs.size();
    for (auto& d : docs) g.units_before += d.units;
    r.units_before += g.units_before;
    units.push_back(g.units_before);
    r.groups.push_back(g);
  }
  for (auto& [value, share] : o.target)
    if (!groups.count(value)) throw Error(cat("balance: no document has ", o.attribute, " = '", value, "'"));
  double total_target = 0;
  for (auto& g : r.groups) {
    double s = o.temperature > 0 ? std::pow(double(g.units_before), 1.0 / o.temperature)
                                 : (o.target.count(g.value) ? o.target.at(g.value) : 0.0);
    shares.push_back(s);
    total_target += s;
  }
  if (!(total_target > 0)) throw Error("balance: the target shares sum to zero");
  for (auto& s : shares) s /= total_target;
  uint64_t budget = o.budget ? o.budget : r.units_before;
  std::vector<bool> capped;
  std::vector<double> final_shares = cap_shares(shares, units, budget, o.max_repeats, &capped);

  std::unordered_map<uint64_t, uint32_t> copies;
  uint32_t epochs = 0;
  size_t i = 0;
  for (auto& [value, docs] : groups) {
    BalanceGroup& g = r.groups[i];
    g.target_share = shares[i];
    g.capped = capped[i];
    std::unordered_map<uint64_t, uint32_t> mine;
    g.units_after = selection::choose_copies(docs, uint64_t(std::llround(final_shares[i] * double(budget))), mine);
    for (auto& [key, n] : mine) {
      g.docs_after += n;
      epochs = std::max(epochs, n);
      copies[key] = n;
    }
    g.repeats = g.units_before ? double(g.units_after) / double(g.units_before) : 0;
    r.units_after += g.units_after;
    ++i;
  }
  for (auto& g : r.groups) {
    g.share_before = r.units_before ? double(g.units_before) / double(r.units_before) : 0;
    g.share_after = r.units_after ? double(g.units_after) / double(r.units_after) : 0;
  }
  if (!o.output_dir.empty()) {
    std::filesystem::create_directories(o.output_dir);
    selection::write_copies(inputs, copies, epochs, keys, pass, o.output_dir, "balance_select", "balance_not_selected");
    write_file(o.output_dir + "/balance.json", r.to_json());
  }
  return r;
}

std::string BalanceResult::to_text() const {
  std::string o = "value                    before   target    after   repeats  units after\n";
  for (const auto& g : groups) {
    char line[256];
    std::snprintf(line, sizeof line, "%-22s %7.1f%% %7.1f%% %7.1f%% %8.2f%s %12llu\n", g.value.c_str(), 100 * g.share_before,
                  100 * g.target_share, 100 * g.share_after, g.repeats, g.capped ? " cap" : "    ",
                  (unsigned long long)g.units_after);
    o += line;
  }
  return o;
}

std::string BalanceResult::to_json() const {
  std::string o = cat("{\"units_before\":", units_before, ",\"units_after\":", units_after, ",\"groups\":[");
  for (size_t i = 0; i < groups.size(); ++i) {
    const auto& g = groups[i];
    o += i ? ",{\"value\":" : "{\"value\":";
    append_json_string(o, g.value);
    o += cat(",\"docs_before\":", g.docs_before, ",\"units_before\":", g.units_before, ",\"share_before\":", g.share_before,
             ",\"target_share\":", g.target_share, ",\"share_after\":", g.share_after, ",\"units_after\":", g.units_after,
             ",\"docs_after\":", g.docs_after, ",\"repeats\":", g.repeats, ",\"capped\":", g.capped ? "true" : "false", "}");
  }
  return o + "]}\n";
}

// ---- TermSwapper ---------------------------------------------------------------------

namespace {
// Default English list: bidirectional pairs, except that a word already mapped keeps its
// first mapping ("her" → "his" because "his"/"her" comes before "him"/"her").
constexpr const char* kGenderPairs = R"(
he she
his her
him her
himself herself
man woman
men women
boy girl
boys girls
father mother
fathers mothers
son daughter
sons daughters
brother sister
brothers sisters
husband wife
husbands wives
king queen
kings queens
male female
males females
gentleman lady
gentlemen ladies
uncle aunt
uncles aunts
nephew niece
nephews nieces
grandfather grandmother
grandson granddaughter
boyfriend girlfriend
dad mom
mr mrs
sir madam
actor actress
prince princess
)";

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
}  // namespace

TermSwapper::TermSwapper(const std::vector<std::pair<std::string, std::string>>& pairs) {
  auto lower = [](std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  for (auto& [a, b] : pairs) {
    map_.emplace(lower(a), lower(b));
    map_.emplace(lower(b), lower(a));
  }
}

TermSwapper TermSwapper::from_list(std::string_view text, const std::string& source) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t line_no = 0, start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(start, end - start));
    start = end + 1;
    ++line_no;
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string a, b, extra;
    if (!(words >> a)) continue;
    if (!(words >> b) || (words >> extra)) throw Error(cat(source, ":", line_no, ": expected two words, a pair to swap"));
    for (const std::string& w : {a, b})
      if (!std::all_of(w.begin(), w.end(), is_letter))
        throw Error(cat(source, ":", line_no, ": '", w, "' is not a word of ASCII letters"));
    pairs.emplace_back(a, b);
  }
  return TermSwapper(pairs);
}

TermSwapper TermSwapper::english_gender() { return from_list(kGenderPairs, "built-in gender pairs"); }

std::string TermSwapper::swap(std::string_view text, size_t* swaps) const {
  std::string out;
  out.reserve(text.size());
  size_t count = 0, i = 0;
  while (i < text.size()) {
    if (!is_letter(text[i])) {
      out.push_back(text[i++]);
      continue;
    }
    size_t j = i;
    while (j < text.size() && is_letter(text[j])) ++j;
    // A word glued to non-ASCII letters (e.g. "heß") is not an English word: keep it.
    bool glued = (i > 0 && static_cast<unsigned char>(text[i - 1]) >= 0x80) ||
                 (j < text.size() && static_cast<unsigned char>(text[j]) >= 0x80);
    std::string word(text.substr(i, j - i)), lower = word;
    for (auto& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    auto it = glued ? map_.end() : map_.find(lower);
    if (it == map_.end()) {
      out += word;
    } else {
      std::string rep = it->second;
      bool all_upper = word.size() > 1 && std::all_of(word.begin(), word.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
      if (all_upper) {
        for (auto& c : rep) c = char(std::toupper(static_cast<unsigned char>(c)));
      } else if (word[0] >= 'A' && word[0] <= 'Z') {
        rep[0] = char(std::toupper(static_cast<unsigned char>(rep[0])));
      }
      out += rep;
      ++count;
    }
    i = j;
  }
  if (swaps) *swaps = count;
  return out;
}

}  // namespace kiln
