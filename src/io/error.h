// Errors: InputError for bad user input (file, place, expected, found), LSC_CHECK for our own bugs.
// Exit codes are documented in README.md and defined here once.
#pragma once

#include <stdexcept>
#include <string>

namespace lsc {

// Process exit codes (README.md, "Exit codes").
inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;   // a bug in logitscope (LSC_CHECK failed)
inline constexpr int kExitUsage = 2;      // bad command line
inline constexpr int kExitInput = 3;      // bad input file (checkpoint, tokenizer, data)
inline constexpr int kExitIo = 4;         // cannot write an output
inline constexpr int kExitDevice = 5;     // the GPU (--device cuda) failed or lacks memory
inline constexpr int kExitInterrupted = 130;

// A user's input is wrong. The message reads "<where>: <item>: expected <x>, found <y>".
class InputError : public std::runtime_error {
 public:
  InputError(std::string where, std::string item, std::string expected, std::string found);
  explicit InputError(std::string message);

  // Prefix outer context on the way up: "checkpoint 'rl': <message>".
  void add_context(const std::string& context);
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// The command line is wrong (unknown flag, missing value). Exit code kExitUsage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An output could not be written (disk full, permissions). Exit code kExitIo.
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A GPU could not do what was asked (no device, too little memory, a failed CUDA call). The
// message names the call or the need, the device and what to do. Exit code kExitDevice.
class DeviceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void check_failed(const char* cond, const char* file, int line, const std::string& msg);

}  // namespace lsc

// Broken invariant (our bug): always on, prints file:line and aborts.
#define LSC_CHECK(cond)                                                      \
  do {                                                                       \
    if (!(cond)) ::lsc::check_failed(#cond, __FILE__, __LINE__, std::string()); \
  } while (0)
#define LSC_CHECK_MSG(cond, msg)                                \
  do {                                                          \
    if (!(cond)) ::lsc::check_failed(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
#ifdef NDEBUG
#define LSC_DCHECK(cond) \
  do {                   \
  } while (0)
#else
#define LSC_DCHECK(cond) LSC_CHECK(cond)
#endif
