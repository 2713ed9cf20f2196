// Formatting of input errors and the invariant-failure handler.
#include "io/error.h"

#include <cstdio>
#include <cstdlib>

namespace lsc {

InputError::InputError(std::string where, std::string item, std::string expected,
                       std::string found)
    : std::runtime_error("input error") {
  message_ = std::move(where);
  if (!item.empty()) message_ += ": " + item;
  message_ += ": expected " + expected + ", found " + found;
}

InputError::InputError(std::string message)
    : std::runtime_error("input error"), message_(std::move(message)) {}

void InputError::add_context(const std::string& context) { message_ = context + ": " + message_; }

void check_failed(const char* cond, const char* file, int line, const std::string& msg) {
  std::fprintf(stderr, "logitscope: internal error: %s:%d: check failed: %s%s%s\n", file, line,
               cond, msg.empty() ? "" : ": ", msg.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace lsc
