#include <gtest/gtest.h>

#include <filesystem>

#include "corpus/stream.h"
#include "dedup/line_dedup.h"

namespace kiln::dedup {
namespace {
namespace fs = std::filesystem;

TEST(LineDedup, RemovesLinesSeenMoreThanMaxCount) {
  auto dir = fs::temp_directory_path() / "kiln-dedup-lines";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string corpus = (dir / "in.jsonl").string();
  write_file(corpus,
             "{\"id\":\"a\",\"text\":\"Welcome to my site\\nThe quick brown fox.\\nCopyright 2021 ACME\"}\n"
             "{\"id\":\"b\",\"text\":\"welcome to  my site\\nA unique sentence here.\\nCopyright 2023 ACME\"}\n"
             "{\"id\":\"c\",\"text\":\"Welcome to my site\\nCopyright 1999 ACME\\n\"}\n"
             "{\"id\":\"d\",\"text\":\"Only unique text.\"}\n");
  LineDedupOptions o;
  o.work_dir = (dir / "work").string();
  o.memory_bytes = 64;  // spill after every batch
  LineCountStats s = count_lines({corpus}, o);
  EXPECT_EQ(s.docs, 4u);
  EXPECT_EQ(s.lines, 9u);
  // "welcome to my site" ×3 and "copyright 0000 acme" ×3 (case, spacing, digits folded).
  EXPECT_EQ(s.distinct_frequent, 2u);
  EXPECT_EQ(s.lines_frequent, 6u);
  auto filter = LineDedupFilter::open(o);
  Document a;
  a.text = "Welcome to my site\nThe quick brown fox.\nCopyright 2021 ACME";
  EXPECT_TRUE(filter->process(a, nullptr).kept());
  EXPECT_EQ(a.text, "The quick brown fox.\n");
  EXPECT_EQ(*a.attribute("dedup_lines_removed"), "2");
  Document c;
  c.text = "Welcome to my site\nCopyright 1999 ACME\n";
  Verdict v = c.text.empty() ? Verdict::keep() : filter->process(c, nullptr);
  EXPECT_FALSE(v.kept());
  EXPECT_EQ(v.reason, "dedup_lines_all_duplicate");
  Document d;
  d.text = "Only unique text.";
  EXPECT_TRUE(filter->process(d, nullptr).kept());
  EXPECT_EQ(d.attribute("dedup_lines_removed"), nullptr);

  o.max_count = 3;  // nothing is seen more than 3 times
  count_lines({corpus}, o);
  EXPECT_EQ(LineDedupFilter::open(o)->num_frequent(), 0u);
}

}  // namespace
}  // namespace kiln::dedup
