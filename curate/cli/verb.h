// The `kiln` command line: a table of verbs, each in its own verb_<name>.cpp.
//
// A verb parses flags with Boost.Program_options into a library Options struct and
// makes one library call; it never holds logic of its own. Verbs register themselves
// at static-initialisation time, so adding one is adding one file:
//
//   int run_stats(const std::vector<std::string>& args);
//   static const kiln::cli::VerbRegistration kStats{
//       {"stats", "counts, bytes and a length histogram of a corpus", run_stats}};
#pragma once

#include <string>
#include <vector>

#include <boost/program_options.hpp>

namespace kiln::cli {

// `args` are the arguments after the verb name. Returns the process exit code.
using VerbFunction = int (*)(const std::vector<std::string>& args);

struct Verb {
  const char* name;
  const char* summary;  // one line for `kiln --help`
  VerbFunction run;
};

struct VerbRegistration {
  explicit VerbRegistration(Verb verb);
};

const std::vector<Verb>& verbs();  // sorted by name

namespace po = boost::program_options;

// Parses `args` against `options` (and positional names); prints `usage` + options +
// `example` and returns false when --help was given. Throws kiln::Error on bad flags.
struct ParsedArgs {
  po::variables_map values;
  bool help = false;
};
ParsedArgs parse_args(const std::vector<std::string>& args, po::options_description& options,
                      const po::positional_options_description& positional, const std::string& usage,
                      const std::string& example);

}  // namespace kiln::cli
