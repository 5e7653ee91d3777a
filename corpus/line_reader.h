// LineReader: '\n'-separated lines from an InputStream, in bounded memory.
//
// A line longer than `max_line_bytes` is not buffered whole: the reader keeps its first
// `max_line_bytes` bytes, skips the rest up to the next newline, and reports the line as
// kTooLong with its true length, so a 1 GB line costs max_line_bytes of memory and the
// run can reject it and go on.
//
//   LineReader lines(InputStream::open(path));
//   LineReader::Line line;
//   while (lines.next(line)) use(line.text, line.number);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "corpus/stream.h"

namespace kiln {

class LineReader {
 public:
  struct Line {
    std::string_view text;  // without the '\n' (a trailing '\r' is kept); valid until next()
    uint64_t number = 0;    // 1-based
    uint64_t offset = 0;    // byte offset of the line's start in the decoded stream
    uint64_t length = 0;    // full length in bytes, which exceeds text.size() when too long
    bool too_long = false;  // text holds only the first max_line_bytes bytes
  };

  // 64 MiB by default: the longest web documents seen in real crawls are a few MB.
  explicit LineReader(std::unique_ptr<InputStream> in, size_t max_line_bytes = size_t(64) << 20);

  // Reads the next line; false at the end of input. Throws Error from the stream.
  bool next(Line& line);

  InputStream& stream() { return *in_; }
  uint64_t offset() const { return consumed_; }  // decoded bytes consumed so far

 private:
  bool fill();

  std::unique_ptr<InputStream> in_;
  size_t max_line_bytes_;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;  // unread bytes are buf_[begin_, end_)
  bool eof_ = false;
  uint64_t line_number_ = 0;
  uint64_t consumed_ = 0;
  std::string long_line_;  // holds the kept prefix of a too-long line
};

}  // namespace kiln
