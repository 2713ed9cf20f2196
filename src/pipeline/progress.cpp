// Progress bar / log lines, drawn by a ticker thread.
#include "pipeline/progress.h"

#include <unistd.h>

#include <cstdio>

namespace lsc::pipeline {

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

std::string counted(int64_t n, const std::string& noun) { return std::to_string(n) + " " + noun + (n == 1 ? "" : "s"); }

std::string format_seconds(double s) {
  if (!(s >= 0) || s >= 59.95) return format_duration(s);
  char b[32];
  std::snprintf(b, sizeof b, s < 9.995 ? "%.2f s" : "%.1f s", s);
  return b;
}

Progress::Progress(bool quiet, double interval)
    : quiet_(quiet), tty_(::isatty(2) != 0), interval_(interval > 0 ? interval : 10.0) {
  start_ = phase_start_ = Clock::now();
  if (!quiet_) ticker_ = std::thread([this] { tick(); });
}

Progress::~Progress() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

void Progress::tick() {
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(tty_ ? 0.2 : interval_));
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, period, [this] { return stop_; })) draw();
}

void Progress::set_phase(const std::string& phase) {
  std::lock_guard<std::mutex> lock(mu_);
  phase_ = phase;
  phase_start_ = Clock::now();
}

void Progress::set_totals(int64_t n_texts, int64_t n_tokens, int64_t texts_done, int64_t tokens_done) {
  std::lock_guard<std::mutex> lock(mu_);
  n_texts_ = n_texts;
  n_tokens_ = n_tokens;
  texts_ = texts_done;
  tokens_ = tokens_done;
  measured_before_ = tokens_done;
}

void Progress::pass_begin(int64_t n_tokens, int n_layers) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!computing_) {
    computing_ = true;
    compute_start_ = Clock::now();
    tokens_at_compute_start_ = tokens_;
  }
  layers_done_ = 0;
  pass_layers_ = n_layers > 0 ? n_layers : 1;
  pass_tokens_ = n_tokens;
  pass_start_ = Clock::now();
}

void Progress::layer_done(int layers_done) { layers_done_ = layers_done; }

void Progress::pass_done() {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t n = pass_tokens_.exchange(0);
  tokens_ += n;
  forward_tokens_ += n;
  forward_s_ += std::chrono::duration<double>(Clock::now() - pass_start_).count();
  layers_done_ = 0;
}

void Progress::measure_begin() {
  std::lock_guard<std::mutex> lock(mu_);
  measure_start_ = Clock::now();
}

void Progress::text_committed(int64_t tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  ++texts_;
  measured_tokens_ += tokens;
  measure_s_ += std::chrono::duration<double>(Clock::now() - measure_start_).count();
}

// Called with mu_ held.
void Progress::draw() {
  if (quiet_) return;
  const auto now = Clock::now();
  const double in_phase = std::chrono::duration<double>(now - phase_start_).count();
  const int64_t in_flight = pass_tokens_ * layers_done_ / pass_layers_;  // layers done of the pass running
  const int64_t done = tokens_ + in_flight;
  const int64_t fresh = done - tokens_at_compute_start_;
  const double computing_s = computing_ ? std::chrono::duration<double>(now - compute_start_).count() : 0.0;
  const double rate = computing_s > 0 ? double(fresh) / computing_s : 0.0;
  // Forward tokens left at the passes' rate (the pass in flight counted by its layers), plus the
  // tokens left to measure at the measuring rate once known.
  double eta = -1;
  bool eta_at_least = false;  // the measuring step's rate not known yet: the passes' time alone
  if (forward_tokens_ > 0 || measured_tokens_ > 0 || (rate > 0 && fresh > 0)) {
    const double in_pass = pass_tokens_ > 0 ? std::chrono::duration<double>(now - pass_start_).count() : 0.0;
    const double fwd_done = double(forward_tokens_ + in_flight);
    const double fwd_rate = forward_s_ + in_pass > 0 && fwd_done > 0 ? fwd_done / (forward_s_ + in_pass) : rate;
    const double measure_rate = measure_s_ > 0 ? double(measured_tokens_) / measure_s_ : 0.0;
    const double fwd_left = double(n_tokens_ - done), measure_left = double(n_tokens_ - measured_before_ - measured_tokens_);
    if (fwd_rate > 0) eta = fwd_left / fwd_rate + (measure_rate > 0 ? measure_left / measure_rate : 0.0);
    eta_at_least = measure_rate == 0 && measure_left > 0;
  }
  const std::string eta_text = (eta_at_least && eta >= 0 ? ">" : "") + format_duration(eta);
  const double frac = n_tokens_ > 0 ? double(done) / double(n_tokens_) : 0.0;
  std::string what = phase_;
  if (pass_tokens_ > 0) what += ", layer " + std::to_string(layers_done_) + "/" + std::to_string(pass_layers_);
  what += " (" + format_duration(in_phase) + ")";
  char line[512];
  if (n_tokens_ == 0) {  // before the texts are planned: the phase only
    std::snprintf(line, sizeof line, tty_ ? "\r%s\x1b[K" : "logitscope: %s\n", what.c_str());
  } else if (tty_) {
    char bar[21];
    const int fill = static_cast<int>(frac * 20 + 0.5);
    for (int i = 0; i < 20; ++i) bar[i] = i < fill ? '#' : '.';
    bar[20] = '\0';
    std::snprintf(line, sizeof line, "\r[%s] %lld/%lld texts  %lld/%lld tokens  %.0f tok/s  ETA %s  %s\x1b[K", bar,
                  static_cast<long long>(texts_), static_cast<long long>(n_texts_), static_cast<long long>(done),
                  static_cast<long long>(n_tokens_), rate, eta_text.c_str(), what.c_str());
  } else {
    std::snprintf(line, sizeof line,
                  "logitscope: %lld/%lld texts committed, %lld/%lld tokens (%.0f%%), %.0f tok/s, ETA %s, %s\n",
                  static_cast<long long>(texts_), static_cast<long long>(n_texts_), static_cast<long long>(done),
                  static_cast<long long>(n_tokens_), 100 * frac, rate, eta_text.c_str(), what.c_str());
  }
  std::fputs(line, stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::clear_line() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!quiet_ && tty_ && drawn_) std::fputs("\r\033[K", stderr);
}

void Progress::finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
    const bool all_done_before = n_texts_ > 0 && !computing_ && measured_tokens_ == 0 && texts_ == n_texts_;
    if (!quiet_ && !(all_done_before && !(tty_ && drawn_))) {
      pass_tokens_ = 0;
      phase_start_ = start_;  // the last line's time is the whole run's
      draw();
      if (tty_) std::fputs("\n", stderr);
    }
  }
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

}  // namespace lsc::pipeline
