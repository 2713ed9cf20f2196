// Args: flag parsing with UsageError on unknown flags or missing values.
#include "cli/args.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <tuple>
#include <utility>

#include "io/error.h"
#include "io/json.h"
#include "model/model.h"
#include "pipeline/options.h"

namespace lsc::cli {

model::Precision precision_from_environment() {
  model::bf16_pack_mode();  // checked before any work: packing reads it later, inside a pass
  const char* e = std::getenv("LSC_PRECISION");
  if (e == nullptr || *e == '\0') return model::Precision::Exact;
  return model::parse_precision(e, "LSC_PRECISION");
}

model::Precision parse_precision_flag(const std::string& value) {
  for (model::Precision p : {model::Precision::Exact, model::Precision::FP32, model::Precision::BF16}) {
    if (value == model::precision_name(p)) return p;
  }
  throw UsageError("--precision: expected exact, fp32 or bf16, found \"" + value + "\"");
}

int64_t parse_environment_count(const char* name, const std::string& text, bool byte_suffixes) {
  const std::string expected = byte_suffixes ? "a whole number of bytes >= 1, optionally with K, M or G (KiB, MiB, GiB)"
                                             : "a whole number >= 1";
  const std::string found = "\"" + text + "\"";
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 15) throw InputError(name, "value", expected, found);
  int shift = 0;
  const std::string suffix = text.substr(digits);
  if (byte_suffixes && !suffix.empty()) {
    const char unit = static_cast<char>(suffix[0] & ~0x20);  // upper case
    shift = unit == 'K' ? 10 : unit == 'M' ? 20 : unit == 'G' ? 30 : -1;
    const std::string rest = suffix.substr(1);
    if (shift < 0 || !(rest.empty() || rest == "iB" || rest == "B")) throw InputError(name, "value", expected, found);
  } else if (!suffix.empty()) {
    throw InputError(name, "value", expected, found);
  }
  const int64_t count = std::stoll(text.substr(0, digits));
  if (count < 1 || count > (INT64_MAX >> shift)) throw InputError(name, "value", expected, found);
  return count << shift;
}

void apply_environment(pipeline::RunOptions& o) {
  for (const auto& [name, field, bytes] :
       {std::tuple<const char*, int64_t*, bool>{"LSC_GROUP_BYTES", &o.group_bytes, true},
        std::tuple<const char*, int64_t*, bool>{"LSC_BATCH_TOKENS", &o.batch_tokens, false}}) {
    const char* env = std::getenv(name);
    if (env != nullptr && *env != '\0') *field = parse_environment_count(name, env, bytes);
  }
}

namespace {

// Levenshtein distance, for suggesting the option or command a misspelt one meant.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// "unknown option --maxtokens (did you mean --max-tokens?); this command takes --data, ...": the
// closest option (closest_name), then every option the command takes.
std::string unknown_option_message(const std::string& name, const std::set<std::string>& value_flags,
                                   const std::set<std::string>& bool_flags) {
  std::set<std::string> all(value_flags);
  all.insert(bool_flags.begin(), bool_flags.end());
  const std::string best = closest_name(name, std::vector<std::string>(all.begin(), all.end()));
  std::string msg = "unknown option --" + name;
  if (!best.empty()) msg += " (did you mean --" + best + "?)";
  msg += "; this command takes";
  const char* sep = " ";
  for (const std::string& o : all) {
    msg += sep + std::string("--") + o;
    sep = ", ";
  }
  return msg;
}

}  // namespace

std::string closest_name(const std::string& name, const std::vector<std::string>& names) {
  std::string best;
  size_t best_d = 3, n_best = 0;
  for (const std::string& o : names) {
    const size_t d = edit_distance(name, o);
    if (d < best_d) {
      best_d = d;
      best = o;
      n_best = 1;
    } else if (d == best_d) {
      ++n_best;
    }
  }
  if (n_best == 1) return best;
  if (n_best == 0 && name.size() >= 2) {  // an abbreviation: --boot for --bootstrap
    std::string only;
    for (const std::string& o : names) {
      if (o.rfind(name, 0) == 0) {
        if (!only.empty()) return "";
        only = o;
      }
    }
    return only;
  }
  return "";
}

