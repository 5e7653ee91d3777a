// Read-only memory map of a whole file (private to dedup/).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "corpus/error.h"

namespace kiln::dedup {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw Error(cat(path, ": cannot open: ", std::strerror(errno)));
    struct stat st {};
    ::fstat(fd, &st);
    size_ = size_t(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        throw Error(cat(path, ": cannot map: ", std::strerror(errno)));
      }
      data_ = static_cast<const char*>(p);
    }
    ::close(fd);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  template <class T>
  const T* as() const {
    return reinterpret_cast<const T*>(data_);
  }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// Buffered binary append-only file.
class BinaryWriter {
 public:
  explicit BinaryWriter(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "wb")) {
    if (!file_) throw Error(cat(path, ": cannot create: ", std::strerror(errno)));
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  }
  ~BinaryWriter() {
    if (file_) std::fclose(file_);
  }
  void write(const void* data, size_t bytes) {
    if (bytes && std::fwrite(data, 1, bytes, file_) != bytes)
      throw Error(cat(path_, ": write failed: ", std::strerror(errno)));
    written_ += bytes;
  }
  void close() {
    if (file_ && std::fclose(file_) != 0) {
      file_ = nullptr;
      throw Error(cat(path_, ": write failed: ", std::strerror(errno)));
    }
    file_ = nullptr;
  }
  uint64_t written() const { return written_; }

 private:
  std::string path_;
  FILE* file_;
  uint64_t written_ = 0;
};

}  // namespace kiln::dedup
