// Command-line parsing shared by all subcommands: "--name value", "--name=value", boolean flags
// and positionals. Each subcommand declares the flags it knows; anything else is a UsageError.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace lsc::pipeline {
struct RunOptions;
}
namespace lsc::model {
enum class Precision;
}

namespace lsc::cli {

// The environment's overrides of how a run is computed (never what): LSC_GROUP_BYTES (hidden
// states kept between the forward passes and the measuring step), LSC_BATCH_TOKENS (rows per
// forward pass; 1 = one text per pass). Read once, here, by the commands that run; a value that
// is not a whole number >= 1 (LSC_GROUP_BYTES also with a K, M or G suffix: 512M, 2GiB) is an
// InputError naming the variable, never read as something else.
void apply_environment(pipeline::RunOptions& o);
// The parser behind it: `text` as a count >= 1; with byte_suffixes, K/M/G (binary, optionally
// followed by B or iB) multiply it.
int64_t parse_environment_count(const char* name, const std::string& text, bool byte_suffixes);
// LSC_PRECISION if set ("exact", "fp32" or "bf16"; InputError otherwise), else exact: the
// default of the commands that run a model, before their --precision flag. Also checks
// LSC_BF16_PACK (model::bf16_pack_mode), so a bad value stops such a command before any work.
model::Precision precision_from_environment();
// The value of --precision; UsageError naming the flag otherwise.
model::Precision parse_precision_flag(const std::string& value);

class Args {
 public:
  // value_flags take a value; bool_flags do not. Repeated value flags accumulate: all() returns
  // them (--model, --field); the single-value accessors (get, get_or, require, get_int,
  // get_double) throw a UsageError when a flag was given twice with different values.
  Args(int argc, char** argv, const std::set<std::string>& value_flags,
       const std::set<std::string>& bool_flags);

  bool has(const std::string& name) const;
  std::optional<std::string> get(const std::string& name) const;
  std::string get_or(const std::string& name, const std::string& fallback) const;
  std::string require(const std::string& name) const;             // UsageError if absent
  std::vector<std::string> all(const std::string& name) const;
  int64_t get_int(const std::string& name, int64_t fallback, int64_t min_value,
                  int64_t max_value) const;
  double get_double(const std::string& name, double fallback, double min_value, double max_value) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::set<std::string> bools_;
  std::vector<std::string> positionals_;
};

// The one of `names` that a misspelt `name` most likely meant: the single closest within two
// edits, else the single one it abbreviates (starts with, 2 characters at least); "" otherwise.
std::string closest_name(const std::string& name, const std::vector<std::string>& names);

// "1,2,3" -> {1,2,3}; throws InputError naming `what` and the bad entry's position (from 0, as token
// positions are counted).
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& what);

}  // namespace lsc::cli
