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
  double quality = 0;
  uint32_t input = 0;
  uint32_t id_len = 0;
  uint32_t num_shingles = 0;  // sorted, unique; only with verification
  uint32_t has_signature = 0;
};
static_assert(sizeof(DocMeta) == 72, "docs.bin record layout (dedup/README.md)");

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

class Index {
 public:
  Index(const std::vector<std::string>& inputs, const DedupOptions& o)
      : inputs_(inputs), o_(o), work_(o.resolved_work_dir()), hasher_(o.minhash) {
    threads_ = o.threads > 0 ? o.threads : tbb::info::default_concurrency();
    verify_ = o.verify_threshold > 0 && uses_near(o.mode);
    bands_ = uses_near(o.mode) ? o.minhash.bands : 0;
    // Half the budget for spill buffers, half for batches in flight and merge windows.
    sort_budget_ = std::max<uint64_t>(o.memory_bytes / 2, 4096);
  }

  DedupStats run() {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads_));
    if (o_.output_dir.empty()) throw Error("dedup: no output directory given");
    fs::create_directories(work_);
    fs::create_directories(o_.output_dir);
    identity_ = identity_of(inputs_, o_);
    const std::string clusters_done = work_ + "/clusters.done";
    const std::string signatures_done = work_ + "/signatures.done";
    if (o_.resume && fs::exists(clusters_done) && first_line(read_text(clusters_done)) == identity_) {
      DedupStats s = stats_from_marker(read_text(clusters_done));
      s.resumed = true;
      return s;
    }
    fs::remove(clusters_done);
    make_sorters();
    if (o_.resume && fs::exists(signatures_done) && first_line(read_text(signatures_done)) == identity_) {
      adopt_signatures(read_text(signatures_done));
    } else {
      fs::remove(signatures_done);
      for (auto& e : fs::directory_iterator(work_))
        if (e.is_regular_file()) fs::remove(e.path());
      make_sorters();
      auto t0 = Clock::now();
      signatures();
      stats_.seconds_signatures = std::chrono::duration<double>(Clock::now() - t0).count();
      write_text_atomic(signatures_done, signatures_marker());
    }
    auto t0 = Clock::now();
    cluster();
    stats_.seconds_clustering = std::chrono::duration<double>(Clock::now() - t0).count();
    stats_.peak_rss_bytes = peak_rss();
    std::string json = stats_.to_json();
    write_text_atomic(o_.output_dir + "/dedup_stats.json", json + "\n");
    write_text_atomic(clusters_done, identity_ + "\n" + json + "\n");
    return stats_;
  }

 private:
  static std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

  void make_sorters() {
    sorters_.clear();
    if (uses_exact(o_.mode)) sorters_.emplace_back(work_, "exact");
    for (int j = 0; j < bands_; ++j) sorters_.emplace_back(work_, cat("band-", j < 10 ? "0" : "", j));
  }
  ExternalSorter<KeyRecord>* exact_sorter() { return uses_exact(o_.mode) ? &sorters_[0] : nullptr; }
  ExternalSorter<KeyRecord>& band_sorter(int j) { return sorters_[size_t(j) + (uses_exact(o_.mode) ? 1 : 0)]; }

  uint64_t buffered_bytes() const {
    uint64_t b = 0;
    for (auto& s : sorters_) b += s.buffered_bytes();
    return b;
  }
  void spill_all() {
    for (auto& s : sorters_) {
      if (s.buffered_bytes() == 0) continue;
      s.spill();
      ++stats_.runs_spilled;
    }
  }

  void signatures() {
    fs::path dir(work_);
    {
      std::string list;
      for (auto& in : inputs_) list += in + "\n";
      write_text_atomic(work_ + "/inputs.txt", list);
    }
    BinaryWriter docs(work_ + "/docs.bin"), ids(work_ + "/ids.bin"), shingles(work_ + "/shingles.bin");
    uint64_t ids_written = 0, shingles_written = 0;
    const size_t tokens = size_t(2 * threads_);
    for (size_t input = 0; input < inputs_.size(); ++input) {
      auto reader = DocumentReader::open(inputs_[input], o_.reader);
      bool done = false;
      std::string stream_error;
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
        } catch (const Error& e) {
          // The filter pass meets the same error at the same place and reports it;
          // documents before it are indexed, so both passes agree on what exists.
          stream_error = e.what();
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
        if (buffered_bytes() > sort_budget_) spill_all();
      };
      tbb::parallel_pipeline(tokens, tbb::make_filter<void, SigBatch*>(tbb::filter_mode::serial_in_order, read) &
                                         tbb::make_filter<SigBatch*, SigBatch*>(tbb::filter_mode::parallel, work) &
                                         tbb::make_filter<SigBatch*, void>(tbb::filter_mode::serial_in_order, write));
    }
    spill_all();  // everything on disk: the marker can describe the runs
    docs.close();
    ids.close();
    shingles.close();
    stats_.docs = num_docs_;
  }

  void process(SigBatch& b, uint32_t input) {
    thread_local std::string norm;
    thread_local std::vector<uint64_t> shingles;
    thread_local std::vector<uint64_t> sig;
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

  void adopt_signatures(const std::string& marker) {
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
      if (word != "sorter") throw Error(cat(work_, "/signatures.done: damaged marker; rerun with --no-resume"));
      std::vector<std::string> paths(runs);
      for (auto& p : paths) {
        in >> p;
        p = work_ + "/" + p;
      }
      sorter.adopt_runs(paths, records);
    }
  }

  // ---- pass 2: clustering -------------------------------------------------------------

  void cluster() {
    const uint64_t N = num_docs_;
    MappedFile docs_file(work_ + "/docs.bin");
    if (docs_file.size() != N * sizeof(DocMeta))
      throw Error(cat(work_, "/docs.bin: ", docs_file.size(), " bytes, expected ", N * sizeof(DocMeta)));
    const DocMeta* meta = docs_file.as<DocMeta>();
    std::unique_ptr<MappedFile> shingles_file;
    if (verify_) shingles_file = std::make_unique<MappedFile>(work_ + "/shingles.bin");
    const uint64_t* shingles = shingles_file ? shingles_file->as<uint64_t>() : nullptr;

    ConcurrentUnionFind uf(N);
    std::atomic<uint64_t> candidate_pairs{0}, verified{0}, rejected{0};
    auto similar = [&](uint64_t a, uint64_t b) {
      const DocMeta& x = meta[a];
      const DocMeta& y = meta[b];
      if (x.exact == y.exact) return true;
      verified.fetch_add(1, std::memory_order_relaxed);
      bool ok = jaccard_sorted(shingles + x.shingle_offset, x.num_shingles, shingles + y.shingle_offset,
                               y.num_shingles) >= o_.verify_threshold;
      if (!ok) rejected.fetch_add(1, std::memory_order_relaxed);
      return ok;
    };
    // Unites the documents of each run of equal keys. Without verification every member
    // joins the first; with it, each member joins every earlier one (up to
    // verify_max_compare) it passes verification with and is not yet connected to. The
    // pairs tried are a function of the bucket alone, and skipping a pair only when its
    // ends are already connected never changes connectivity, so the components are the
    // same in any order and on any number of threads.
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
    const uint64_t merge_memory = std::max<uint64_t>(o_.memory_bytes / 2, 4096);
    const size_t num_sorters = sorters_.size();
    tbb::parallel_for(size_t(0), num_sorters, [&](size_t i) {
      bool exact = uses_exact(o_.mode) && i == 0;
      bucket_walker(!exact && verify_, merge_memory / num_sorters, sorters_[i]);
    });
    stats_.candidate_pairs = candidate_pairs;
    stats_.pairs_verified = verified;
    stats_.pairs_rejected = rejected;
    uf.flatten();

    // Members of clusters of two or more, grouped by root (= smallest ordinal).
    ExternalSorter<MemberRecord> members(work_, "members");
    for (uint64_t i = 0; i < N; ++i) {
      uint64_t r = uf.parent(i);
      if (r == i) continue;
      members.push({r, i});
      if (members.buffered_bytes() > sort_budget_) {
        members.spill();
        ++stats_.runs_spilled;
      }
    }
    ExternalSorter<RemovedDoc> removed(work_, "removed");
    AtomicFile clusters(o_.output_dir + "/clusters.jsonl");
    std::string out;
    std::vector<uint64_t> group;
    auto better = [&](uint64_t a, uint64_t b) {  // the survivor rule (see dedup.h)
      const DocMeta& x = meta[a];
      const DocMeta& y = meta[b];
      if (x.quality != y.quality) return x.quality > y.quality;
      if (x.text_bytes != y.text_bytes) return x.text_bytes > y.text_bytes;
      return a < b;
    };
    MappedFile ids_file(work_ + "/ids.bin");
    auto id_of = [&](uint64_t d) { return std::string_view(ids_file.data() + meta[d].id_offset, meta[d].id_len); };
    auto finish_group = [&] {
      if (group.empty()) return;
      uint64_t survivor = group[0];
      for (uint64_t d : group)
        if (better(d, survivor)) survivor = d;
      const uint64_t root = group[0];
      ++stats_.num_clusters;
      stats_.docs_in_clusters += group.size();
      ++stats_.cluster_sizes[group.size()];
      out += cat("{\"cluster\":", root, ",\"size\":", group.size(), ",\"survivor\":");
      append_json_string(out, id_of(survivor));
      out += ",\"members\":[";
      for (size_t i = 0; i < group.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, id_of(group[i]));
      }
      out += "],\"exact\":[";
      for (size_t i = 0; i < group.size(); ++i) {
        if (i) out += ',';
        out += meta[group[i]].exact == meta[survivor].exact ? "true" : "false";
      }
      out += "]}\n";
      if (out.size() > (1 << 20)) {
        clusters.write(out);
        out.clear();
      }
      for (uint64_t d : group) {
        if (d == survivor) continue;
        const DocMeta& m = meta[d];
        bool exact = m.exact == meta[survivor].exact;
        (exact ? stats_.docs_removed_exact : stats_.docs_removed_near) += 1;
        (exact ? stats_.bytes_removed_exact : stats_.bytes_removed_near) += m.text_bytes;
        removed.push({m.input, exact ? 0u : 1u, m.source_offset, root});
        if (removed.buffered_bytes() > sort_budget_) {
          removed.spill();
          ++stats_.runs_spilled;
        }
      }
      group.clear();
    };
    members.merge(merge_memory, [&](const MemberRecord& r) {
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
      removed.merge(merge_memory, [&](const RemovedDoc& r) {
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
    s.candidate_pairs = u("candidate_pairs");
    return s;
  }

  const std::vector<std::string>& inputs_;
  const DedupOptions& o_;
  std::string work_;
  MinHasher hasher_;
  int threads_ = 1;
  bool verify_ = false;
  int bands_ = 0;
  uint64_t sort_budget_ = 0;
  std::string identity_;
  std::vector<ExternalSorter<KeyRecord>> sorters_;
  uint64_t num_docs_ = 0;
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
             " bands=", minhash.bands, " rows=", minhash.rows, " seed=", minhash.seed,
             " normalize=", minhash.normalize.to_string(), " verify=", verify_threshold,
             " verify_max_compare=", verify_max_compare, " quality_field=", quality_field,
             " text_field=", reader.text_field, " id_field=", reader.id_field, " format=", int(reader.format),
             " utf8=", int(reader.utf8), " max_record_bytes=", reader.max_record_bytes);
}

std::string DedupStats::to_json() const {
  std::string s = cat("{\"docs\":", docs, ",\"bytes\":", bytes, ",\"docs_unreadable\":", docs_unreadable,
                      ",\"docs_without_shingles\":", docs_without_shingles, ",\"num_clusters\":", num_clusters,
                      ",\"docs_in_clusters\":", docs_in_clusters, ",\"docs_removed_exact\":", docs_removed_exact,
                      ",\"docs_removed_near\":", docs_removed_near, ",\"bytes_removed_exact\":", bytes_removed_exact,
                      ",\"bytes_removed_near\":", bytes_removed_near, ",\"candidate_pairs\":", candidate_pairs,
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
  return Verdict::drop(pos->reason == 0 ? "dedup_exact_duplicate" : "dedup_near_duplicate");
}

}  // namespace kiln::dedup
