// Seeded document selection shared by mixtures and rebalancing (private to curate).
//
// Both measure every document of an input set once (units: tokens, bytes or documents,
// keyed by xxh3(seed, file relative to the set's common folder, byte offset)), decide how many copies of each document to
// write (whole repeats, then a seeded subset for the fraction), and write copy k of every
// chosen document to <output>/epoch-<k>/ with one pipeline pass per k.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "corpus/document.h"
#include "corpus/stage.h"
#include "curate/pipeline.h"

namespace kiln::selection {

// Document keys of one input set. Paths are taken relative to the folder all the set's
// inputs share, so the same files give the same keys (and the same selection) wherever
// they are stored or the run is started from.
struct DocumentKeys {
  uint64_t seed = 0;
  size_t root_length = 0;  // bytes of the common folder prefix, '/' included
  static DocumentKeys for_inputs(const std::vector<std::string>& inputs, uint64_t seed);
  uint64_t of(const Document& doc) const;
};

struct Measured {
  uint64_t key;
  uint64_t units;
  bool operator<(const Measured& o) const { return key < o.key; }
};

// Adds copies for `docs` (sorted by key) so that their units sum to `target` without
// passing it: floor(target / total) copies of every document, then one more for documents
// in key order while they fit. Returns the units chosen.
uint64_t choose_copies(const std::vector<Measured>& docs, uint64_t target, std::unordered_map<uint64_t, uint32_t>& copies);

// Keeps a document when its chosen copies exceed `epoch`.
class SelectCopies final : public Stage {
 public:
  SelectCopies(const std::unordered_map<uint64_t, uint32_t>& copies, uint32_t epoch, DocumentKeys keys,
               std::string_view name, std::string_view reason)
      : copies_(copies), epoch_(epoch), keys_(keys), name_(name), reason_(reason) {}
  std::string_view name() const override { return name_; }
  Verdict process(Document& doc, StageState*) const override {
    auto it = copies_.find(keys_.of(doc));
    return it != copies_.end() && it->second > epoch_ ? Verdict::keep() : Verdict::drop(reason_);
  }

 private:
  const std::unordered_map<uint64_t, uint32_t>& copies_;
  uint32_t epoch_;
  DocumentKeys keys_;
  std::string name_, reason_;
};

// Writes copy k of every chosen document to <dir>/epoch-<k>/ for k < epochs: one pipeline
// pass per k with `pass`'s reader, threads, output and progress settings (no rejects: a
// document not chosen is not a problem). Stage and drop reason name the caller.
void write_copies(const std::vector<std::string>& inputs, const std::unordered_map<uint64_t, uint32_t>& copies,
                  uint32_t epochs, const DocumentKeys& keys, PipelineOptions pass, const std::string& dir,
                  std::string_view name, std::string_view reason);

}  // namespace kiln::selection