Args::Args(int argc, char** argv, const std::set<std::string>& value_flags,
           const std::set<std::string>& bool_flags) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 2 && a.rfind("--", 0) == 0) {
      std::string name = a.substr(2);
      std::optional<std::string> value;
      auto eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      if (bool_flags.count(name)) {
        if (value) throw UsageError("--" + name + " takes no value");
        bools_.insert(name);
      } else if (value_flags.count(name)) {
        if (!value) {
          if (i + 1 >= argc) throw UsageError("--" + name + " needs a value");
          value = argv[++i];
        }
        values_[name].push_back(*value);
      } else {
        throw UsageError(unknown_option_message(name, value_flags, bool_flags));
      }
    } else {
      positionals_.push_back(a);
    }
  }
}

bool Args::has(const std::string& name) const {
  return bools_.count(name) > 0 || values_.count(name) > 0;
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  // One value: a second, different one would silently replace the first.
  for (const std::string& v : it->second) {
    if (v != it->second.front()) {
      throw UsageError("--" + name + " is given twice, as \"" + it->second.front() + "\" and as \"" + v +
                       "\": give it once");
    }
  }
  return it->second.front();
}

std::string Args::get_or(const std::string& name, const std::string& fallback) const {
  auto v = get(name);
  return v ? *v : fallback;
}

std::string Args::require(const std::string& name) const {
  auto v = get(name);
  if (!v) throw UsageError("missing required option --" + name);
  return *v;
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int64_t Args::get_int(const std::string& name, int64_t fallback, int64_t min_value,
                      int64_t max_value) const {
  auto v = get(name);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno != 0 || x < min_value || x > max_value) {
    throw UsageError("--" + name + ": expected an integer in [" + std::to_string(min_value) + ", " +
                     std::to_string(max_value) + "], found \"" + *v + "\"");
  }
  return x;
}

double Args::get_double(const std::string& name, double fallback, double min_value, double max_value) const {
  auto v = get(name);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  const double x = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || errno != 0 || !(x >= min_value && x <= max_value)) {
    char range[96];
    std::snprintf(range, sizeof range, "[%g, %g]", min_value, max_value);
    throw UsageError("--" + name + ": expected a number in " + range + ", found \"" + *v + "\"");
  }
  return x;
}

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& what) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {  // a JSON array, as json.dump(ids) writes it
    const io::Json j = io::parse_json(text, what);
    std::vector<int64_t> out;
    for (size_t i = 0; i < j.size(); ++i) {
      if (!j[i].is_number_integer()) {
        throw InputError(what, "token id at position " + std::to_string(i), "an integer", io::json_type_name(j[i]));
      }
      out.push_back(j[i].get<int64_t>());
    }
    return out;
  }
  std::vector<int64_t> out;
  size_t pos = 0;
  int64_t position = 0;  // counted from 0, as the token positions of validate_ids' errors
  bool after_comma = false;  // an item must stand between two commas ("1,,2" is not [1, 2])
  while (pos <= text.size()) {
    size_t end = text.find_first_of(", \t\r\n", pos);
    if (end == std::string::npos) end = text.size();
    std::string tok = text.substr(pos, end - pos);
    const bool comma = end < text.size() && text[end] == ',';
    pos = end + 1;
    if (tok.empty()) {
      if (comma && after_comma) {
        throw InputError(what, "token id at position " + std::to_string(position), "an integer",
                         "nothing between two commas");
      }
      after_comma = after_comma || comma;
      continue;
    }
    errno = 0;
    char* stop = nullptr;
    long long x = std::strtoll(tok.c_str(), &stop, 10);
    if (*stop != '\0' || errno != 0) {
      throw InputError(what, "token id at position " + std::to_string(position), "an integer", "\"" + tok + "\"");
    }
    out.push_back(x);
    ++position;
    after_comma = comma;
  }
  return out;
}

}  // namespace lsc::cli
