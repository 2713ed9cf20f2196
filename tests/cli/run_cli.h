// Runs the built logitscope binary and captures exit code, stdout and stderr (CLI tests).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "io/sqlite.h"

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

// Every table of a results database as text, rows sorted, reals exact (hex floats), for comparing
// two runs: equal dumps mean the same rows and the same values. Left out: the run's timing in
// meta, how it was split (n_shards) and models.path (tests run copies of a model from elsewhere).
inline std::map<std::string, std::string> dump_tables(const std::string& db_path) {
  static const std::set<std::string> kVolatileMeta = {"compute_seconds", "tokens_per_second", "n_shards", "timing_json"};
  io::Db db(db_path, false);
  std::map<std::string, std::string> out;
  io::Stmt tables(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  while (tables.step()) {
    const std::string t = tables.col_text(0);
    io::Stmt s(db, "SELECT * FROM \"" + t + "\"");
    std::vector<std::string> lines;
    while (s.step()) {
      if (t == "meta" && kVolatileMeta.count(s.col_text(0)) > 0) continue;
      std::string acc;
      for (int i = 0; i < s.n_columns(); ++i) {
        if (t == "models" && s.col_name(i) == "path") continue;
        if (s.col_type(i) == SQLITE_BLOB) {
          const auto b = s.col_blob(i);
          acc.append(b.begin(), b.end());
        } else if (s.col_type(i) == SQLITE_FLOAT) {
          char buf[40];
          std::snprintf(buf, sizeof buf, "%a", s.col_double(i));
          acc += buf;
        } else {
          acc += s.col_text(i);
        }
        acc += '|';
      }
      lines.push_back(acc);
    }
    std::sort(lines.begin(), lines.end());
    for (const auto& l : lines) out[t] += l + "\n";
  }
  return out;
}

}  // namespace lsc::test
