// Byte streams: decompressing input and atomic (optionally compressed) output files.
//
// InputStream detects compression from the first bytes, not the file name (crawls are
// full of `.gz` files that are not gzip): gzip (any number of concatenated members, as in
// per-record-gzip WARC), zstd (any number of frames), or plain bytes. "-" is stdin.
// A truncated or corrupt stream throws kiln::Error naming the file and the compressed
// byte offset; everything decoded before that point has already been delivered.
//
//   auto in = InputStream::open("part-0.jsonl.zst");
//   char buf[1 << 16];
//   while (size_t n = in->read(buf, sizeof buf)) consume(buf, n);
//
// AtomicFile writes to `<path>.tmp.<pid>` and renames over `path` in commit(), so a
// killed run never leaves a half-written file under the final name.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace kiln {

enum class Compression { kNone, kGzip, kZstd };

// Compression implied by a file name's extension (.gz, .zst); used for outputs.
Compression compression_for_path(std::string_view path);
std::string_view compression_name(Compression c);

class InputStream {
 public:
  virtual ~InputStream() = default;
  // Opens a file ("-" = stdin) and sniffs its compression. Throws Error if it cannot.
  static std::unique_ptr<InputStream> open(const std::string& path);

  // Reads up to `size` decoded bytes into `out`; returns 0 only at the end of the stream.
  virtual size_t read(char* out, size_t size) = 0;

  const std::string& path() const { return path_; }
  Compression compression() const { return compression_; }
  // Bytes consumed from the underlying file so far (compressed offset).
  uint64_t file_offset() const { return file_offset_; }
  // Size of the file in bytes if known (regular file), else 0. For progress reporting.
  uint64_t file_size() const { return file_size_; }

 protected:
  std::string path_;
  Compression compression_ = Compression::kNone;
  uint64_t file_offset_ = 0;
  uint64_t file_size_ = 0;
};

// Compresses `input` into one self-contained zstd frame or gzip member, appended to
// `out`. Concatenated frames (members) form a valid stream, which lets the pipeline
// compress batches on all cores and still write one ordinary .zst (.gz) file.
void compress_append(Compression c, int level, std::string_view input, std::string& out);

class AtomicFile {
 public:
  // Opens `<path>.tmp.<pid>` for writing; "-" writes straight to stdout.
  explicit AtomicFile(std::string path);
  ~AtomicFile();  // removes the temporary file unless commit() ran
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::string_view bytes);
  // Flushes, fsyncs and renames the temporary file to its final name.
  void commit();
  const std::string& path() const { return path_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  std::string path_;
  std::string temp_path_;
  FILE* file_ = nullptr;
  bool to_stdout_ = false;
  bool committed_ = false;
  uint64_t bytes_written_ = 0;
};

// Reads a whole (possibly compressed) file into memory. For small inputs and tests.
std::string read_file(const std::string& path);
// Writes a whole file atomically, compressed according to its extension.
void write_file(const std::string& path, std::string_view bytes);

}  // namespace kiln
