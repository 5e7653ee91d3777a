// kiln: one binary, many verbs. This file only dispatches; each verb is in verb_<name>.cpp.
#include <cstring>
#include <iostream>

#include "corpus/error.h"
#include "curate/cli/verb.h"
#include "kernels/data_parallel.h"

namespace {
void print_usage() {
  std::cout << "kiln: web crawls to training data to a trained model\n\nusage: kiln <verb> [options]\n\nverbs:\n";
  for (const auto& verb : kiln::cli::verbs()) {
    std::string name = verb.name;
    name.resize(std::max<size_t>(name.size() + 2, 12), ' ');
    std::cout << "  " << name << verb.summary << "\n";
  }
  std::cout << "\n`kiln <verb> --help` shows a verb's options and an example.\n";
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  for (const auto& verb : kiln::cli::verbs()) {
    if (verb.name != std::string(argv[1])) continue;
    try {
      return verb.run(std::vector<std::string>(argv + 2, argv + argc));
    } catch (const kiln::Error& e) {
      std::cerr << "kiln " << verb.name << ": error: " << e.what() << std::endl;
      kiln::kernels::abort_mpi_job(1);  // under mpirun: end every rank, not just this one
      return 1;
    } catch (const std::exception& e) {
      std::cerr << "kiln " << verb.name << ": internal error: " << e.what() << std::endl;
      kiln::kernels::abort_mpi_job(70);
      return 70;
    }
  }
  std::cerr << "kiln: unknown verb '" << argv[1] << "' (see kiln --help)\n";
  return 2;
}
