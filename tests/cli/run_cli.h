// Runs the built logitscope binary and captures exit code, stdout and stderr (CLI tests).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "support/fixtures.h"

namespace lsc::test {

struct CliResult {
  int code = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// args is a shell-quoted argument string appended to the binary's path.
// env: optional "NAME=value ..." assignments for the child process.
inline CliResult run_cli(const std::string& args, const std::string& stdin_file = "/dev/null",
                         const std::string& env = "") {
  static int counter = 0;
  const std::string base = "/tmp/lsc_cli_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  const std::string cmd = (env.empty() ? "" : env + " ") + binary() + " " + args + " <" + stdin_file + " >" + base + ".out 2>" + base + ".err";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return r;
}

}  // namespace lsc::test
