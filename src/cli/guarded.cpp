#include "cli/guarded.h"

#include <cstdio>
#include <exception>
#include <new>

#include "io/error.h"

namespace lsc::cli {

int run_guarded(const char* command, const std::function<int()>& body, const std::string& prefix) {
  const char* p = prefix.c_str();
  try {
    return body();
  } catch (const UsageError& e) {
    std::fprintf(stderr, "logitscope %s: %susage error: %s\n", command, p, e.what());
    return kExitUsage;
  } catch (const InputError& e) {
    std::fprintf(stderr, "logitscope: %serror: %s\n", p, e.what());
    return kExitInput;
  } catch (const IoError& e) {
    std::fprintf(stderr, "logitscope: %serror: %s\n", p, e.what());
    return kExitIo;
  } catch (const DeviceError& e) {
    std::fprintf(stderr, "logitscope: %sdevice error: %s\n", p, e.what());
    return kExitDevice;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "logitscope: %serror: out of memory\n", p);
    return kExitInternal;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "logitscope: %sinternal error: %s\n", p, e.what());
    return kExitInternal;
  }
}

}  // namespace lsc::cli
