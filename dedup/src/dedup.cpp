#include "dedup/dedup.h"

#include <simdjson.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_pipeline.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "corpus/text.h"
#include "dedup/external_sort.h"
#include "dedup/src/comm.h"
#include "dedup/src/mapped_file.h"
#include "dedup/union_find.h"

namespace kiln::dedup {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// docs.bin holds one DocMeta per document, indexed by ordinal.
struct DocMeta {
  uint64_t source_offset = 0;
  uint64_t id_offset = 0;       // into ids.bin
  uint64_t shingle_offset = 0;  // into shingles.bin, in uint64 units
  uint64_t text_bytes = 0;
  Key128 exact;                 // xxh3-128 of the exact-normalized text
  Key128 url;                   // xxh3-128 of the normalized URL (has_url)
  double quality = 0;
  uint32_t input = 0;
  uint32_t id_len = 0;
  uint32_t num_shingles = 0;  // sorted, unique; only with verification
  uint8_t has_signature = 0;
  uint8_t has_url = 0;
  uint16_t pad = 0;
};
static_assert(sizeof(DocMeta) == 88, "docs.bin record layout (dedup/README.md)");

// One bucket entry of a band (or of the exact hash): sorted by key, then ordinal.
struct KeyRecord {
  Key128 key;
  uint64_t doc = 0;
  friend bool operator<(const KeyRecord& a, const KeyRecord& b) {
    return a.key != b.key ? a.key < b.key : a.doc < b.doc;
  }
};

struct MemberRecord {
  uint64_t root = 0, doc = 0;
  friend bool operator<(const MemberRecord& a, const MemberRecord& b) {
    return a.root != b.root ? a.root < b.root : a.doc < b.doc;
  }
};

bool uses_exact(DedupMode m) { return m != DedupMode::kNear; }
bool uses_near(DedupMode m) { return m != DedupMode::kExact; }

uint64_t peak_rss() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return uint64_t(ru.ru_maxrss) * 1024;
}

