#include "io/cgroup.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <vector>

namespace lsc::io {
namespace {

// The first two whitespace-separated words of a file; false where it cannot be read.
bool read_words(const std::string& path, std::string& a, std::string& b) {
  std::ifstream in(path);
  if (!(in >> a)) return false;
  in >> b;  // where there is a second word
  return true;
}

std::optional<int64_t> whole_number(const std::string& s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// The folders of the process's group and of every group above it, deepest first, in the v2
// hierarchy (controller "") or the v1 hierarchy of `controller` (mounted at root/controller,
// or at root/cpu,cpuacct for "cpu"). Just the hierarchy's root where the process's group is not
// under it.
std::vector<std::string> group_dirs(const std::string& root, const std::string& self, const std::string& controller) {
  namespace fs = std::filesystem;
  std::string base = controller.empty() ? root : root + "/" + controller;
  if (!controller.empty() && !fs::is_directory(base) && fs::is_directory(root + "/cpu,cpuacct") && controller == "cpu") {
    base = root + "/cpu,cpuacct";
  }
  std::string path;  // "/a/b" from "0::/a/b" (v2) or "4:memory:/a/b" (v1)
  std::ifstream in(self);
  for (std::string line; std::getline(in, line);) {
    const size_t c1 = line.find(':'), c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    std::stringstream names(line.substr(c1 + 1, c2 - c1 - 1));
    bool match = controller.empty() && c2 == c1 + 1;
    for (std::string name; !match && std::getline(names, name, ',');) match = !controller.empty() && name == controller;
    if (match) path = line.substr(c2 + 1);
  }
  std::vector<std::string> dirs;
  fs::path dir = fs::path(base + path).lexically_normal();
  const fs::path top = fs::path(base).lexically_normal();
  if (path.empty() || path == "/" || !fs::is_directory(dir)) return {top.string()};
  for (; dir != top && dir.has_relative_path() && dir.string().size() > top.string().size(); dir = dir.parent_path()) {
    dirs.push_back(dir.string());
  }
  dirs.push_back(top.string());
  return dirs;
}

// The least of `limit_in(dir)` over the dirs that have one.
template <typename T>
std::optional<T> tightest(const std::vector<std::string>& dirs, const std::function<std::optional<T>(const std::string&)>& limit_in) {
  std::optional<T> best;
  for (const std::string& d : dirs) {
    if (const std::optional<T> v = limit_in(d); v && (!best || *v < *best)) best = v;
  }
  return best;
}

}  // namespace

std::optional<int64_t> cgroup_memory_room(const std::string& root, const std::string& self) {
  // v1 writes "no limit" as the largest page-aligned number (9223372036854771712): beyond 18 digits.
  auto room = [](const std::string& limit_file, const std::string& usage_file) -> std::optional<int64_t> {
    std::string limit_s, usage_s, unused;
    if (!read_words(limit_file, limit_s, unused) || !read_words(usage_file, usage_s, unused)) return std::nullopt;
    const auto limit = whole_number(limit_s), usage = whole_number(usage_s);  // v2 "max": none
    if (!limit || !usage) return std::nullopt;
    return *limit - *usage;
  };
  if (auto v2 = tightest<int64_t>(group_dirs(root, self, ""), [&](const std::string& d) {
        return room(d + "/memory.max", d + "/memory.current");
      })) {
    return v2;
  }
  return tightest<int64_t>(group_dirs(root, self, "memory"), [&](const std::string& d) {
    return room(d + "/memory.limit_in_bytes", d + "/memory.usage_in_bytes");
  });
}

std::optional<int> cgroup_cpu_limit(const std::string& root, const std::string& self) {
  auto cpus = [](const std::string& quota_s, const std::string& period_s) -> std::optional<int> {
    const auto quota = whole_number(quota_s), period = whole_number(period_s);  // "max", -1: none
    if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
    return static_cast<int>(std::min<int64_t>((*quota + *period - 1) / *period, 1 << 20));
  };
  if (auto v2 = tightest<int>(group_dirs(root, self, ""), [&](const std::string& d) -> std::optional<int> {
        std::string quota_s, period_s;  // "max 100000" or "200000 100000"
        if (!read_words(d + "/cpu.max", quota_s, period_s)) return std::nullopt;
        return cpus(quota_s, period_s);
      })) {
    return v2;
  }
  return tightest<int>(group_dirs(root, self, "cpu"), [&](const std::string& d) -> std::optional<int> {
    std::string quota_s, period_s, unused;
    if (!read_words(d + "/cpu.cfs_quota_us", quota_s, unused) || !read_words(d + "/cpu.cfs_period_us", period_s, unused)) {
      return std::nullopt;
    }
    return cpus(quota_s, period_s);
  });
}

}  // namespace lsc::io
