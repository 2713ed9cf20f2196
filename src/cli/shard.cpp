#include "cli/shard.h"

#include <algorithm>
#include <numeric>

#include "io/error.h"
#include "io/mapped_file.h"

namespace lsc::cli {

ShardSpec parse_shard(const std::string& text, const std::string& flag) {
  const auto bad = [&](const std::string& why) {
    return UsageError(flag + ": expected I/N with 0 <= I < N (shard I of N, counted from 0), found \"" + text + "\"" +
                      (why.empty() ? "" : " (" + why + ")"));
  };
  const auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) throw bad("");
  const auto number = [&](const std::string& s) {
    if (s.size() > 6 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) throw bad("");
    return std::stoi(s);
  };
  ShardSpec s;
  s.index = number(text.substr(0, slash));
  s.count = number(text.substr(slash + 1));
  if (s.count < 1 || s.count > 65536) throw bad("N must be 1 to 65536");
  if (s.index >= s.count) throw bad("I must be less than N");
  return s;
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

}  // namespace lsc::cli