uint64_t file_size_or_zero(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

std::string identity_of(const std::vector<std::string>& inputs, const DedupOptions& o) {
  std::string s = o.describe();
  for (auto& in : inputs) s += cat("\n", in, "\t", file_size_or_zero(in));
  XXH128_hash_t h = XXH3_128bits(s.data(), s.size());
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
  return buf;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text_atomic(const std::string& path, const std::string& text) {
  AtomicFile f(path);
  f.write(text);
  f.commit();
}

// scheme://Host:port/path?query#fragment → scheme and host lowercased, fragment and one
// trailing '/' dropped: the spellings of one page that crawls commonly hold. The JSON
// escapes of the raw value are kept (they are the same for the same URL).
void normalize_url(std::string_view url, std::string& out) {
  out.assign(url);
  if (size_t hash = out.find('#'); hash != std::string::npos) out.resize(hash);
  size_t scheme = out.find("://");
  size_t host_end = out.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (host_end == std::string::npos) host_end = out.size();
  for (size_t i = 0; i < host_end; ++i)
    if (out[i] >= 'A' && out[i] <= 'Z') out[i] = char(out[i] + 32);
  if (out.size() > host_end + 1 && out.back() == '/') out.pop_back();
  if (out.size() == host_end + 1 && out.back() == '/') out.pop_back();
}

double parse_quality(const Document& doc, const std::string& field) {
  if (field.empty()) return 0;
  const std::string* raw = doc.field(field);
  if (!raw) raw = doc.attribute(field);
  if (!raw || raw->empty()) return -std::numeric_limits<double>::infinity();
  char* end = nullptr;
  double v = std::strtod(raw->c_str(), &end);
  return end == raw->c_str() || std::isnan(v) ? -std::numeric_limits<double>::infinity() : v;
}

// ---- pass 1: signatures ---------------------------------------------------------------

struct SigBatch {
  std::vector<Record> records;
  std::vector<DocMeta> metas;
  std::string ids;
  std::vector<uint64_t> shingles;
  std::vector<Key128> keys;  // (docs with a signature, bands)
  uint64_t unreadable = 0, without_shingles = 0;
  std::string stream_error;
};

// One record on the wire between ranks: which sorter (exact = 0 or band), key, ordinal.
struct WireRecord {
  uint32_t sorter = 0;
  uint32_t pad = 0;
  Key128 key;
  uint64_t doc = 0;
};

// docs.bin, ids.bin and shingles.bin of every rank (one part when single-process),
// memory-mapped, addressed by global ordinal.
class DocView {
 public:
  void add(const std::string& dir, uint64_t base, uint64_t count, bool shingles) {
    Part p;
    p.base = base;
    p.docs = std::make_unique<MappedFile>(dir + "/docs.bin");
    if (p.docs->size() != count * sizeof(DocMeta))
      throw Error(cat(dir, "/docs.bin: ", p.docs->size(), " bytes, expected ", count * sizeof(DocMeta)));
    p.ids = std::make_unique<MappedFile>(dir + "/ids.bin");
    if (shingles) p.shingles = std::make_unique<MappedFile>(dir + "/shingles.bin");
    parts_.push_back(std::move(p));
  }
  const DocMeta& meta(uint64_t d) const {
    const Part& p = part(d);
    return p.docs->as<DocMeta>()[d - p.base];
  }
  const uint64_t* shingles(uint64_t d) const {
    const Part& p = part(d);
    return p.shingles->as<uint64_t>() + p.docs->as<DocMeta>()[d - p.base].shingle_offset;
  }
  std::string_view id(uint64_t d) const {
    const Part& p = part(d);
    const DocMeta& m = p.docs->as<DocMeta>()[d - p.base];
    return {p.ids->data() + m.id_offset, m.id_len};
  }

 private:
  struct Part {
    uint64_t base = 0;
    std::unique_ptr<MappedFile> docs, ids, shingles;
  };
  const Part& part(uint64_t d) const {
    if (parts_.size() == 1) return parts_[0];
    size_t i = size_t(std::upper_bound(parts_.begin(), parts_.end(), d,
                                       [](uint64_t x, const Part& p) { return x < p.base; }) -
                      parts_.begin());
    return parts_[i - 1];
  }
  std::vector<Part> parts_;
};

class Index {
 public:
  Index(const std::vector<std::string>& inputs, const DedupOptions& o)
      : inputs_(inputs), o_(o), work_(o.resolved_work_dir()), hasher_(o.minhash), comm_(Comm::world()) {
    threads_ = o.threads > 0 ? o.threads : tbb::info::default_concurrency();
    verify_ = o.verify_threshold > 0 && uses_near(o.mode);
    bands_ = uses_near(o.mode) ? o.minhash.bands : 0;
    // Half the budget for spill buffers, half for batches in flight and merge windows.
    sort_budget_ = std::max<uint64_t>(o.memory_bytes / 2, 4096);
    merge_memory_ = std::max<uint64_t>(o.memory_bytes / 2, 4096);
    // Ranks take contiguous blocks of inputs, so global ordinals (rank base + local
    // ordinal) are exactly the single-process ordinals. The filter pass uses the same
    // blocks.
    const InputBlock block = dedup_rank_inputs(inputs.size());
    first_input_ = block.first;
    end_input_ = block.end;
    rank_dir_ = comm_.size() == 1 ? work_ : cat(work_, "/rank-", comm_.rank());
  }

  DedupStats run() {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads_));
    if (o_.output_dir.empty()) throw Error("dedup: no output directory given");
    const bool distributed = comm_.size() > 1;
    if (comm_.rank() == 0) {
      fs::create_directories(work_);
      fs::create_directories(o_.output_dir);
    }
    comm_.barrier();
    fs::create_directories(rank_dir_);
    identity_ = identity_of(inputs_, o_);
    const std::string clusters_done = work_ + "/clusters.done";
    const std::string signatures_done = rank_dir_ + "/signatures.done";
    // Resume is single-process only: under MPI every run recomputes (see README).
    const bool resume = o_.resume && !distributed;
    if (resume && fs::exists(clusters_done) && first_line(read_text(clusters_done)) == identity_) {
      DedupStats s = stats_from_marker(read_text(clusters_done));
      s.resumed = true;
      return s;
    }
    comm_.barrier();
    if (comm_.rank() == 0) fs::remove(clusters_done);
    make_sorters();
    // A clustering pass that was killed may have merged runs the marker still lists;
    // then pass 1 is redone.
    if (resume && fs::exists(signatures_done) && first_line(read_text(signatures_done)) == identity_ &&
        adopt_signatures(read_text(signatures_done))) {
    } else {
      fs::remove(signatures_done);
      for (auto& e : fs::directory_iterator(rank_dir_))
        if (e.is_regular_file()) fs::remove(e.path());
      make_sorters();
      auto t0 = Clock::now();
      signatures();
      stats_.seconds_signatures = std::chrono::duration<double>(Clock::now() - t0).count();
      write_text_atomic(signatures_done, signatures_marker());
    }
    if (comm_.rank() == 0) {
      std::string list;
      for (auto& in : inputs_) list += in + "\n";
      write_text_atomic(work_ + "/inputs.txt", list);
    }
    auto t0 = Clock::now();
    std::vector<uint64_t> counts = comm_.allgather(num_docs_);
    for (int r = 0; r < comm_.size(); ++r) {
      bases_.push_back(total_docs_);
      total_docs_ += counts[size_t(r)];
    }
    cluster();
    stats_.seconds_clustering = std::chrono::duration<double>(Clock::now() - t0).count();
    stats_.peak_rss_bytes = peak_rss();
    if (comm_.rank() == 0) {
      std::string json = stats_.to_json();
      write_text_atomic(o_.output_dir + "/dedup_stats.json", json + "\n");
      write_text_atomic(clusters_done, identity_ + "\n" + json + "\n");
    }
    comm_.barrier();  // other ranks return once rank 0's outputs exist
    stats_.rank = comm_.rank();
    stats_.num_ranks = comm_.size();
    return stats_;
  }

 private:
  static std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

  // Sorters in order: exact (unless near-only), url (with url_field), then the bands.
  size_t num_key_sorters() const { return (uses_exact(o_.mode) ? 1 : 0) + (o_.url_field.empty() ? 0 : 1); }
  size_t num_sorters() const { return num_key_sorters() + size_t(bands_); }
  // Exact and URL buckets are duplicates by definition: never verified.
  bool is_key_sorter(size_t s) const { return s < num_key_sorters(); }
  std::string sorter_name(size_t s) const {
    if (uses_exact(o_.mode) && s == 0) return "exact";
    if (!o_.url_field.empty() && s == num_key_sorters() - 1) return "url";
    size_t j = s - num_key_sorters();
    return cat("band-", j < 10 ? "0" : "", j);
  }
  void make_sorters() {
    sorters_.clear();
    for (size_t s = 0; s < num_sorters(); ++s) sorters_.emplace_back(rank_dir_, sorter_name(s));
  }
  ExternalSorter<KeyRecord>* exact_sorter() { return uses_exact(o_.mode) ? &sorters_[0] : nullptr; }
  ExternalSorter<KeyRecord>* url_sorter() {
    return o_.url_field.empty() ? nullptr : &sorters_[num_key_sorters() - 1];
  }
  ExternalSorter<KeyRecord>& band_sorter(int j) { return sorters_[size_t(j) + num_key_sorters()]; }

  uint64_t buffered_bytes(const std::vector<ExternalSorter<KeyRecord>>& sorters) const {
    uint64_t b = 0;
    for (auto& s : sorters) b += s.buffered_bytes();
    return b;
  }
  void spill_all(std::vector<ExternalSorter<KeyRecord>>& sorters) {
    for (auto& s : sorters) {
      if (s.buffered_bytes() == 0) continue;
      s.spill();
      ++stats_.runs_spilled;
    }
  }

  // ---- pass 1: signatures -------------------------------------------------------------

  void signatures() {
    BinaryWriter docs(rank_dir_ + "/docs.bin"), ids(rank_dir_ + "/ids.bin"), shingles(rank_dir_ + "/shingles.bin");
    uint64_t ids_written = 0, shingles_written = 0;
    const size_t tokens = size_t(2 * threads_);
    for (size_t input = first_input_; input < end_input_; ++input) {
      auto reader = DocumentReader::open(inputs_[input], o_.reader);
      bool done = false;
      auto read = [&](tbb::flow_control& fc) -> SigBatch* {
        if (done) {
          fc.stop();
          return nullptr;
        }
        auto batch = std::make_unique<SigBatch>();
        uint64_t bytes = 0;
        const uint64_t batch_bytes = std::clamp<uint64_t>(o_.memory_bytes / 4 / tokens, 64 << 10, 4 << 20);
        try {
          Record record;
          while (batch->records.size() < o_.batch_docs && bytes < batch_bytes) {
            if (!reader->next(record)) {
              done = true;
              break;
            }
            bytes += record.raw.size() + record.doc.text.size();
            batch->records.push_back(std::move(record));
          }
        } catch (const Error&) {
          // The filter pass meets the same stream error at the same place and reports
          // it; documents before it are indexed, so both passes agree on what exists.
          done = true;
        }
        if (batch->records.empty()) {
          fc.stop();
          return nullptr;
        }
        return batch.release();
      };
      auto work = [&, input](SigBatch* b) -> SigBatch* {
        process(*b, uint32_t(input));
        return b;
      };
      auto write = [&](SigBatch* raw) {
        std::unique_ptr<SigBatch> b(raw);
        size_t k = 0;
        for (DocMeta& m : b->metas) {
          const uint64_t ordinal = num_docs_++;
          m.id_offset += ids_written;
          m.shingle_offset += shingles_written;
          docs.write(&m, sizeof m);
          stats_.bytes += m.text_bytes;
          if (auto* ex = exact_sorter()) ex->push({m.exact, ordinal});
          if (auto* url = url_sorter(); url && m.has_url) url->push({m.url, ordinal});
          if (m.has_signature) {
            for (int j = 0; j < bands_; ++j) band_sorter(j).push({b->keys[k * bands_ + j], ordinal});
            ++k;
          }
        }
        ids.write(b->ids.data(), b->ids.size());
        ids_written += b->ids.size();
        shingles.write(b->shingles.data(), b->shingles.size() * sizeof(uint64_t));
        shingles_written += b->shingles.size();
        stats_.docs_unreadable += b->unreadable;
        stats_.docs_without_shingles += b->without_shingles;
        if (buffered_bytes(sorters_) > sort_budget_) spill_all(sorters_);
      };
      tbb::parallel_pipeline(tokens, tbb::make_filter<void, SigBatch*>(tbb::filter_mode::serial_in_order, read) &
                                         tbb::make_filter<SigBatch*, SigBatch*>(tbb::filter_mode::parallel, work) &
                                         tbb::make_filter<SigBatch*, void>(tbb::filter_mode::serial_in_order, write));
    }
    spill_all(sorters_);  // everything on disk: the marker can describe the runs
    docs.close();
    ids.close();
    shingles.close();
    stats_.docs = num_docs_;
  }

  void process(SigBatch& b, uint32_t input) {
    thread_local std::string norm;
    thread_local std::vector<uint64_t> shingles;
    thread_local std::vector<uint32_t> sig;
    sig.resize(size_t(hasher_.num_perm()));
    for (Record& record : b.records) {
      if (record.skipped()) continue;
      DocumentReader::decode(record, o_.reader);
      if (record.rejected()) {
        ++b.unreadable;
        continue;
      }
      const Document& doc = record.doc;
      DocMeta m;
      m.source_offset = doc.source_offset;
      m.input = input;
      m.id_offset = b.ids.size();
      m.id_len = uint32_t(doc.id.size());
      b.ids += doc.id;
      m.text_bytes = doc.text.size();
      m.quality = parse_quality(doc, o_.quality_field);
      normalize_text(doc.text, o_.exact_normalize, norm);
      XXH128_hash_t h = XXH3_128bits(norm.data(), norm.size());
      m.exact = {h.high64, h.low64};
      if (!o_.url_field.empty()) {
        if (const std::string* raw = doc.field(o_.url_field); raw && raw->size() > 2 && (*raw)[0] == '"') {
          normalize_url(std::string_view(*raw).substr(1, raw->size() - 2), norm);
          XXH128_hash_t u = XXH3_128bits(norm.data(), norm.size());
          m.url = {u.high64, u.low64};
          m.has_url = 1;
        }
      }
      if (bands_ > 0) {
        normalize_text(doc.text, o_.minhash.normalize, norm);
        shingle_hashes(norm, o_.minhash.shingle, o_.minhash.ngram, shingles);
        if (shingles.empty()) {
          ++b.without_shingles;
        } else {
          m.has_signature = 1;
          hasher_.signature(shingles, sig.data());
          size_t at = b.keys.size();
          b.keys.resize(at + size_t(bands_));
          hasher_.band_keys(sig.data(), b.keys.data() + at);
          if (verify_) {
            std::sort(shingles.begin(), shingles.end());
            shingles.erase(std::unique(shingles.begin(), shingles.end()), shingles.end());
            m.shingle_offset = b.shingles.size();
            m.num_shingles = uint32_t(shingles.size());
            b.shingles.insert(b.shingles.end(), shingles.begin(), shingles.end());
          }
        }
      }
      b.metas.push_back(m);
    }
    b.records.clear();
    b.records.shrink_to_fit();
  }

  std::string signatures_marker() const {
    std::string s = identity_ + "\n";
    s += cat("docs ", stats_.docs, " bytes ", stats_.bytes, " unreadable ", stats_.docs_unreadable, " without_shingles ",
             stats_.docs_without_shingles, " runs ", stats_.runs_spilled, "\n");
    for (auto& sorter : sorters_) {
      s += cat("sorter ", sorter.num_records(), " ", sorter.num_runs());
      for (auto& r : sorter.runs()) s += " " + fs::path(r).filename().string();
      s += "\n";
    }
    return s;
  }

  // Takes over the runs the marker lists; false if any of them is gone.
  bool adopt_signatures(const std::string& marker) {
    std::istringstream in(marker);
    std::string line, word;
    std::getline(in, line);  // identity
    in >> word >> stats_.docs >> word >> stats_.bytes >> word >> stats_.docs_unreadable >> word >>
        stats_.docs_without_shingles >> word >> stats_.runs_spilled;
    num_docs_ = stats_.docs;
    for (auto& sorter : sorters_) {
      uint64_t records = 0;
      size_t runs = 0;
      in >> word >> records >> runs;
      if (word != "sorter") throw Error(cat(rank_dir_, "/signatures.done: damaged marker; rerun with --no-resume"));
      std::vector<std::string> paths(runs);
      for (auto& p : paths) {
        in >> p;
        p = rank_dir_ + "/" + p;
        if (!fs::exists(p)) {
          stats_ = DedupStats();
          num_docs_ = 0;
          make_sorters();
          return false;
        }
      }
      sorter.adopt_runs(paths, records);
    }
    return true;
  }

  // ---- exchange (MPI): every sorter goes to rank (sorter % ranks) --------------------

  // Streams each local sorter, ordinals made global, to its owner rank in rounds of
  // bounded size; returns the sorters this rank owns, filled with every rank's records.
  std::vector<ExternalSorter<KeyRecord>> exchange() {
    const int R = comm_.size();
    const uint64_t base = bases_[size_t(comm_.rank())];
    std::vector<std::string> send_paths;
    {
      std::vector<std::unique_ptr<BinaryWriter>> out;
      for (int d = 0; d < R; ++d) {
        send_paths.push_back(cat(rank_dir_, "/send-", d, ".bin"));
        out.push_back(std::make_unique<BinaryWriter>(send_paths.back()));
      }
      for (size_t s = 0; s < sorters_.size(); ++s) {
        BinaryWriter& w = *out[s % size_t(R)];
        std::vector<WireRecord> chunk;
        sorters_[s].merge(merge_memory_, [&](const KeyRecord& r) {
          chunk.push_back({uint32_t(s), 0, r.key, r.doc + base});
          if (chunk.size() == 4096) {
            w.write(chunk.data(), chunk.size() * sizeof(WireRecord));
            chunk.clear();
          }
        });
        w.write(chunk.data(), chunk.size() * sizeof(WireRecord));
      }
      for (auto& w : out) w->close();
    }
    std::vector<ExternalSorter<KeyRecord>> owned;
    std::vector<size_t> owned_index(sorters_.size(), 0);
    for (size_t s = 0; s < sorters_.size(); ++s)
      if (int(s % size_t(R)) == comm_.rank()) {
        owned_index[s] = owned.size();
        owned.emplace_back(rank_dir_, "recv-" + sorter_name(s));
      }
    // Each round sends at most `per_dest` records to every rank.
    const size_t per_dest = std::max<size_t>(1024, sort_budget_ / 4 / size_t(R) / sizeof(WireRecord));
    std::vector<FILE*> in;
    for (auto& p : send_paths) in.push_back(std::fopen(p.c_str(), "rb"));
    for (;;) {
      std::vector<std::string> send(static_cast<size_t>(R));
      uint64_t left = 0;
      for (int d = 0; d < R; ++d) {
        send[size_t(d)].resize(per_dest * sizeof(WireRecord));
        size_t got = std::fread(send[size_t(d)].data(), sizeof(WireRecord), per_dest, in[size_t(d)]);
        send[size_t(d)].resize(got * sizeof(WireRecord));
        left += got;
      }
      comm_.allreduce_sum(&left, 1);
      if (left == 0) break;
      for (const std::string& bytes : comm_.alltoallv(send)) {
        const WireRecord* r = reinterpret_cast<const WireRecord*>(bytes.data());
        for (size_t i = 0; i < bytes.size() / sizeof(WireRecord); ++i)
          owned[owned_index[r[i].sorter]].push({r[i].key, r[i].doc});
      }
      if (buffered_bytes(owned) > sort_budget_) spill_all(owned);
    }
    for (FILE* f : in) std::fclose(f);
    for (auto& p : send_paths) fs::remove(p);
    return owned;
  }

  // ---- pass 2: clustering -------------------------------------------------------------

  void cluster() {
    const uint64_t N = total_docs_;
    const bool distributed = comm_.size() > 1;
    DocView view;
    for (int r = 0; r < comm_.size(); ++r) {
      std::string dir = distributed ? cat(work_, "/rank-", r) : work_;
      view.add(dir, bases_[size_t(r)], bases_.size() > size_t(r) + 1 ? bases_[size_t(r) + 1] - bases_[size_t(r)]
                                                                      : N - bases_[size_t(r)],
               verify_);
    }
    std::vector<ExternalSorter<KeyRecord>> owned_storage;
    std::vector<ExternalSorter<KeyRecord>>* walk = &sorters_;
    std::vector<bool> walk_is_exact;
    for (size_t s = 0; s < sorters_.size(); ++s) walk_is_exact.push_back(is_key_sorter(s));
    if (distributed) {
      owned_storage = exchange();
      walk = &owned_storage;
      walk_is_exact.clear();
      for (size_t s = 0; s < sorters_.size(); ++s)
        if (int(s % size_t(comm_.size())) == comm_.rank()) walk_is_exact.push_back(is_key_sorter(s));
    }

    ConcurrentUnionFind uf(N);
    std::atomic<uint64_t> candidate_pairs{0}, verified{0}, rejected{0};
    auto similar = [&](uint64_t a, uint64_t b) {
      const DocMeta& x = view.meta(a);
      const DocMeta& y = view.meta(b);
      if (x.exact == y.exact) return true;
      verified.fetch_add(1, std::memory_order_relaxed);
      bool ok = jaccard_sorted(view.shingles(a), x.num_shingles, view.shingles(b), y.num_shingles) >=
                o_.verify_threshold;
      if (!ok) rejected.fetch_add(1, std::memory_order_relaxed);
      return ok;
    };
    // Unites the documents of each run of equal keys. Without verification every member
    // joins the first; with it, each member joins every earlier one (up to
    // verify_max_compare) it passes verification with and is not yet connected to. The
    // pairs tried are a function of the bucket alone, and skipping a pair only when its
    // ends are already connected never changes connectivity, so the components are the
    // same in any order, on any number of threads or ranks.
    auto bucket_walker = [&](bool verify, uint64_t memory, ExternalSorter<KeyRecord>& sorter) {
      Key128 current;
      bool have = false;
      std::vector<uint64_t> members;  // first members of the current bucket
      uint64_t pairs = 0;
      sorter.merge(memory, [&](const KeyRecord& r) {
        if (!have || r.key != current) {
          have = true;
          current = r.key;
          members.clear();
          members.push_back(r.doc);
          return;
        }
        ++pairs;
        if (!verify) {
          uf.unite(members[0], r.doc);
          return;
        }
        for (uint64_t m : members)
          if (!uf.same(m, r.doc) && similar(m, r.doc)) uf.unite(m, r.doc);
        if (members.size() < size_t(std::max(1, o_.verify_max_compare))) members.push_back(r.doc);
      });
      candidate_pairs.fetch_add(pairs);
    };
    const size_t num_walk = walk->size();
    tbb::parallel_for(size_t(0), num_walk, [&](size_t i) {
      bucket_walker(!walk_is_exact[i] && verify_, merge_memory_ / std::max<size_t>(1, num_walk), (*walk)[i]);
    });
    for (auto& s : owned_storage) s.remove_runs();
    uint64_t counters[7] = {candidate_pairs.load(), verified.load(), rejected.load(), stats_.docs,
                            stats_.bytes, stats_.docs_unreadable, stats_.docs_without_shingles};
    comm_.allreduce_sum(counters, 7);
    stats_.candidate_pairs = counters[0];
    stats_.pairs_verified = counters[1];
    stats_.pairs_rejected = counters[2];
    stats_.docs = counters[3];
    stats_.bytes = counters[4];
    stats_.docs_unreadable = counters[5];
    stats_.docs_without_shingles = counters[6];
    uf.flatten();

    if (distributed) {
      // Every rank's partition as (element, root) edges; rank 0 joins them.
      std::string edges;
      for (uint64_t i = 0; i < N; ++i) {
        uint64_t r = uf.parent(i);
        if (r == i) continue;
        uint64_t e[2] = {i, r};
        edges.append(reinterpret_cast<const char*>(e), sizeof e);
      }
      std::vector<std::string> all = comm_.gather(edges);
      uint64_t runs = stats_.runs_spilled;
      comm_.allreduce_sum(&runs, 1);
      stats_.runs_spilled = runs;
      if (comm_.rank() != 0) return;
      for (size_t r = 1; r < all.size(); ++r) {
        const uint64_t* e = reinterpret_cast<const uint64_t*>(all[r].data());
        for (size_t k = 0; k + 1 < all[r].size() / sizeof(uint64_t); k += 2) uf.unite(e[k], e[k + 1]);
      }
      uf.flatten();
    }
    survivors(uf, view);
  }

  void survivors(ConcurrentUnionFind& uf, const DocView& view) {
    const uint64_t N = total_docs_;
    // Members of clusters of two or more, grouped by root (= smallest ordinal).
    ExternalSorter<MemberRecord> members(rank_dir_, "members");
    for (uint64_t i = 0; i < N; ++i) {
      uint64_t r = uf.parent(i);
      if (r == i) continue;
      members.push({r, i});
      if (members.buffered_bytes() > sort_budget_) {
        members.spill();
        ++stats_.runs_spilled;
      }
    }
    ExternalSorter<RemovedDoc> removed(rank_dir_, "removed");
    AtomicFile clusters(o_.output_dir + "/clusters.jsonl");
    std::string out;
    std::vector<uint64_t> group;
    auto better = [&](uint64_t a, uint64_t b) {  // the survivor rule (see dedup.h)
      const DocMeta& x = view.meta(a);
      const DocMeta& y = view.meta(b);
      if (x.quality != y.quality) return x.quality > y.quality;
      if (x.text_bytes != y.text_bytes) return x.text_bytes > y.text_bytes;
      return a < b;
    };
    auto finish_group = [&] {
      if (group.empty()) return;
      uint64_t survivor = group[0];
      for (uint64_t d : group)
        if (better(d, survivor)) survivor = d;
      const DocMeta& best = view.meta(survivor);
      const uint64_t root = group[0];
      ++stats_.num_clusters;
      stats_.docs_in_clusters += group.size();
      ++stats_.cluster_sizes[group.size()];
      out += cat("{\"cluster\":", root, ",\"size\":", group.size(), ",\"survivor\":");
      append_json_string(out, view.id(survivor));
      out += ",\"members\":[";
      for (size_t i = 0; i < group.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, view.id(group[i]));
      }
      out += "],\"exact\":[";
      for (size_t i = 0; i < group.size(); ++i) {
        if (i) out += ',';
        out += view.meta(group[i]).exact == best.exact ? "true" : "false";
      }
      out += "]}\n";
      if (out.size() > (1 << 20)) {
        clusters.write(out);
        out.clear();
      }
      for (uint64_t d : group) {
        if (d == survivor) continue;
        const DocMeta& m = view.meta(d);
        // Same text first, then same URL, else a near duplicate (of the survivor or
        // of another member: clusters are transitive).
        uint32_t reason = m.exact == best.exact                            ? kRemovedExact
                          : m.has_url && best.has_url && m.url == best.url ? kRemovedUrl
                                                                           : kRemovedNear;
        uint64_t* docs = reason == kRemovedExact ? &stats_.docs_removed_exact
                         : reason == kRemovedUrl ? &stats_.docs_removed_url
                                                 : &stats_.docs_removed_near;
        uint64_t* bytes = reason == kRemovedExact ? &stats_.bytes_removed_exact
                          : reason == kRemovedUrl ? &stats_.bytes_removed_url
                                                  : &stats_.bytes_removed_near;
        ++*docs;
        *bytes += m.text_bytes;
        removed.push({m.input, reason, m.source_offset, root});
        if (removed.buffered_bytes() > sort_budget_) {
          removed.spill();
          ++stats_.runs_spilled;
        }
      }
      group.clear();
    };
    // Once spilling, spill the rest too: the removed-documents buffer fills while the
    // members are merged, and both must fit the budget.
    if (members.num_runs() > 0) {
      members.spill();
      ++stats_.runs_spilled;
    }
    members.merge(merge_memory_, [&](const MemberRecord& r) {
      if (group.empty() || group[0] != r.root) {
        finish_group();
        group.push_back(r.root);
      }
      group.push_back(r.doc);
    });
    finish_group();
    clusters.write(out);
    clusters.commit();
    members.remove_runs();
    {
      BinaryWriter file(work_ + "/removed.bin.tmp");
      std::vector<RemovedDoc> chunk;
      removed.merge(merge_memory_, [&](const RemovedDoc& r) {
        chunk.push_back(r);
        if (chunk.size() == 8192) {
          file.write(chunk.data(), chunk.size() * sizeof(RemovedDoc));
          chunk.clear();
        }
      });
      file.write(chunk.data(), chunk.size() * sizeof(RemovedDoc));
      file.close();
      fs::rename(work_ + "/removed.bin.tmp", work_ + "/removed.bin");
    }
    removed.remove_runs();
  }

  DedupStats stats_from_marker(const std::string& marker) {
    DedupStats s;
    std::string json = marker.substr(marker.find('\n') + 1);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(json).get(root)) return s;
    auto u = [&](const char* k) {
      uint64_t v = 0;
      if (root[k].get_uint64().get(v) != simdjson::SUCCESS) v = 0;
      return v;
    };
    s.docs = u("docs");
    s.bytes = u("bytes");
    s.docs_unreadable = u("docs_unreadable");
    s.num_clusters = u("num_clusters");
    s.docs_in_clusters = u("docs_in_clusters");
    s.docs_removed_exact = u("docs_removed_exact");
    s.docs_removed_near = u("docs_removed_near");
    s.bytes_removed_exact = u("bytes_removed_exact");
    s.bytes_removed_near = u("bytes_removed_near");
    s.docs_removed_url = u("docs_removed_url");
    s.bytes_removed_url = u("bytes_removed_url");
    s.candidate_pairs = u("candidate_pairs");
    return s;
  }

  const std::vector<std::string>& inputs_;
  const DedupOptions& o_;
  std::string work_, rank_dir_;
  MinHasher hasher_;
  Comm& comm_;
  int threads_ = 1;
  bool verify_ = false;
  int bands_ = 0;
  uint64_t sort_budget_ = 0, merge_memory_ = 0;
  size_t first_input_ = 0, end_input_ = 0;
  std::string identity_;
  std::vector<ExternalSorter<KeyRecord>> sorters_;
  uint64_t num_docs_ = 0;                          // this rank's documents
  std::vector<uint64_t> bases_;                    // (ranks) first global ordinal of each rank
  uint64_t total_docs_ = 0;
  DedupStats stats_;
};

}  // namespace

