#include "results/shard.h"

#include <algorithm>
#include <numeric>

#include "io/error.h"
#include "io/paths.h"

namespace lsc::results {

bool try_parse_shard(const std::string& text, ShardSpec* out) {
  const auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) return false;
  const auto number = [](const std::string& s, int* v) {
    if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    *v = std::stoi(s);
    return true;
  };
  ShardSpec s;
  if (!number(text.substr(0, slash), &s.index) || !number(text.substr(slash + 1), &s.count)) return false;
  if (s.count < 1 || s.count > 65536 || s.index >= s.count) return false;
  *out = s;
  return true;
}

ShardSpec parse_shard(const std::string& text, const std::string& flag) {
  ShardSpec s;
  if (try_parse_shard(text, &s)) return s;
  // Say which rule failed, where the text has the I/N shape.
  std::string why;
  const auto slash = text.find('/');
  if (slash != std::string::npos && slash > 0 && slash + 1 < text.size()) {
    const std::string i = text.substr(0, slash), n = text.substr(slash + 1);
    const auto digits = [](const std::string& d) {
      return !d.empty() && d.size() <= 6 && std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (digits(i) && digits(n)) why = std::stoi(n) < 1 || std::stoi(n) > 65536 ? "N must be 1 to 65536" : "I must be less than N";
  }
  throw UsageError(flag + ": expected I/N with 0 <= I < N (shard I of N, counted from 0), found \"" + text + "\"" +
                   (why.empty() ? "" : " (" + why + ")"));
}

std::vector<int> assign_shards(const std::vector<int64_t>& tokens_per_text, int n_shards) {
  std::vector<size_t> order(tokens_per_text.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return tokens_per_text[a] > tokens_per_text[b]; });
  std::vector<int64_t> load(static_cast<size_t>(n_shards), 0);
  std::vector<int> shard(tokens_per_text.size(), 0);
  for (size_t t : order) {
    const size_t s = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    shard[t] = static_cast<int>(s);
    load[s] += tokens_per_text[t];
  }
  return shard;
}

std::string shard_dir(const std::string& out_dir, const ShardSpec& s) {
  return io::join_path(io::join_path(out_dir, "shards"), std::to_string(s.index) + "-of-" + std::to_string(s.count));
}

bool parse_shard_dir_name(const std::string& name, ShardSpec* out) {
  const auto of = name.find("-of-");
  return of != std::string::npos && try_parse_shard(name.substr(0, of) + "/" + name.substr(of + 4), out);
}

std::string shard_meta(const ShardSpec& s) { return std::to_string(s.index) + "/" + std::to_string(s.count); }

}  // namespace lsc::results
