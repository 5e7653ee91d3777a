// The dedup stages a recipe can name. dedup_filter and dedup_lines apply an index that
// `kiln dedup` / `kiln dedup lines` built beforehand (their `index` option is its work
// directory); decontaminate builds its n-gram index from the eval files when the recipe
// loads.
#include "corpus/error.h"
#include "dedup/decontaminate.h"
#include "dedup/dedup.h"
#include "dedup/line_dedup.h"

namespace kiln::dedup {

void register_dedup_stages(StageRegistry& registry) {
  registry.add({"dedup_filter",
                "drop documents a `kiln dedup` index removed (index = its work dir, e.g. out/.kiln/dedup)",
                [](const StageConfig& c) -> std::unique_ptr<Stage> {
                  if (!c.has("index")) throw Error(cat(c.where("index"), ": dedup_filter needs index = \"<work dir>\""));
                  return DedupFilter::open(c.get_string("index", ""));
                }});
  registry.add({"dedup_lines",
                "remove lines counted more than max_count times by `kiln dedup lines` (index = its work dir)",
                [](const StageConfig& c) -> std::unique_ptr<Stage> {
                  if (!c.has("index")) throw Error(cat(c.where("index"), ": dedup_lines needs index = \"<work dir>\""));
                  LineDedupOptions o;
                  o.work_dir = c.get_string("index", "");
                  std::string unit = c.get_string("unit", "line");
                  if (unit == "line") o.unit = LineUnit::kLine;
                  else if (unit == "paragraph") o.unit = LineUnit::kParagraph;
                  else throw Error(cat(c.where("unit"), ": unit must be line or paragraph"));
                  o.normalize = NormalizeOptions::parse(c.get_string("normalize", o.normalize.to_string()));
                  return LineDedupFilter::open(o);
                }});
  registry.add({"decontaminate",
                "drop (or mark) documents sharing a 13-word n-gram with eval sets (eval = [files], ngram, action)",
                [](const StageConfig& c) -> std::unique_ptr<Stage> {
                  DecontaminationOptions o;
                  o.eval_paths = c.get_strings("eval", {});
                  if (o.eval_paths.empty()) throw Error(cat(c.where("eval"), ": decontaminate needs eval = [files]"));
                  o.ngram = int(c.get_int("ngram", o.ngram));
                  std::string action = c.get_string("action", "drop");
                  if (action == "drop") o.action = ContaminationAction::kDrop;
                  else if (action == "mark") o.action = ContaminationAction::kMark;
                  else throw Error(cat(c.where("action"), ": action must be drop or mark"));
                  o.normalize = NormalizeOptions::parse(c.get_string("normalize", o.normalize.to_string()));
                  return Decontaminator::open(o);
                }});
}

}  // namespace kiln::dedup
