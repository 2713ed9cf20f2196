// logitscope entry point: dispatches to a subcommand and maps errors to documented exit codes.
// Errors become messages and exit codes in run_guarded (cli/guarded.h).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/guarded.h"
#include "cli/mpi_world.h"
#include "cli/threads.h"
#include "io/error.h"
#include "kernels/cpu/kernels.h"
#include "pipeline/build_info.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"inspect", lsc::cli::cmd_inspect, "describe a checkpoint folder (architecture, sizes, memory)"},
    {"logits", lsc::cli::cmd_logits, "one teacher-forced forward pass over token ids"},
    {"run", lsc::cli::cmd_run, "the main job: models x dataset -> results database"},
    {"demo", lsc::cli::cmd_demo, "write demo checkpoints and data, then run the whole pipeline"},
    {"stats", lsc::cli::cmd_stats, "model, level and correctness comparisons of a finished run"},
    {"export", lsc::cli::cmd_export, "write a results table as CSV or JSONL"},
    {"tokenize", lsc::cli::cmd_tokenize, "tokenize or decode text with a model's tokenizer.json"},
    {"report", lsc::cli::cmd_report, "write the self-contained interactive HTML report of a results directory"},
    {"merge", lsc::cli::cmd_merge, "join the shards of a run (run --shard I/N, mpirun) into one results directory"},
};

void print_usage(std::FILE* out) {
  std::fprintf(out, "usage: logitscope <command> [options]\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\nRun 'logitscope <command> --help' for a command's options, 'logitscope --version' for the\n"
                    "version, the commit it was built from and the kernels this CPU runs.\n");
}

// OpenMP threads that wait at a barrier spin for a while before they sleep; libgomp's default
// (GOMP_SPINCOUNT 300000, milliseconds) lets a waiting thread burn the core another process or
// our other thread needs. A short spin keeps an idle machine's speed and degrades gracefully on
// a busy one (docs/performance.md, "OpenMP wait policy"). libgomp reads its environment when it
// is loaded, before main, so the setting takes effect by starting this program again with it;
// a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT is kept as given.
void use_short_openmp_spin(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  ::setenv("GOMP_SPINCOUNT", "3000", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: then go on with the default
}

}  // namespace

int main(int argc, char** argv) {
  use_short_openmp_spin(argv);
  bool threads_given = false;
  for (int i = 1; i < argc; ++i) threads_given |= std::string(argv[i]).rfind("--threads", 0) == 0;
  lsc::cli::apply_default_threads(threads_given);
  if (argc < 2) {
    print_usage(stderr);
    return lsc::kExitUsage;
  }
  // `logitscope help run` is `logitscope run --help`; `run -h` is `run --help`.
  std::string help_flag = "--help";
  std::vector<char*> args(argv, argv + argc);
  if (std::string(argv[1]) == "help" && argc > 2) args = {argv[0], argv[2], help_flag.data()};
  for (size_t i = 2; i < args.size(); ++i) {
    if (std::string(args[i]) == "-h") args[i] = help_flag.data();
  }
  argc = static_cast<int>(args.size());
  argv = args.data();
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(stdout);
    return lsc::kExitOk;
  }
  if (name == "--version" || name == "version" || name == "-V") {
    std::printf("%sMPI (mpirun ranks as shards): %s\n", lsc::pipeline::build_description().c_str(),
                lsc::cli::MpiWorld::compiled_with_mpi() ? "built" : "not built");
    return lsc::kExitOk;
  }
  for (const auto& c : kCommands) {
    if (name != c.name) continue;
    return lsc::cli::run_guarded(c.name, [&] {
      // Only `run` divides its work among MPI ranks; any other command started N times would do
      // the same work N times over the same files.
      if (name != "run" && lsc::cli::MpiWorld::launched_ranks() > 1) {
        throw lsc::UsageError("started as one of " + std::to_string(lsc::cli::MpiWorld::launched_ranks()) +
                              " MPI ranks: only 'run' spreads over ranks; start '" + name + "' once");
      }
      lsc::cpu::check_kernel_environment();
      return c.run(argc - 2, argv + 2);
    });
  }
  std::vector<std::string> names;
  for (const auto& c : kCommands) names.push_back(c.name);
  names.push_back("--version");
  const std::string meant = lsc::cli::closest_name(name, names);
  const std::string hint = meant.empty() ? "" : " (did you mean '" + meant + "'?)";
  std::fprintf(stderr, "logitscope: unknown command '%s'%s\n\n", name.c_str(), hint.c_str());
  print_usage(stderr);
  return lsc::kExitUsage;
}
