// Personal data (PII) detection and redaction: e-mail addresses, phone numbers, IPv4/IPv6
// addresses, payment card numbers (Luhn-checked), IBANs (ISO 13616 mod-97 checked) and US
// social security numbers. RE2 finds candidates; each kind's validator then rejects what
// only looks like one (dates and version numbers as phones, ISBNs as cards, 999.1.1.1
// as an IP), and overlapping finds are resolved by a fixed priority.
//
//   PiiDetector detector;                                  // every kind, private IPs included
//   std::vector<PiiMatch> found = detector.find(text);     // sorted, non-overlapping
//   std::string clean = redact(text, found);               // "mail <EMAIL> or call <PHONE>"
//
// As a stage (`pii`): mode = "redact" (default: replace with <EMAIL>, <PHONE>, <IP>,
// <CREDIT_CARD>, <IBAN>, <SSN>), "tag" (text unchanged) or "drop" (reason "pii_<kind>");
// every mode writes the attribute "pii": {"email": 1, "phone": 0, ...}.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/stage.h"

namespace kiln {

// In overlap priority order: when two finds overlap, the earlier kind here wins.
enum class PiiKind : uint8_t { kEmail, kIban, kCreditCard, kSsn, kIp, kPhone };
constexpr size_t kNumPiiKinds = 6;
std::string_view pii_kind_name(PiiKind kind);         // "email", "iban", "credit_card", "ssn", "ip", "phone"
std::string_view pii_placeholder(PiiKind kind);       // "<EMAIL>", ...

struct PiiMatch {
  PiiKind kind;
  size_t begin = 0;  // byte offsets into the text
  size_t end = 0;
};

struct PiiOptions {
  std::array<bool, kNumPiiKinds> kinds = {true, true, true, true, true, true};  // by PiiKind
  bool skip_private_ips = false;  // leave 10/8, 172.16/12, 192.168/16, 127/8, 169.254/16, ::1, fc00::/7, fe80::/10
};

class PiiDetector {
 public:
  explicit PiiDetector(const PiiOptions& options = {});
  ~PiiDetector();
  PiiDetector(PiiDetector&&) noexcept;
  // Thread-safe. Matches sorted by begin, non-overlapping.
  std::vector<PiiMatch> find(std::string_view text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `text` with every match replaced by its placeholder.
std::string redact(std::string_view text, const std::vector<PiiMatch>& matches);

// Validators, exposed for tests.
bool luhn_valid(std::string_view digits);            // digits only
bool iban_valid(std::string_view iban);              // letters and digits, spaces ignored, any case
bool ipv4_valid(std::string_view s, bool* is_private = nullptr);
bool ipv6_valid(std::string_view s, bool* is_private = nullptr);

enum class PiiMode { kRedact, kTag, kDrop };
struct PiiStageOptions {
  PiiMode mode = PiiMode::kRedact;
  PiiOptions detector;
};
std::unique_ptr<Stage> make_pii_stage(const PiiStageOptions& options);
void register_pii_stages(StageRegistry& registry);

}  // namespace kiln
