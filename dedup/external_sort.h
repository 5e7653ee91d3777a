// ExternalSorter: sorts more fixed-size records than fit in memory.
//
// Records are buffered until the caller decides to spill (it owns the memory budget,
// shared by many sorters); a spill sorts the buffer and writes it as one run file.
// merge() streams every record in ascending order through a k-way merge of the runs,
// merging groups of runs first when there are more than the budget allows to open at
// once. Records must be trivially copyable with a strict total order (operator<);
// records comparing equal must be identical, so the merged order is unique and the
// output never depends on how the input was cut into runs.
//
//   ExternalSorter<KeyRecord> sorter(work_dir, "band-03");
//   sorter.push(record);
//   if (sorter.buffered_bytes() > budget) sorter.spill();
//   sorter.merge(budget, [&](const KeyRecord& r) { ... });
#pragma once

#include <tbb/parallel_sort.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <queue>
#include <string>
#include <type_traits>
#include <vector>

#include "corpus/error.h"

namespace kiln::dedup {

template <class T>
class ExternalSorter {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  ExternalSorter(std::string dir, std::string name) : dir_(std::move(dir)), name_(std::move(name)) {}
  ExternalSorter(ExternalSorter&&) = default;

  void push(const T& v) { buffer_.push_back(v); }
  uint64_t buffered_bytes() const { return buffer_.size() * sizeof(T); }
  size_t num_runs() const { return runs_.size(); }
  uint64_t num_records() const { return spilled_ + buffer_.size(); }
  const std::vector<std::string>& runs() const { return runs_; }

  // Sorts the buffer and writes it as a new run; frees the buffer. No-op when empty.
  void spill() {
    if (buffer_.empty()) return;
    tbb::parallel_sort(buffer_.begin(), buffer_.end());
    std::string path = run_path(next_run_++);
    write_run(path, buffer_.data(), buffer_.size());
    spilled_ += buffer_.size();
    runs_.push_back(std::move(path));
    std::vector<T>().swap(buffer_);
  }

  // Takes over run files an earlier process wrote under the same name (resume).
  void adopt_runs(const std::vector<std::string>& paths, uint64_t records) {
    runs_ = paths;
    next_run_ = paths.size();
    spilled_ = records;
  }

  // Calls f(record) for every record in ascending order. The buffer (if any) takes part
  // as one more run. `memory_bytes` bounds the read buffers of the runs merged at once.
  template <class F>
  void merge(uint64_t memory_bytes, F&& f) {
    std::sort(buffer_.begin(), buffer_.end());
    const size_t per_run = std::max<uint64_t>(kMinReadBytes, 1) / sizeof(T) + 1;
    size_t fan_in = std::max<size_t>(2, memory_bytes / (per_run * sizeof(T)));
    fan_in = std::min<size_t>(fan_in, 512);
    while (runs_.size() + (buffer_.empty() ? 0 : 1) > fan_in) {  // intermediate passes
      std::vector<std::string> next;
      for (size_t i = 0; i < runs_.size(); i += fan_in) {
        std::vector<std::string> group(runs_.begin() + i, runs_.begin() + std::min(runs_.size(), i + fan_in));
        if (group.size() == 1) {
          next.push_back(group[0]);
          continue;
        }
        std::string path = run_path(next_run_++);
        {
          RunWriter out(path);
          merge_runs(group, {}, memory_bytes, [&](const T& v) { out.add(v); });
        }
        for (auto& g : group) std::filesystem::remove(g);
        next.push_back(std::move(path));
      }
      runs_ = std::move(next);
    }
    merge_runs(runs_, buffer_, memory_bytes, f);
  }

  void remove_runs() {
    for (auto& r : runs_) std::filesystem::remove(r);
    runs_.clear();
    spilled_ = 0;
    std::vector<T>().swap(buffer_);
  }

 private:
  static constexpr uint64_t kMinReadBytes = 16 << 10;

