#include "curate/cli/verb.h"

#include <algorithm>
#include <iostream>

#include "corpus/error.h"

namespace kiln::cli {
namespace {
std::vector<Verb>& registry() {
  static std::vector<Verb> verbs;
  return verbs;
}
}  // namespace

VerbRegistration::VerbRegistration(Verb verb) {
  auto& all = registry();
  all.push_back(verb);
  std::sort(all.begin(), all.end(), [](const Verb& a, const Verb& b) { return std::string(a.name) < b.name; });
}

const std::vector<Verb>& verbs() { return registry(); }

ParsedArgs parse_args(const std::vector<std::string>& args, po::options_description& options,
                      const po::positional_options_description& positional, const std::string& usage,
                      const std::string& example) {
  options.add_options()("help,h", "show this help");
  ParsedArgs parsed;
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), parsed.values);
  } catch (const po::error& e) {
    throw Error(cat(e.what(), " (see --help)"));
  }
  if (parsed.values.count("help")) {
    std::cout << "usage: " << usage << "\n\n" << options << "\nexample:\n  " << example << "\n";
    parsed.help = true;
    return parsed;
  }
  try {
    po::notify(parsed.values);
  } catch (const po::error& e) {
    throw Error(cat(e.what(), " (see --help)"));
  }
  return parsed;
}

}  // namespace kiln::cli
