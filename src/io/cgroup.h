// The limits a control group puts on this process, which /proc/meminfo and the CPU affinity mask
// do not show: a memory limit (docker --memory, a Kubernetes limit, systemd's MemoryMax) and a
// CPU quota (docker --cpus, a Kubernetes CPU limit, systemd's CPUQuota). Read from cgroup v2
// (memory.max, memory.current, cpu.max) or, where the hierarchy is v1, its memory and cpu
// controllers (memory.limit_in_bytes, memory.usage_in_bytes, cpu.cfs_quota_us, cpu.cfs_period_us),
// in the process's own group (named in /proc/self/cgroup) and every group above it: the tightest
// counts. Where that group's folder is not under `root` (a container that mounts its own group
// as the root), the root's files are read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace lsc::io {

inline const std::string kCgroupRoot = "/sys/fs/cgroup";
inline const std::string kSelfCgroup = "/proc/self/cgroup";

// Bytes the groups may still take (each limit minus its group's usage, page cache included as
// the kernel counts it; the least of them), or nullopt where no limit is set or none can be read.
std::optional<int64_t> cgroup_memory_room(const std::string& root = kCgroupRoot,
                                          const std::string& self = kSelfCgroup);

// CPUs the tightest quota amounts to, rounded up (a quota of 2.5 CPUs per period is 3), or
// nullopt where there is no quota or none can be read.
std::optional<int> cgroup_cpu_limit(const std::string& root = kCgroupRoot, const std::string& self = kSelfCgroup);

}  // namespace lsc::io
