// kiln's one way to report errors: exceptions of type kiln::Error.
//
// Bad input (a file that cannot be opened, a truncated .zst, a WARC record whose
// Content-Length runs past the end) throws kiln::Error with a message that names the
// file and the line or byte offset and says what was expected. Libraries never print
// and never exit; the `kiln` CLI catches Error at the top and prints it.
//
// Per-document problems that a run survives (a malformed JSON line, text that is not
// UTF-8) are not exceptions: readers hand them to the pipeline as rejected records,
// which go to the rejects output with their reason. Asserts are for programmer errors.
//
//   throw kiln::Error(kiln::cat(path, ":", line, ": expected a JSON object"));
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace kiln {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Concatenates its arguments with operator<< (GCC 12 has no <format>).
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

}  // namespace kiln
