#include "filters/pii.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <algorithm>

#include "corpus/document.h"
#include "corpus/error.h"

namespace kiln {

namespace {

constexpr std::string_view kNames[kNumPiiKinds] = {"email", "iban", "credit_card", "ssn", "ip", "phone"};
constexpr std::string_view kPlaceholders[kNumPiiKinds] = {"<EMAIL>", "<IBAN>", "<CREDIT_CARD>", "<SSN>", "<IP>", "<PHONE>"};
constexpr std::string_view kDropReasons[kNumPiiKinds] = {"pii_email", "pii_iban", "pii_credit_card",
                                                         "pii_ssn",   "pii_ip",   "pii_phone"};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// True when the candidate [b, e) continues a longer token of digits joined by
// separators ("1.2.3.4.5", "123-45-6789-0"): then it is not the thing it looks like.
bool extends_number(std::string_view text, size_t b, size_t e, std::string_view seps) {
  if (b >= 2 && seps.find(text[b - 1]) != std::string_view::npos && is_digit(text[b - 2])) return true;
  if (b >= 1 && is_alnum(text[b - 1])) return true;
  if (e + 1 < text.size() && seps.find(text[e]) != std::string_view::npos && is_digit(text[e + 1])) return true;
  if (e < text.size() && is_alnum(text[e])) return true;
  return false;
}

std::string digits_of(std::string_view s) {
  std::string d;
  for (char c : s)
    if (is_digit(c)) d.push_back(c);
  return d;
}

// Card layouts: 13-19 digits unseparated, or one separator (space or '-') between groups
// of 4 (the last 1-4), or Amex/Diners 4-6-5 / 4-6-4. Anything else (ISBN 978-3-16-148410-0,
// phone-like groups) is not a card.
bool card_layout_ok(std::string_view s) {
  std::vector<size_t> groups;
  char sep = 0;
  size_t run = 0;
  for (char c : s) {
    if (is_digit(c)) {
      ++run;
      continue;
    }
    if (sep && c != sep) return false;
    sep = c;
    groups.push_back(run);
    run = 0;
  }
  groups.push_back(run);
  if (groups.size() == 1) return true;
  if (groups.size() == 3 && groups[0] == 4 && groups[1] == 6 && (groups[2] == 5 || groups[2] == 4)) return true;
  for (size_t i = 0; i + 1 < groups.size(); ++i)
    if (groups[i] != 4) return false;
  return groups.back() >= 1 && groups.back() <= 4;
}

bool looks_like_date(std::string_view s) {
  // yyyy-mm-dd, dd-mm-yyyy, mm/dd/yyyy, dd.mm.yyyy (with any of - / . as separator).
  std::vector<size_t> groups;
  size_t run = 0;
  for (char c : s) {
    if (is_digit(c)) ++run;
    else if (c == '-' || c == '/' || c == '.') groups.push_back(run), run = 0;
    else return false;
  }
  groups.push_back(run);
  if (groups.size() != 3) return false;
  return (groups[0] == 4 && groups[1] <= 2 && groups[2] <= 2) || (groups[0] <= 2 && groups[1] <= 2 && groups[2] == 4);
}

// IBAN lengths by country (ISO 13616 registry, SWIFT release 2024).
int iban_length(char a, char b) {
  static const std::pair<const char*, int> kLengths[] = {
      {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22}, {"BH", 22},
      {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"DO", 28},
      {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23},
      {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26},
      {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
      {"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18},
      {"NO", 15}, {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24},
      {"SC", 31}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24},
      {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}};
  for (auto& [code, len] : kLengths)
    if (code[0] == a && code[1] == b) return len;
  return 0;
}

// Lowercase ASCII "isbn" within `window` bytes before position b.
bool after_isbn(std::string_view text, size_t b, size_t window = 12) {
  size_t from = b >= window ? b - window : 0;
  for (size_t i = from; i + 4 <= b; ++i) {
    char c0 = char(text[i] | 0x20), c1 = char(text[i + 1] | 0x20), c2 = char(text[i + 2] | 0x20), c3 = char(text[i + 3] | 0x20);
    if (c0 == 'i' && c1 == 's' && c2 == 'b' && c3 == 'n') return true;
  }
  return false;
}

}  // namespace

std::string_view pii_kind_name(PiiKind kind) { return kNames[size_t(kind)]; }
std::string_view pii_placeholder(PiiKind kind) { return kPlaceholders[size_t(kind)]; }

bool luhn_valid(std::string_view digits) {
  if (digits.empty()) return false;
  int sum = 0;
  bool dbl = false;
  for (size_t i = digits.size(); i-- > 0;) {
    if (!is_digit(digits[i])) return false;
    int d = digits[i] - '0';
    if (dbl) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

bool iban_valid(std::string_view iban) {
  std::string s;
  for (char c : iban) {
    if (c == ' ') continue;
    if (!is_alnum(c)) return false;
    s.push_back(c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c);
  }
  if (s.size() < 15 || s.size() > 34) return false;
  if (!(s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && is_digit(s[2]) && is_digit(s[3]))) return false;
  if (iban_length(s[0], s[1]) != int(s.size())) return false;  // unknown country or wrong length
  // ISO 13616: move the first four characters to the end, letters → 10..35, mod 97 == 1.
  std::string r = s.substr(4) + s.substr(0, 4);
  int mod = 0;
  for (char c : r) {
    if (is_digit(c)) mod = (mod * 10 + (c - '0')) % 97;
    else mod = (mod * 100 + (c - 'A' + 10)) % 97;
  }
  return mod == 1;
}

bool ipv4_valid(std::string_view s, bool* is_private) {
  int parts[4], n = 0;
  size_t i = 0;
  while (n < 4) {
    size_t start = i;
    int v = 0;
    while (i < s.size() && is_digit(s[i]) && i - start < 3) v = v * 10 + (s[i++] - '0');
    size_t len = i - start;
    if (len == 0 || v > 255 || (len > 1 && s[start] == '0')) return false;  // no leading zeros
    parts[n++] = v;
    if (n < 4) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  if (i != s.size()) return false;
  if (is_private)
    *is_private = parts[0] == 10 || parts[0] == 127 || (parts[0] == 172 && parts[1] >= 16 && parts[1] <= 31) ||
                  (parts[0] == 192 && parts[1] == 168) || (parts[0] == 169 && parts[1] == 254);
  return true;
}

bool ipv6_valid(std::string_view s, bool* is_private) {
  if (s.size() > 45) return false;
  std::string z(s);
  unsigned char addr[16];
  if (inet_pton(AF_INET6, z.c_str(), addr) != 1) return false;
  if (is_private) {
    bool loopback = std::all_of(addr, addr + 15, [](unsigned char b) { return b == 0; }) && addr[15] == 1;
    *is_private = loopback || (addr[0] & 0xFE) == 0xFC || (addr[0] == 0xFE && (addr[1] & 0xC0) == 0x80);
  }
  return true;
}

struct PiiDetector::Impl {
  PiiOptions o;
  RE2 email{R"([A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b)"};
  RE2 iban{R"((?i)\b[a-z]{2}\d{2}(?: ?[a-z0-9]){11,30}\b)"};
  RE2 card{R"(\b\d(?:[ \-]?\d){12,18}\b)"};
  RE2 ssn{R"(\b\d{3}([\- ])\d{2}[\- ]\d{4}\b)"};
  RE2 ipv4{R"(\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b)"};
  RE2 ipv6{R"((?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\d{1,3}(?:\.\d{1,3}){3})?)"};
  // An optional +country code and/or (area), then groups of digits separated by one
  // space, dot or hyphen, and an optional extension ("x123", "ext. 12"). Which of these
  // are phones is decided in find().
  RE2 phone{R"((?:\+\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?|\(\d{1,4}\)[ .\-]?|\b)\d{1,10}(?:[ .\-]\d{2,7}){0,5}(?:[ ]?(?:x|ext\.?)[ ]?\d{1,5})?\b|\+\d{8,15}\b)"};
  // Words that make a nearby digit group a phone number even when its shape alone would not.
  RE2 phone_context{R"((?i)phone|tel\b|call|fax|mobile|desk|office|cell|contact|whatsapp|sms|messages to|reach me|number)"};

  bool accept_phone(std::string_view text, size_t b, size_t e) const;

  // Calls accept(b, e) for each match; when accept rejects a candidate (returns false)
  // the scan resumes one byte after its start, so a valid match inside it is still found
  // ("Portugal 30971 21 253 109 8211": the postcode makes the first candidate too long).
  template <class Accept>
  void scan(const RE2& re, std::string_view text, Accept&& accept) const {
    size_t pos = 0;
    re2::StringPiece m;
    re2::StringPiece input(text.data(), text.size());
    while (pos < text.size() && re.Match(input, pos, text.size(), RE2::UNANCHORED, &m, 1)) {
      size_t b = size_t(m.data() - text.data()), e = b + m.size();
      bool accepted = accept(b, e);
      pos = accepted && e > b ? e : b + 1;
    }
  }
};

// Which digit groups are phone numbers. A leading '+' (E.164: 8-15 digits) or a phone word
// within 24 bytes ("Phone:", "call me at", "Fax") makes 7-13 digits enough; otherwise the
// shape must say phone: 10-13 digits in 2+ groups or with an (area), or 8-11 digits in 3+
// groups that are not a date, not ddd-dd-dddd (SSN layout) and not thousands (1 234 567).
bool PiiDetector::Impl::accept_phone(std::string_view text, size_t b, size_t e) const {
  std::string_view s = text.substr(b, e - b);
  size_t x_at = s.find_first_of("xe");  // extension: digits after it do not count
  std::string_view number = x_at == std::string_view::npos ? s : s.substr(0, x_at);
  std::string d = digits_of(number);
  bool plus = s[0] == '+', paren = s.find('(') != std::string_view::npos;
  std::vector<size_t> groups;
  size_t run = 0;
  for (char c : number) {
    if (is_digit(c)) ++run;
    else if (run) groups.push_back(run), run = 0;
  }
  if (run) groups.push_back(run);
  if (groups.empty()) return false;
  // Context: the 24 bytes on either side.
  size_t cb = b >= 24 ? b - 24 : 0, ce = std::min(text.size(), e + 24);
  re2::StringPiece around(text.data() + cb, ce - cb);
  bool context = RE2::PartialMatch(around, phone_context);

  if (looks_like_date(number) || (number.size() >= 10 && looks_like_date(number.substr(0, 10)))) return false;
  if (e < text.size() && text[e] == ':') return false;                          // a time: 2000-04-16 11:34
  if (b > 0 && (is_alnum(text[b - 1]) || text[b - 1] == '.' || text[b - 1] == '/' || text[b - 1] == '$')) return false;
  if (extends_number(text, b, e, "-./,")) return false;
  if (number.size() == 11 && number[3] == '-' && number[6] == '-' && d.size() == 9) return false;  // SSN layout
  if (after_isbn(text, b) || (e + 1 < text.size() && text[e] == '-' && (text[e + 1] | 0x20) == 'x')) return false;
  // Lists of years ("2019 2020 2021") and counting sequences ("9 10 11 12", "00 01 02 03").
  {
    std::vector<long> values;
    size_t i = 0;
    while (i < number.size()) {
      if (!is_digit(number[i])) {
        ++i;
        continue;
      }
      long v = 0;
      size_t len = 0;
      while (i < number.size() && is_digit(number[i])) v = v * 10 + (number[i++] - '0'), ++len;
      values.push_back(len == 4 && v >= 1800 && v <= 2099 ? -1 : v);  // -1 marks a year
    }
    bool years = std::all_of(values.begin(), values.end(), [](long v) { return v == -1; });
    bool counting = values.size() >= 3;
    for (size_t k = 1; k < values.size() && counting; ++k) counting = values[k] == values[k - 1] + 1 && values[k - 1] >= 0;
    if (years || counting) return false;
  }
  if (plus) return d.size() >= 8 && d.size() <= 15;
  if (context) return d.size() >= 7 && d.size() <= 13;
  bool thousands = groups.size() >= 2 && groups[0] <= 3 &&
                   std::all_of(groups.begin() + 1, groups.end(), [](size_t g) { return g == 3; });
  if (thousands) return false;
  return (d.size() >= 10 && d.size() <= 13 && (groups.size() >= 2 || paren)) ||
         (d.size() >= 8 && d.size() <= 11 && groups.size() >= 3);
}

PiiDetector::PiiDetector(const PiiOptions& options) : impl_(std::make_unique<Impl>()) { impl_->o = options; }
PiiDetector::~PiiDetector() = default;
PiiDetector::PiiDetector(PiiDetector&&) noexcept = default;

std::vector<PiiMatch> PiiDetector::find(std::string_view text) const {
  const Impl& x = *impl_;
  std::vector<PiiMatch> all;
  auto on = [&](PiiKind k) { return x.o.kinds[size_t(k)]; };
  auto add = [&](PiiKind k, size_t b, size_t e) {
    all.push_back({k, b, e});
    return true;
  };

  if (on(PiiKind::kEmail))
    x.scan(x.email, text, [&](size_t b, size_t e) {
      add(PiiKind::kEmail, b, e);
      return true;
    });
  if (on(PiiKind::kIban))
    x.scan(x.iban, text, [&](size_t b, size_t e) {
      // The pattern may run into following words ("GB82WEST... and"): shorten at spaces.
      while (e - b >= 15) {
        if (iban_valid(text.substr(b, e - b))) return add(PiiKind::kIban, b, e);
        size_t sp = text.substr(b, e - b).rfind(' ');
        if (sp == std::string_view::npos) return false;
        e = b + sp;
      }
      return false;
    });
  if (on(PiiKind::kCreditCard))
    x.scan(x.card, text, [&](size_t b, size_t e) {
      std::string_view s = text.substr(b, e - b);
      std::string d = digits_of(s);
      if (d.size() < 13 || d.size() > 19 || !card_layout_ok(s) || !luhn_valid(d)) return false;
      if (std::all_of(d.begin(), d.end(), [&](char c) { return c == d[0]; })) return false;  // 0000 0000 ...
      if (extends_number(text, b, e, "-. ") || after_isbn(text, b)) return false;
      if ((b > 0 && text[b - 1] == '/') || (e < text.size() && text[e] == '/')) return false;  // URL paths, timestamps
      return add(PiiKind::kCreditCard, b, e);
    });
  if (on(PiiKind::kSsn))
    x.scan(x.ssn, text, [&](size_t b, size_t e) {
      std::string_view s = text.substr(b, e - b);
      if (s[3] != s[6]) return false;  // one separator
      int area = std::stoi(std::string(s.substr(0, 3))), group = std::stoi(std::string(s.substr(4, 2))),
          serial = std::stoi(std::string(s.substr(7, 4)));
      // SSA: no area 000, 666 or 900-999; no group 00; no serial 0000.
      if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0) return false;
      if (extends_number(text, b, e, "-. ")) return false;
      return add(PiiKind::kSsn, b, e);
    });
  if (on(PiiKind::kIp)) {
    x.scan(x.ipv4, text, [&](size_t b, size_t e) {
      bool priv = false;
      if (!ipv4_valid(text.substr(b, e - b), &priv) || extends_number(text, b, e, ".")) return false;
      if (priv && x.o.skip_private_ips) return true;  // a real address, deliberately kept
      return add(PiiKind::kIp, b, e);
    });
    x.scan(x.ipv6, text, [&](size_t b, size_t e) {
      std::string_view s = text.substr(b, e - b);
      if (std::count(s.begin(), s.end(), ':') < 2 || s.find_first_not_of(":") == std::string_view::npos) return false;
      if ((b > 0 && (is_alnum(text[b - 1]) || text[b - 1] == ':')) || (e < text.size() && is_alnum(text[e])))
        return false;
      bool priv = false;
      if (!ipv6_valid(s, &priv)) return false;
      if (priv && x.o.skip_private_ips) return true;
      return add(PiiKind::kIp, b, e);
    });
  }
  if (on(PiiKind::kPhone))
    x.scan(x.phone, text, [&](size_t b, size_t e) { return x.accept_phone(text, b, e) && add(PiiKind::kPhone, b, e); });

  // Overlaps: higher-priority kinds (lower enum value) first, then earlier, then longer.
  std::sort(all.begin(), all.end(), [](const PiiMatch& a, const PiiMatch& b) {
    if (a.kind != b.kind) return a.kind < b.kind;
    if (a.begin != b.begin) return a.begin < b.begin;
    return a.end > b.end;
  });
  std::vector<PiiMatch> kept;
  for (const PiiMatch& m : all) {
    bool overlaps = false;
    for (const PiiMatch& k : kept) overlaps = overlaps || (m.begin < k.end && k.begin < m.end);
    if (!overlaps) kept.push_back(m);
  }
  std::sort(kept.begin(), kept.end(), [](const PiiMatch& a, const PiiMatch& b) { return a.begin < b.begin; });
  return kept;
}

std::string redact(std::string_view text, const std::vector<PiiMatch>& matches) {
  std::string out;
  out.reserve(text.size());
  size_t at = 0;
  for (const PiiMatch& m : matches) {
    out.append(text.substr(at, m.begin - at));
    out.append(pii_placeholder(m.kind));
    at = m.end;
  }
  out.append(text.substr(at));
  return out;
}

namespace {

class PiiStage final : public Stage {
 public:
  explicit PiiStage(const PiiStageOptions& o) : o_(o), detector_(o.detector) {}
  std::string_view name() const override { return "pii"; }
  Verdict process(Document& doc, StageState*) const override {
    std::vector<PiiMatch> found = detector_.find(doc.text);
    size_t counts[kNumPiiKinds] = {};
    for (auto& m : found) ++counts[size_t(m.kind)];
    std::string attr = "{";
    for (size_t k = 0; k < kNumPiiKinds; ++k) {
      if (k) attr += ',';
      attr += cat("\"", kNames[k], "\":", counts[k]);
    }
    doc.set_attribute("pii", attr + "}");
    if (o_.mode == PiiMode::kDrop && !found.empty()) {
      size_t first = kNumPiiKinds;
      for (size_t k = 0; k < kNumPiiKinds && first == kNumPiiKinds; ++k)
        if (counts[k]) first = k;
      return Verdict::drop(kDropReasons[first]);
    }
    if (o_.mode == PiiMode::kRedact && !found.empty()) doc.text = redact(doc.text, found);
    return Verdict::keep();
  }

 private:
  PiiStageOptions o_;
  PiiDetector detector_;
};

}  // namespace

std::unique_ptr<Stage> make_pii_stage(const PiiStageOptions& options) { return std::make_unique<PiiStage>(options); }

void register_pii_stages(StageRegistry& registry) {
  registry.add({"pii",
                "find e-mails, phones, IPs, Luhn-valid cards, IBANs, US SSNs; mode=redact (<EMAIL>...)|tag|drop; "
                "kinds=[...], skip_private_ips; attribute pii = counts per kind",
                [](const StageConfig& c) {
                  PiiStageOptions o;
                  std::string mode = c.get_string("mode", "redact");
                  if (mode == "redact") o.mode = PiiMode::kRedact;
                  else if (mode == "tag") o.mode = PiiMode::kTag;
                  else if (mode == "drop") o.mode = PiiMode::kDrop;
                  else throw Error(cat(c.where("mode"), ": mode must be \"redact\", \"tag\" or \"drop\""));
                  if (c.has("kinds")) {
                    o.detector.kinds.fill(false);
                    for (const auto& k : c.get_strings("kinds", {})) {
                      auto it = std::find(std::begin(kNames), std::end(kNames), k);
                      if (it == std::end(kNames))
                        throw Error(cat(c.where("kinds"), ": unknown PII kind '", k,
                                        "' (email, iban, credit_card, ssn, ip, phone)"));
                      o.detector.kinds[size_t(it - std::begin(kNames))] = true;
                    }
                  }
                  o.detector.skip_private_ips = c.get_bool("skip_private_ips", false);
                  return make_pii_stage(o);
                }});
}

}  // namespace kiln
