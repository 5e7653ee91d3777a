#include "corpus/stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "corpus/error.h"

namespace kiln {
namespace {

constexpr size_t kFileBufferBytes = 1 << 17;

// Raw bytes from a file descriptor, with one-time lookahead for sniffing.
class FileSource {
 public:
  explicit FileSource(const std::string& path) : path_(path) {
    if (path == "-") {
      fd_ = STDIN_FILENO;
    } else {
      fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) throw Error(cat(path, ": cannot open: ", std::strerror(errno)));
      struct stat st {};
      if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) size_ = uint64_t(st.st_size);
      if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
        ::close(fd_);
        throw Error(cat(path, ": is a directory, expected a file"));
      }
    }
  }
  ~FileSource() {
    if (fd_ > STDIN_FILENO) ::close(fd_);
  }
  size_t read(char* out, size_t size) {
    for (;;) {
      ssize_t n = ::read(fd_, out, size);
      if (n >= 0) {
        offset_ += uint64_t(n);
        return size_t(n);
      }
      if (errno != EINTR) throw Error(cat(path_, ": read error at byte ", offset_, ": ", std::strerror(errno)));
    }
  }
  // Fills `out` with up to `size` bytes, looping over short reads.
  size_t read_full(char* out, size_t size) {
    size_t got = 0;
    while (got < size) {
      size_t n = read(out + got, size - got);
      if (n == 0) break;
      got += n;
    }
    return got;
  }
  uint64_t size() const { return size_; }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t offset_ = 0;
};

// Common part of the three decoders: a compressed-input buffer primed with sniffed bytes.
class BufferedInput : public InputStream {
 public:
  BufferedInput(std::unique_ptr<FileSource> file, std::string path, Compression c, std::vector<char> primed)
      : file_(std::move(file)), in_(std::move(primed)) {
    path_ = std::move(path);
    compression_ = c;
    file_size_ = file_->size();
    in_end_ = in_.size();
    in_.resize(std::max(in_.size(), kFileBufferBytes));
  }

 protected:
  // Refills the input buffer when it is exhausted; returns false at end of file.
  bool refill() {
    if (in_pos_ < in_end_) return true;
    in_pos_ = 0;
    in_end_ = file_->read(in_.data(), in_.size());
    return in_end_ > 0;
  }
  void consumed(size_t n) {
    in_pos_ += n;
    file_offset_ += n;
  }

  std::unique_ptr<FileSource> file_;
  std::vector<char> in_;
  size_t in_pos_ = 0;
  size_t in_end_ = 0;
};

class PlainInput final : public BufferedInput {
 public:
  using BufferedInput::BufferedInput;
  size_t read(char* out, size_t size) override {
    if (!refill()) return 0;
    size_t n = std::min(size, in_end_ - in_pos_);
    std::memcpy(out, in_.data() + in_pos_, n);
    consumed(n);
    return n;
  }
};

class GzipInput final : public BufferedInput {
 public:
  GzipInput(std::unique_ptr<FileSource> file, std::string path, std::vector<char> primed)
      : BufferedInput(std::move(file), std::move(path), Compression::kGzip, std::move(primed)) {
    std::memset(&z_, 0, sizeof z_);
    // 15 + 16: gzip wrapper only, so that a zlib or raw stream is an error, not a guess.
    if (inflateInit2(&z_, 15 + 16) != Z_OK) throw Error(cat(path_, ": cannot initialise zlib"));
  }
  ~GzipInput() override { inflateEnd(&z_); }

  size_t read(char* out, size_t size) override {
    if (size == 0) return 0;
    for (;;) {
      if (!refill()) {
        if (in_member_) {
          throw Error(cat(path_, ": truncated gzip stream: input ends inside a member at compressed byte offset ",
                          file_offset_));
        }
        return 0;
      }
      z_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
      z_.avail_in = uInt(in_end_ - in_pos_);
      z_.next_out = reinterpret_cast<Bytef*>(out);
      z_.avail_out = uInt(size);
      in_member_ = true;
      int rc = inflate(&z_, Z_NO_FLUSH);
      size_t used = (in_end_ - in_pos_) - z_.avail_in;
      size_t produced = size - z_.avail_out;
      consumed(used);
      if (rc == Z_STREAM_END) {
        // A member ended; the next bytes (if any) start another member.
        in_member_ = false;
        inflateReset(&z_);
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw Error(cat(path_, ": corrupt gzip data near compressed byte offset ", file_offset_, ": ",
                        z_.msg ? z_.msg : "inflate failed"));
      }
      if (produced > 0) return produced;
    }
  }

 private:
  z_stream z_;
  bool in_member_ = false;
};

