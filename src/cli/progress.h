// Progress on stderr: a one-line bar redrawn in place on a terminal, periodic log lines otherwise
// (CI logs, nohup). Texts and tokens done, tokens/s, ETA, what is running now.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lsc::cli {

class Progress {
 public:
  Progress(int64_t n_texts_total, int64_t n_tokens_total, bool quiet);
  void set_done(int64_t texts, int64_t tokens_done_before);  // already finished before this session
  void set_stage(const std::string& stage) { stage_ = stage; }
  void add_tokens(int64_t n);  // forward-pass tokens (over all models)
  void add_text();
  void finish();

 private:
  void draw(bool force);
  using Clock = std::chrono::steady_clock;
  int64_t n_texts_, n_tokens_, texts_ = 0, tokens_ = 0, tokens_at_start_ = 0;
  bool quiet_, tty_;
  std::string stage_;
  Clock::time_point start_, last_draw_;
};

std::string format_duration(double seconds);  // "1:02:03", "4:05"

}  // namespace lsc::cli
