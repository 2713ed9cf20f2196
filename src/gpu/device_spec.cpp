// --device parsing and the device description (both builds).
#include <cstdio>
#include <string>
#include <vector>

#include "gpu/gpu.h"
#include "io/error.h"

namespace lsc::gpu {

bool is_cuda_spec(const std::string& spec) { return spec == "cuda" || spec.rfind("cuda:", 0) == 0; }

int parse_device(const std::string& spec, int rank, int n_devices) {
  if (spec == "cpu") return -1;
  if (spec == "cuda") return 0;
  if (spec == "cuda:auto") return n_devices > 0 ? rank % n_devices : 0;
  if (spec.rfind("cuda:", 0) == 0) {
    const std::string n = spec.substr(5);
    if (!n.empty() && n.size() <= 4 && n.find_first_not_of("0123456789") == std::string::npos) return std::stoi(n);
  }
  throw UsageError("--device '" + spec + "': expected cpu, cuda, cuda:N (a device number) or cuda:auto (one GPU per MPI rank)");
}

void require_device(const std::string& spec) {
  const int device = parse_device(spec, 0, 1);
  if (device < 0) return;
  std::string why;
  const std::vector<DeviceInfo> devices = cuda_devices(&why);
  if (devices.empty()) throw DeviceError("--device " + spec + ": " + why);
  if (spec != "cuda:auto" && device >= int(devices.size())) {
    throw DeviceError("--device " + spec + ": no such device (this process sees " + std::to_string(devices.size()) +
                      ": cuda:0-" + std::to_string(devices.size() - 1) + ")");
  }
}

std::string DeviceInfo::describe() const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "cuda:%d %s (sm_%d%d, %.1f GiB, driver %d.%d, runtime %d.%d)", index, name.c_str(),
                cc_major, cc_minor, double(total_bytes) / double(int64_t{1} << 30), driver_version / 1000,
                (driver_version % 1000) / 10, runtime_version / 1000, (runtime_version % 1000) / 10);
  return buf;
}

}  // namespace lsc::gpu