  std::string run_path(size_t index) const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "-%05zu.run", index);
    return dir_ + "/" + name_ + buf;
  }

  static void write_run(const std::string& path, const T* data, size_t n) {
    RunWriter out(path);
    out.add_many(data, n);
  }

  class RunWriter {
   public:
    explicit RunWriter(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "wb")) {
      if (!file_) throw Error(cat(path, ": cannot create run file: ", std::strerror(errno)));
      buf_.reserve(kBuf);
    }
    ~RunWriter() noexcept(false) {
      flush();
      bool ok = std::fclose(file_) == 0;
      if (!ok && std::uncaught_exceptions() == 0) throw Error(cat(path_, ": write failed: ", std::strerror(errno)));
    }
    void add(const T& v) {
      buf_.push_back(v);
      if (buf_.size() == kBuf) flush();
    }
    void add_many(const T* data, size_t n) {
      if (n && std::fwrite(data, sizeof(T), n, file_) != n)
        throw Error(cat(path_, ": write failed: ", std::strerror(errno)));
    }

   private:
    static constexpr size_t kBuf = (64 << 10) / sizeof(T) + 1;
    void flush() {
      add_many(buf_.data(), buf_.size());
      buf_.clear();
    }
    std::string path_;
    FILE* file_;
    std::vector<T> buf_;
  };

  // A run being read: a window of `cap` records refilled from the file.
  struct Cursor {
    FILE* file = nullptr;
    std::string path;
    std::vector<T> buf;  // sized to the window; [0, len) holds data
    size_t len = 0;
    size_t pos = 0;
    const T* mem = nullptr;  // the in-memory run instead of a file
    size_t mem_size = 0;

    bool refill() {
      if (mem) return pos < mem_size;
      if (pos < len) return true;
      size_t got = std::fread(buf.data(), sizeof(T), buf.size(), file);
      if (got == 0 && std::ferror(file)) throw Error(cat(path, ": read failed: ", std::strerror(errno)));
      len = got;
      pos = 0;
      return got > 0;
    }
    const T& head() const { return mem ? mem[pos] : buf[pos]; }
  };

  template <class F>
  static void merge_runs(const std::vector<std::string>& paths, const std::vector<T>& memory_run,
                         uint64_t memory_bytes, F&& f) {
    size_t sources = paths.size() + (memory_run.empty() ? 0 : 1);
    if (sources == 0) return;
    size_t cap = std::max<uint64_t>(kMinReadBytes / sizeof(T) + 1, memory_bytes / sources / sizeof(T));
    cap = std::min<size_t>(cap, (size_t(4) << 20) / sizeof(T) + 1);
    std::vector<Cursor> cursors(sources);
    struct Closer {
      std::vector<Cursor>& c;
      ~Closer() {
        for (auto& x : c)
          if (x.file) std::fclose(x.file);
      }
    } closer{cursors};
    for (size_t i = 0; i < paths.size(); ++i) {
      Cursor& c = cursors[i];
      c.path = paths[i];
      c.file = std::fopen(paths[i].c_str(), "rb");
      if (!c.file) throw Error(cat(paths[i], ": cannot open run file: ", std::strerror(errno)));
      c.buf.resize(cap);
    }
    if (!memory_run.empty()) {
      cursors.back().mem = memory_run.data();
      cursors.back().mem_size = memory_run.size();
    }
    if (sources == 1) {  // no heap needed
      Cursor& c = cursors[0];
      while (c.refill()) {
        f(c.head());
        ++c.pos;
      }
      return;
    }
    auto greater = [&](size_t a, size_t b) {
      const T& x = cursors[a].head();
      const T& y = cursors[b].head();
      if (y < x) return true;
      if (x < y) return false;
      return a > b;
    };
    std::priority_queue<size_t, std::vector<size_t>, decltype(greater)> heap(greater);
    for (size_t i = 0; i < sources; ++i)
      if (cursors[i].refill()) heap.push(i);
    while (!heap.empty()) {
      size_t i = heap.top();
      heap.pop();
      f(cursors[i].head());
      ++cursors[i].pos;
      if (cursors[i].refill()) heap.push(i);
    }
  }

  std::string dir_, name_;
  std::vector<T> buffer_;
  std::vector<std::string> runs_;
  size_t next_run_ = 0;
  uint64_t spilled_ = 0;
};

}  // namespace kiln::dedup