std::string DedupOptions::resolved_work_dir() const {
  return work_dir.empty() ? output_dir + "/.kiln/dedup" : work_dir;
}

std::string DedupOptions::describe() const {
  const char* m = mode == DedupMode::kExact ? "exact" : mode == DedupMode::kNear ? "near" : "exact+near";
  return cat("mode=", m, " exact_normalize=", exact_normalize.to_string(),
             " shingle=", minhash.shingle == ShingleKind::kWords ? "words" : "chars", " ngram=", minhash.ngram,
             " bands=", minhash.bands, " rows=", minhash.rows, " seed=", minhash.seed, " minhash=wrap64-mod61-low32",
             " normalize=", minhash.normalize.to_string(), " verify=", verify_threshold,
             " verify_max_compare=", verify_max_compare, " quality_field=", quality_field, " url_field=", url_field,
             " text_field=", reader.text_field, " id_field=", reader.id_field, " format=", int(reader.format),
             " utf8=", int(reader.utf8), " max_record_bytes=", reader.max_record_bytes);
}

std::string DedupStats::to_json() const {
  std::string s = cat("{\"docs\":", docs, ",\"bytes\":", bytes, ",\"docs_unreadable\":", docs_unreadable,
                      ",\"docs_without_shingles\":", docs_without_shingles, ",\"num_clusters\":", num_clusters,
                      ",\"docs_in_clusters\":", docs_in_clusters, ",\"docs_removed_exact\":", docs_removed_exact,
                      ",\"docs_removed_near\":", docs_removed_near, ",\"bytes_removed_exact\":", bytes_removed_exact,
                      ",\"bytes_removed_near\":", bytes_removed_near, ",\"docs_removed_url\":", docs_removed_url,
                      ",\"bytes_removed_url\":", bytes_removed_url, ",\"candidate_pairs\":", candidate_pairs,
                      ",\"pairs_verified\":", pairs_verified, ",\"pairs_rejected\":", pairs_rejected,
                      ",\"runs_spilled\":", runs_spilled, ",\"cluster_sizes\":{");
  bool first = true;
  for (auto& [size, n] : cluster_sizes) {
    s += cat(first ? "" : ",", "\"", size, "\":", n);
    first = false;
  }
  s += cat("},\"seconds_signatures\":", seconds_signatures, ",\"seconds_clustering\":", seconds_clustering,
           ",\"peak_rss_bytes\":", peak_rss_bytes, "}");
  return s;
}

