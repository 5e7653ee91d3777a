// The data card: numbers equal the stats, and the page renders in a real browser with
// charts of non-zero size (headless Chromium from Debian's chromium package).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include "corpus/stream.h"
#include "curate/pipeline.h"
#include "curate/recipe.h"
#include "curate/report.h"
#include "test_util.h"

namespace kiln {
namespace {

std::string run_command(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  ::pclose(p);
  return out;
}

// A curate run on the shipped sample with filters that drop, tag and score.
std::string make_run(const testing::TempDir& dir) {
  std::string root = std::filesystem::path(KILN_SAMPLE_DIR).parent_path().parent_path().string();
  std::string recipe_text = "[input]\npaths = [\"" + root + "/data/sample/webdocs.jsonl.zst\"]\n"
                            "[output]\ndir = \"" + dir.path("out") + "\"\n"
                            "[[stage]]\ntype = \"normalize\"\n"
                            "[[stage]]\ntype = \"length\"\nmin_words = 50\n"
                            "[[stage]]\ntype = \"gopher_quality\"\n"
                            "[[stage]]\ntype = \"c4\"\nmode = \"tag\"\n";
  Recipe recipe = parse_recipe(recipe_text, "test.toml", default_stage_registry());
  RunStats stats = run_pipeline(expand_inputs(recipe.inputs), recipe.stages, recipe.pipeline);
  return write_report(recipe.pipeline.output_dir, stats, RunInfo{"kiln curate test.toml", recipe_text, ""});
}

TEST(Report, FiguresEqualTheStatsJson) {
  testing::TempDir dir;
  make_run(dir);
  std::string stats_text = read_file(dir.path("out/stats.json"));
  RunStats stats = RunStats::from_json(stats_text);
  // report.json carries exactly the run's stats.
  simdjson::dom::parser parser, stats_parser;
  std::string report_json = read_file(dir.path("out/report.json"));
  simdjson::dom::element report = parser.parse(report_json);
  EXPECT_EQ(uint64_t(report["stats"]["docs_kept"]), stats.docs_kept);
  EXPECT_EQ(simdjson::to_string(report["stats"]), simdjson::to_string(stats_parser.parse(stats_text)));
  // Histograms count every document once; attribute summaries count every scored document.
  EXPECT_EQ(stats.chars_read.total(), stats.docs_read);
  EXPECT_EQ(stats.chars_kept.total(), stats.docs_kept);
  ASSERT_TRUE(stats.attributes.count("c4.lines"));
  const AttributeSummary& lines = stats.attributes.at("c4.lines");
  EXPECT_EQ(lines.numeric_count[0], stats.docs_kept);
  // The page shows the same numbers.
  std::string html = read_file(dir.path("out/report.html"));
  EXPECT_NE(html.find("of " + std::to_string(stats.docs_read) + " ("), std::string::npos);
  for (auto& stage : stats.stages)
    for (auto& [reason, count] : stage.reasons)
      EXPECT_NE(html.find(reason + "</td><td>" + std::to_string(count.docs) + "</td>"), std::string::npos) << reason;
  ASSERT_FALSE(stats.reject_samples.empty());
  EXPECT_EQ(stats.reject_samples.begin()->second.size(), RunStats::kRejectSamples);
  // kiln report re-renders the identical page from stats.json and run.json.
  std::filesystem::remove(dir.path("out/report.html"));
  rewrite_report(dir.path("out"));
  EXPECT_EQ(read_file(dir.path("out/report.html")), html);
}

TEST(Report, DedupClusterSizesFromTheRunDirectory) {
  testing::TempDir dir;
  make_run(dir);
  write_file(dir.path("out/dedup_stats.json"),
             "{\"docs\":404,\"num_clusters\":110,\"docs_in_clusters\":223,\"docs_removed_exact\":46,"
             "\"docs_removed_near\":67,\"bytes_removed_exact\":45086,\"bytes_removed_near\":71125,"
             "\"cluster_sizes\":{\"2\":107,\"3\":2,\"40\":1}}\n");
  std::string html = read_file(rewrite_report(dir.path("out")));
  EXPECT_NE(html.find("110 clusters holding 223 documents; removed 46 exact duplicates"), std::string::npos);
  EXPECT_NE(html.find("Clusters by size"), std::string::npos);
  EXPECT_NE(html.find("33–64"), std::string::npos);  // the 40-document cluster, bucketed
  EXPECT_NE(read_file(dir.path("out/report.json")).find("\"dedup\":{\"docs\":404"), std::string::npos);
}

TEST(Report, PiiIsScrubbedFromSamples) {
  EXPECT_EQ(scrub_pii("mail jane.doe@example.org or call +1 (555) 010-9999 from 192.168.10.1 today"),
            "mail <EMAIL> or call <PHONE> from <IP> today");
}

TEST(Report, RendersInHeadlessChromiumWithVisibleCharts) {
  const char* chromium = "/usr/bin/chromium";
  if (!std::filesystem::exists(chromium)) GTEST_SKIP() << "Debian chromium is not installed (scripts/setup.sh installs it)";
  testing::TempDir dir;
  std::string html_path = make_run(dir);
  // Measure every chart after layout: a copy of the page with a script appended that
  // writes each SVG's rendered size into the DOM, which --dump-dom prints.
  std::string page = read_file(html_path);
  std::string probe =
      "<script>const out=[];document.querySelectorAll('svg.chart').forEach(s=>{const r=s.getBoundingClientRect();"
      "const bars=[...s.querySelectorAll('rect.bar')].filter(b=>b.getBoundingClientRect().width>0).length;"
      "out.push([Math.round(r.width),Math.round(r.height),bars].join('x'))});"
      "const p=document.createElement('pre');p.id='probe';p.textContent='PRO'+'BE: '+out.join(' ')+' :E'+'ND';"
      "document.body.appendChild(p);</script>";
  page.insert(page.rfind("</body>"), probe);
  testing::spit(dir.path("probe.html"), page);
  std::string flags = " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
                      " --disable-component-update --disable-sync --user-data-dir=" + dir.path("profile");
  std::string dom = run_command(std::string(chromium) + flags + " --dump-dom file://" + dir.path("probe.html") + " 2>/dev/null");
  size_t begin = dom.find("PROBE: "), end = dom.find(" :END");
  ASSERT_NE(begin, std::string::npos) << dom.substr(0, 500);
  std::istringstream sizes(dom.substr(begin + 7, end - begin - 7));
  std::string size;
  int charts = 0;
  while (sizes >> size) {
    int w = 0, h = 0, bars = 0;
    ASSERT_EQ(std::sscanf(size.c_str(), "%dx%dx%d", &w, &h, &bars), 3) << size;
    EXPECT_GT(w, 100) << size;
    EXPECT_GT(h, 20) << size;
    EXPECT_GT(bars, 0) << "a chart without visible bars: " << size;
    ++charts;
  }
  EXPECT_GE(charts, 4);  // two funnel charts, lengths, and attributes
  // And a screenshot of the real page.
  run_command(std::string(chromium) + flags + " --hide-scrollbars --window-size=1100,1600 --screenshot=" +
              dir.path("report.png") + " file://" + html_path + " 2>/dev/null");
  ASSERT_TRUE(std::filesystem::exists(dir.path("report.png")));
  EXPECT_GT(std::filesystem::file_size(dir.path("report.png")), 20000u);
}

}  // namespace
}  // namespace kiln