class ZstdInput final : public BufferedInput {
 public:
  ZstdInput(std::unique_ptr<FileSource> file, std::string path, std::vector<char> primed)
      : BufferedInput(std::move(file), std::move(path), Compression::kZstd, std::move(primed)) {
    dctx_ = ZSTD_createDCtx();
    if (!dctx_) throw Error(cat(path_, ": cannot create zstd context"));
    // Accept the long windows that `zstd --long` and -19 produce.
    ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, 31);
  }
  ~ZstdInput() override { ZSTD_freeDCtx(dctx_); }

  size_t read(char* out, size_t size) override {
    if (size == 0) return 0;
    for (;;) {
      if (!refill()) {
        if (frame_open_) {
          throw Error(cat(path_, ": truncated zstd stream: input ends inside a frame at compressed byte offset ",
                          file_offset_));
        }
        return 0;
      }
      ZSTD_inBuffer input{in_.data() + in_pos_, in_end_ - in_pos_, 0};
      ZSTD_outBuffer output{out, size, 0};
      size_t rc = ZSTD_decompressStream(dctx_, &output, &input);
      consumed(input.pos);
      if (ZSTD_isError(rc)) {
        throw Error(cat(path_, ": corrupt zstd data near compressed byte offset ", file_offset_, ": ",
                        ZSTD_getErrorName(rc)));
      }
      frame_open_ = rc != 0;  // 0 means a frame was completely decoded and flushed
      if (output.pos > 0) return output.pos;
    }
  }

 private:
  ZSTD_DCtx* dctx_ = nullptr;
  bool frame_open_ = false;
};

}  // namespace

Compression compression_for_path(std::string_view path) {
  if (path.ends_with(".zst") || path.ends_with(".zstd")) return Compression::kZstd;
  if (path.ends_with(".gz")) return Compression::kGzip;
  return Compression::kNone;
}

std::string_view compression_name(Compression c) {
  switch (c) {
    case Compression::kGzip: return "gzip";
    case Compression::kZstd: return "zstd";
    case Compression::kNone: break;
  }
  return "none";
}

std::unique_ptr<InputStream> InputStream::open(const std::string& path) {
  auto file = std::make_unique<FileSource>(path);
  std::vector<char> head(4);
  head.resize(file->read_full(head.data(), head.size()));
  auto starts_with = [&](std::initializer_list<unsigned char> magic) {
    if (head.size() < magic.size()) return false;
    size_t i = 0;
    for (unsigned char m : magic)
      if (static_cast<unsigned char>(head[i++]) != m) return false;
    return true;
  };
  if (starts_with({0x1f, 0x8b})) return std::make_unique<GzipInput>(std::move(file), path, std::move(head));
  if (starts_with({0x28, 0xb5, 0x2f, 0xfd}))
    return std::make_unique<ZstdInput>(std::move(file), path, std::move(head));
  return std::make_unique<PlainInput>(std::move(file), path, Compression::kNone, std::move(head));
}

void compress_append(Compression c, int level, std::string_view input, std::string& out) {
  if (c == Compression::kNone) {
    out.append(input);
    return;
  }
  if (c == Compression::kZstd) {
    size_t bound = ZSTD_compressBound(input.size());
    size_t start = out.size();
    out.resize(start + bound);
    // Thread-local context: compress_append runs on every pipeline worker.
    thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
    // A content checksum per frame: a flipped bit in a shard is an error, never silent garbage.
    ZSTD_CCtx_reset(cctx.get(), ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
    size_t n = ZSTD_compress2(cctx.get(), out.data() + start, bound, input.data(), input.size());
    if (ZSTD_isError(n)) throw Error(cat("zstd compression failed: ", ZSTD_getErrorName(n)));
    out.resize(start + n);
    return;
  }
  z_stream z;
  std::memset(&z, 0, sizeof z);
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw Error("cannot initialise zlib deflate");
  size_t start = out.size();
  out.resize(start + deflateBound(&z, uLong(input.size())) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  z.avail_in = uInt(input.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data() + start);
  z.avail_out = uInt(out.size() - start);
  int rc = deflate(&z, Z_FINISH);
  size_t n = (out.size() - start) - z.avail_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw Error("gzip compression failed");
  out.resize(start + n);
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  if (path_ == "-") {
    to_stdout_ = true;
    file_ = stdout;
    return;
  }
  temp_path_ = cat(path_, ".tmp.", ::getpid());
  file_ = std::fopen(temp_path_.c_str(), "wb");
  if (!file_) throw Error(cat(temp_path_, ": cannot create: ", std::strerror(errno)));
}

AtomicFile::~AtomicFile() {
  if (to_stdout_ || committed_) return;
  if (file_) std::fclose(file_);
  std::remove(temp_path_.c_str());
}

void AtomicFile::write(std::string_view bytes) {
  if (bytes.empty()) return;
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size())
    throw Error(cat(to_stdout_ ? "<stdout>" : temp_path_, ": write failed: ", std::strerror(errno)));
  bytes_written_ += bytes.size();
}

void AtomicFile::commit() {
  if (committed_) return;
  if (std::fflush(file_) != 0) throw Error(cat(path_, ": flush failed: ", std::strerror(errno)));
  committed_ = true;
  if (to_stdout_) return;
  ::fsync(fileno(file_));
  std::fclose(file_);
  file_ = nullptr;
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0)
    throw Error(cat(path_, ": cannot rename from ", temp_path_, ": ", std::strerror(errno)));
}

std::string read_file(const std::string& path) {
  auto in = InputStream::open(path);
  std::string data;
  std::vector<char> buf(1 << 16);
  while (size_t n = in->read(buf.data(), buf.size())) data.append(buf.data(), n);
  return data;
}

void write_file(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  Compression c = compression_for_path(path);
  if (c == Compression::kNone) {
    file.write(bytes);
  } else {
    std::string encoded;
    compress_append(c, c == Compression::kZstd ? 3 : 6, bytes, encoded);
    file.write(encoded);
  }
  file.commit();
}

}  // namespace kiln
