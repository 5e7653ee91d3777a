#include "corpus/line_reader.h"

#include <cstring>

namespace kiln {

LineReader::LineReader(std::unique_ptr<InputStream> in, size_t max_line_bytes)
    : in_(std::move(in)), max_line_bytes_(max_line_bytes), buf_(size_t(1) << 20) {}

// Moves unread bytes to the front, grows the buffer if it is full, reads more.
bool LineReader::fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
  size_t n = in_->read(buf_.data() + end_, buf_.size() - end_);
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += n;
  return true;
}

bool LineReader::next(Line& line) {
  size_t scanned = 0;  // bytes of the current line already searched for '\n'
  for (;;) {
    const char* start = buf_.data() + begin_;
    const void* nl = std::memchr(start + scanned, '\n', end_ - begin_ - scanned);
    if (nl || (eof_ && end_ > begin_)) {
      size_t len = nl ? size_t(static_cast<const char*>(nl) - start) : end_ - begin_;
      line = Line{std::string_view(start, len), ++line_number_, consumed_, len, false};
      size_t advance = nl ? len + 1 : len;
      begin_ += advance;
      consumed_ += advance;
      return true;
    }
    if (eof_) return false;
    scanned = end_ - begin_;
    if (scanned >= max_line_bytes_) {
      // Too long: keep the prefix, discard bytes up to the next newline.
      long_line_.assign(start, max_line_bytes_);
      uint64_t offset = consumed_, length = scanned;
      begin_ = end_;
      for (;;) {
        if (!fill()) break;
        const char* s = buf_.data() + begin_;
        const void* p = std::memchr(s, '\n', end_ - begin_);
        if (p) {
          size_t k = size_t(static_cast<const char*>(p) - s);
          length += k;
          begin_ += k + 1;
          consumed_ = offset + length + 1;
          line = Line{long_line_, ++line_number_, offset, length, true};
          return true;
        }
        length += end_ - begin_;
        begin_ = end_;
      }
      consumed_ = offset + length;
      line = Line{long_line_, ++line_number_, offset, length, true};
      return true;
    }
    size_t before = begin_;
    fill();
    (void)before;
  }
}

}  // namespace kiln
