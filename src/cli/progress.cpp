// Progress bar / log lines.
#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace lsc::cli {

std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  const long t = static_cast<long>(s + 0.5);
  char b[32];
  if (t >= 3600) {
    std::snprintf(b, sizeof b, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  } else {
    std::snprintf(b, sizeof b, "%ld:%02ld", t / 60, t % 60);
  }
  return b;
}

Progress::Progress(int64_t n_texts_total, int64_t n_tokens_total, bool quiet)
    : n_texts_(n_texts_total), n_tokens_(n_tokens_total), quiet_(quiet), tty_(::isatty(2) != 0) {
  start_ = last_draw_ = Clock::now();
}

void Progress::set_done(int64_t texts, int64_t tokens) {
  texts_ = texts;
  tokens_ = tokens_at_start_ = tokens;
}

void Progress::add_tokens(int64_t n) {
  tokens_ += n;
  draw(false);
}

void Progress::add_text() {
  ++texts_;
  draw(false);
}

void Progress::draw(bool force) {
  if (quiet_) return;
  const auto now = Clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  // Terminal: redraw at most 5 times a second. Log: a line every 10 seconds.
  if (!force && since < (tty_ ? 0.2 : 10.0)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? double(tokens_ - tokens_at_start_) / elapsed : 0.0;
  const double eta = rate > 0 ? double(n_tokens_ - tokens_) / rate : -1;
  const double frac = n_tokens_ > 0 ? double(tokens_) / double(n_tokens_) : 1.0;
  char line[256];
  if (tty_) {
    char bar[21];
    const int fill = static_cast<int>(frac * 20 + 0.5);
    for (int i = 0; i < 20; ++i) bar[i] = i < fill ? '#' : '.';
    bar[20] = '\0';
    std::snprintf(line, sizeof line, "\r[%s] %lld/%lld texts  %lld/%lld tokens  %.0f tok/s  ETA %s  %s\x1b[K", bar,
                  static_cast<long long>(texts_), static_cast<long long>(n_texts_), static_cast<long long>(tokens_),
                  static_cast<long long>(n_tokens_), rate, format_duration(eta).c_str(), stage_.c_str());
  } else {
    std::snprintf(line, sizeof line, "logitscope: %lld/%lld texts, %lld/%lld tokens (%.0f%%), %.0f tok/s, ETA %s, %s\n",
                  static_cast<long long>(texts_), static_cast<long long>(n_texts_), static_cast<long long>(tokens_),
                  static_cast<long long>(n_tokens_), 100 * frac, rate, format_duration(eta).c_str(), stage_.c_str());
  }
  std::fputs(line, stderr);
  std::fflush(stderr);
}

void Progress::finish() {
  if (quiet_) return;
  draw(true);
  if (tty_) std::fputs("\n", stderr);
}

}  // namespace lsc::cli
