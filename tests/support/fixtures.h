// Where tests find the shared reference fixtures and their own data. LSC_FIXTURES overrides the
// build-time default. A missing fixture is a failure, never a skip.
#pragma once

#include <cstdlib>
#include <string>

namespace lsc::test {

inline std::string fixtures_dir() {
  const char* env = std::getenv("LSC_FIXTURES");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(LSC_FIXTURES_DEFAULT);
}
inline std::string fixture(const std::string& rel) { return fixtures_dir() + "/" + rel; }
inline std::string test_data(const std::string& rel) { return std::string(LSC_TEST_DATA) + "/" + rel; }
// The logitscope binary under test: $LSC_BINARY (a relocated build, as scripts/gpu-check.sh runs
// one) or the one built beside the tests.
inline std::string binary() {
  const char* env = std::getenv("LSC_BINARY");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(LSC_BINARY);
}

}  // namespace lsc::test
