// .tiktoken rank files: one "<base64 of the token bytes> <rank>" per line.
#include <array>
#include <charconv>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "tokenizer/src/model.h"
#include "tokenizer/tokenizer.h"

namespace kiln::tokenizer {

namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool base64_decode(std::string_view in, std::string& out) {
  static const auto table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kBase64[i])] = static_cast<int8_t>(i);
    return t;
  }();
  out.clear();
  if (in.size() % 4 != 0) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '=') {
      if (i + 2 < in.size() || (i + 1 < in.size() && in[i + 1] != '=')) return false;
      break;
    }
    const int v = table[static_cast<unsigned char>(c)];
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return true;
}

std::string base64_encode(std::string_view in) {
  std::string out;
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += kBase64[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kBase64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

Tokenizer Tokenizer::from_tiktoken_file(const std::string& path, Pattern pattern,
                                        std::vector<SpecialToken> special_tokens) {
  const std::string data = read_file(path);
  std::vector<std::pair<std::string, uint32_t>> ranks;
  ranks.reserve(data.size() / 12);
  size_t line_no = 0;
  std::string bytes;
  for (size_t pos = 0; pos < data.size();) {
    size_t end = data.find('\n', pos);
    if (end == std::string::npos) end = data.size();
    std::string_view line(data.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    uint32_t rank = 0;
    const char* rank_end = line.data() + line.size();
    if (space == std::string_view::npos || !base64_decode(line.substr(0, space), bytes) || bytes.empty() ||
        std::from_chars(line.data() + space + 1, rank_end, rank).ptr != rank_end) {
      throw Error(cat(path, ":", line_no, ": expected \"<base64 token> <rank>\", got \"",
                      line.substr(0, std::min<size_t>(line.size(), 60)), "\""));
    }
    ranks.emplace_back(bytes, rank);
  }
  try {
    return from_ranks(std::move(ranks), pattern, std::move(special_tokens));
  } catch (const Error& e) {
    throw Error(cat(path, ": ", e.what()));
  }
}

void Tokenizer::save_tiktoken_file(const std::string& path) const {
  const detail::Model& m = *model_;
  if (m.rule != MergeRule::kRanks) {
    throw Error(cat(path, ": a tokenizer with an HF merge list cannot be saved as .tiktoken ranks"));
  }
  std::string out;
  for (uint32_t id = 0; id < m.tokens.size(); ++id) {
    if (!m.used[id]) continue;
    out += base64_encode(m.tokens[id]);
    out += ' ';
    out += std::to_string(id);
    out += '\n';
  }
  write_file(path, out);
}

}  // namespace kiln::tokenizer