InputBlock dedup_rank_inputs(size_t num_inputs) {
  // The same blocks as the index (Index::Index), so each rank filters what it read.
  Comm& comm = Comm::world();
  const size_t R = size_t(comm.size()), r = size_t(comm.rank());
  return {num_inputs * r / R, num_inputs * (r + 1) / R};
}

std::vector<std::string> dedup_gather(const std::string& bytes) { return Comm::world().gather(bytes); }

DedupStats build_dedup_index(const std::vector<std::string>& inputs, const DedupOptions& options) {
  Index index(inputs, options);
  return index.run();
}

// ---- pass 3: the filter stage ---------------------------------------------------------

std::unique_ptr<DedupFilter> DedupFilter::open(const std::string& work_dir) {
  if (!fs::exists(work_dir + "/clusters.done"))
    throw Error(cat(work_dir, ": no finished dedup index (clusters.done missing); run `kiln dedup` first"));
  auto f = std::unique_ptr<DedupFilter>(new DedupFilter());
  std::istringstream in(read_text(work_dir + "/inputs.txt"));
  std::string line;
  uint32_t i = 0;
  while (std::getline(in, line)) f->input_index_.emplace(line, i++);
  std::string bytes = read_text(work_dir + "/removed.bin");
  if (bytes.size() % sizeof(RemovedDoc)) throw Error(cat(work_dir, "/removed.bin: truncated"));
  f->removed_.resize(bytes.size() / sizeof(RemovedDoc));
  std::memcpy(f->removed_.data(), bytes.data(), bytes.size());
  return f;
}

Verdict DedupFilter::process(Document& doc, StageState*) const {
  auto it = input_index_.find(doc.source_path);
  if (it == input_index_.end()) return Verdict::keep();
  RemovedDoc key;
  key.input = it->second;
  key.offset = doc.source_offset;
  auto pos = std::lower_bound(removed_.begin(), removed_.end(), key);
  if (pos == removed_.end() || pos->input != key.input || pos->offset != key.offset) return Verdict::keep();
  doc.set_attribute("dedup_cluster", std::to_string(pos->cluster));
  switch (pos->reason) {
    case kRemovedExact: return Verdict::drop("dedup_exact_duplicate");
    case kRemovedUrl: return Verdict::drop("dedup_url_duplicate");
    default: return Verdict::drop("dedup_near_duplicate");
  }
}

}  // namespace kiln::dedup
