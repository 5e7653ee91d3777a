// Rebalancing: exact target shares, temperature sampling, the UniMax cap, determinism;
// counterfactual term swaps on fixed sentences.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "corpus/error.h"
#include "corpus/stream.h"
#include "curate/balance.h"
#include "curate/report.h"
#include "test_util.h"

namespace kiln {
namespace {

using testing::TempDir;

std::vector<std::string> write_corpus(const TempDir& dir) {
  std::filesystem::create_directories(dir.path("in"));
  std::vector<std::string> paths;
  int id = 0;
  for (int f = 0; f < 3; ++f) {
    std::string body;
    auto add = [&](const char* lang, int n) {
      for (int i = 0; i < n; ++i, ++id)
        body += "{\"id\":" + std::to_string(id) + ",\"text\":\"doc " + std::to_string(id) + " " +
                std::string(size_t(id % 50), 'x') + "\",\"attributes\":{\"lang\":\"" + lang + "\",\"q\":{\"bucket\":" +
                std::to_string(id % 3) + "}}}\n";
    };
    add("en", 700);
    add("de", 100);
    add("fr", 10);
    body += "{\"id\":-1,\"text\":\"no attributes\"}\n";
    paths.push_back(dir.path("in/p" + std::to_string(f) + ".jsonl.zst"));
    write_file(paths.back(), body);
  }
  return paths;
}

TEST(Balance, ExplicitTargetSharesAreMetExactlyInDocuments) {
  TempDir dir;
  auto inputs = write_corpus(dir);
  BalanceOptions o;
  o.attribute = "lang";
  o.target = parse_shares("en=0.5,de=0.3,fr=0.2");
  o.unit = MixUnit::kDocs;
  o.budget = 400;
  o.max_repeats = 10;
  o.output_dir = dir.path("out");
  BalanceResult r = run_balance(inputs, o);
  ASSERT_EQ(r.groups.size(), 4u);  // (missing), de, en, fr
  std::map<std::string, BalanceGroup> by;
  for (auto& g : r.groups) by[g.value] = g;
  EXPECT_EQ(by["en"].docs_before, 2100u);
  EXPECT_EQ(by["en"].units_after, 200u);  // downsampled
  EXPECT_EQ(by["de"].units_after, 120u);
  EXPECT_EQ(by["fr"].units_after, 80u);   // 30 documents, repeated 2.67 times
  EXPECT_NEAR(by["fr"].repeats, 80.0 / 30.0, 1e-9);
  EXPECT_EQ(by["(missing)"].units_after, 0u);  // not named in the target: dropped
  // On disk: epochs 0..2, with exactly 400 documents in total.
  uint64_t lines = 0;
  for (auto& f : testing::list_files(dir.path("out")))
    if (f.ends_with(".jsonl.zst")) {
      std::string text = read_file(dir.path("out/" + f));
      lines += uint64_t(std::count(text.begin(), text.end(), '\n'));
    }
  EXPECT_EQ(lines, 400u);
  EXPECT_TRUE(std::filesystem::exists(dir.path("out/epoch-2")));
}

TEST(Balance, TemperatureSamplingFollowsThePowerLaw) {
  TempDir dir;
  auto inputs = write_corpus(dir);
  BalanceOptions o;
  o.attribute = "lang";
  o.temperature = 2;
  o.unit = MixUnit::kDocs;
  o.max_repeats = 100;
  BalanceResult r = run_balance(inputs, o);  // report only
  double z = std::sqrt(2100.0) + std::sqrt(300.0) + std::sqrt(30.0) + std::sqrt(3.0);
  for (auto& g : r.groups) {
    EXPECT_NEAR(g.target_share, std::sqrt(double(g.docs_before)) / z, 1e-12) << g.value;
    EXPECT_NEAR(g.share_after, g.target_share, 0.002) << g.value;  // within a document of 2433
  }
}

TEST(Balance, UniMaxCapsRepeatsAndRedistributes) {
  std::vector<bool> capped;
  // fr wants 20% of 1000 = 200 units but holds 30 and may repeat 4 times: 120; the other
  // 80 go to en and de in proportion 5:3.
  auto shares = cap_shares({0.5, 0.3, 0.2}, {2100, 300, 30}, 1000, 4, &capped);
  EXPECT_NEAR(shares[2], 0.12, 1e-12);
  EXPECT_NEAR(shares[0], 0.55, 1e-12);
  EXPECT_NEAR(shares[1], 0.33, 1e-12);
  EXPECT_EQ(capped, (std::vector<bool>{false, false, true}));
}

TEST(Balance, ObjectMembersAsGroupsAndDeterminismAcrossThreads) {
  TempDir dir;
  auto inputs = write_corpus(dir);
  std::string reference;
  for (int threads : {1, 2, 3}) {
    BalanceOptions o;
    o.attribute = "q.bucket";
    o.target = parse_shares("0=0.2,1=0.3,2=0.5");
    o.unit = MixUnit::kBytes;
    o.output_dir = dir.path("out" + std::to_string(threads));
    o.threads = threads;
    BalanceResult r = run_balance(inputs, o);
    for (auto& g : r.groups) {
      if (g.value != "(missing)") {
        EXPECT_NEAR(g.share_after, g.target_share, 0.001) << g.value;
      }
    }
    std::string bytes;
    for (auto& f : testing::list_files(o.output_dir))  // data and the balance report; not timings
      if (f.ends_with(".jsonl.zst") || f == "balance.json") bytes += f + read_file(o.output_dir + "/" + f);
    if (reference.empty()) reference = bytes;
    EXPECT_EQ(bytes, reference) << "threads=" << threads;
  }
}

TEST(Balance, BadTargetsAreErrors) {
  TempDir dir;
  auto inputs = write_corpus(dir);
  BalanceOptions o;
  o.attribute = "lang";
  o.target = parse_shares("en=0.5,xx=0.5");
  EXPECT_THROW(run_balance(inputs, o), Error);  // no document has lang = xx
  EXPECT_THROW(parse_shares("en:0.5"), Error);
}

TEST(Balance, DemographicAxisGroupsByDominantGroupAndReachesTheTargetRatio) {
  TempDir dir;
  std::filesystem::create_directories(dir.path("in"));
  std::string body;
  for (int i = 0; i < 400; ++i) {
    // 3 in 4 documents mention men more than women; some mention neither or both equally.
    std::string counts = i % 8 == 0 ? "{}" : i % 4 == 1 ? "{\"female\":3,\"male\":1}" : i % 16 == 2 ? "{\"female\":2,\"male\":2}"
                                                                                              : "{\"male\":4}";
    body += "{\"id\":" + std::to_string(i) + ",\"text\":\"t\",\"attributes\":{\"demographics\":{\"gender\":" + counts + "}}}\n";
  }
  write_file(dir.path("in/a.jsonl"), body);
  BalanceOptions o;
  o.attribute = "demographics.gender";
  o.target = parse_shares("female=0.5,male=0.5");
  o.unit = MixUnit::kDocs;
  o.max_repeats = 10;
  BalanceResult r = run_balance({dir.path("in/a.jsonl")}, o);
  std::map<std::string, BalanceGroup> by;
  for (auto& g : r.groups) by[g.value] = g;
  EXPECT_EQ(by["female"].docs_before, 100u);
  EXPECT_EQ(by["(none)"].docs_before, 50u);
  EXPECT_EQ(by["mixed"].docs_before, 25u);
  EXPECT_EQ(by["male"].docs_before, 225u);
  EXPECT_EQ(by["female"].units_after, by["male"].units_after);
  EXPECT_EQ(by["female"].units_after + by["male"].units_after, 400u);
  EXPECT_NEAR(by["female"].share_before, 0.25, 1e-12);
  EXPECT_NEAR(by["female"].share_after, 0.5, 1e-12);
  // The representation card shows before, target and after for every group.
  std::string html = render_balance_html(r, o.attribute, "kiln balance");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("<tr><td>female</td><td>100</td><td>25.00%</td><td>50.00%</td><td>50.00%</td>"), std::string::npos);
}

TEST(TermSwapper, SwapsGenderedTermsKeepingCaseAndPossessives) {
  TermSwapper s = TermSwapper::english_gender();
  size_t swaps = 0;
  EXPECT_EQ(s.swap("He told the men that his father's brothers were Kings.", &swaps),
            "She told the women that her mother's sisters were Queens.");
  EXPECT_EQ(swaps, 6u);
  EXPECT_EQ(s.swap("SHE WAS HERE with the boys' uncle"), "HE WAS HERE with the girls' aunt");
  EXPECT_EQ(s.swap("Mrs. Smith thanked her husband and herself"), "Mr. Smith thanked his wife and himself");
  EXPECT_EQ(s.swap("theme, hero, shelf, hemen"), "theme, hero, shelf, hemen");  // whole words only
  EXPECT_EQ(s.swap("Er sagte heß"), "Er sagte heß");
  TermSwapper custom = TermSwapper::from_list("# pairs\nnurse doctor\n", "pairs.txt");
  EXPECT_EQ(custom.swap("The Nurse and the DOCTOR"), "The Doctor and the NURSE");
  EXPECT_THROW(TermSwapper::from_list("one\n", "pairs.txt"), Error);
}

}  // namespace
}  // namespace kiln
