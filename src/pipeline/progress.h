// Progress on stderr while a run works: a one-line bar redrawn in place on a terminal, a log line
// every `interval` seconds otherwise (CI logs, nohup, Slurm). A ticker thread draws it, so a line
// comes on time also while a long forward pass runs. It says what is under way (loading a model,
// the forward passes of model X and how far through its layers, measuring, statistics), texts
// committed, forward-pass tokens done of all (over all models, counting the layers done of the
// pass in flight), the rate since the first forward pass began, and the ETA of the run: the
// forward tokens left at the forward passes' own rate plus the tokens left to measure at the
// measuring step's rate (once a text has been measured).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace lsc::pipeline {

class Progress {
 public:
  // interval: seconds between log lines when stderr is not a terminal (a terminal redraws 5x/s).
  explicit Progress(bool quiet, double interval = 10.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void set_phase(const std::string& phase);  // what is under way now
  // The run's size, and what an earlier session already finished.
  void set_totals(int64_t n_texts, int64_t n_tokens, int64_t texts_done, int64_t tokens_done);
  // A forward pass over n_tokens rows begins; then layer_done() after each of its layers, and
  // pass_done() when its hidden states are out. The first pass starts the rate's clock.
  void pass_begin(int64_t n_tokens, int n_layers);
  void layer_done(int layers_done);
  void pass_done();
  // The measuring step of one text begins; then text_committed() with its tokens (all models).
  void measure_begin();
  void text_committed(int64_t tokens);
  // The last line, timed from the start (and a newline on a terminal), unless every text was
  // done before this session (on a terminal only where nothing was drawn); stops the ticker.
  void finish();
  // Before another message while the line is shown on a terminal: clears it (the ticker draws it
  // again below the message).
  void clear_line();

 private:
  void tick();
  void draw();
  using Clock = std::chrono::steady_clock;
  const bool quiet_, tty_;
  const double interval_;
  std::mutex mu_;  // guards everything below but the atomics
  std::condition_variable cv_;
  bool stop_ = false;
  std::string phase_;
  Clock::time_point start_, phase_start_, compute_start_;
  bool computing_ = false;
  bool drawn_ = false;  // a line was written
  int64_t n_texts_ = 0, n_tokens_ = 0, tokens_at_compute_start_ = 0;
  Clock::time_point pass_start_, measure_start_;
  double forward_s_ = 0, measure_s_ = 0;  // time in forward passes and in measuring, this session
  int64_t forward_tokens_ = 0, measured_tokens_ = 0, measured_before_ = 0;
  std::atomic<int64_t> texts_{0}, tokens_{0}, pass_tokens_{0};
  std::atomic<int> pass_layers_{1}, layers_done_{0};
  std::thread ticker_;
};

std::string format_duration(double seconds);  // "1:02:03", "4:05"
// "1 text", "60 texts": a count with its noun in the number it needs.
std::string counted(int64_t n, const std::string& noun);
// A duration that may be short: "0.03 s", "12.4 s" under a minute, else format_duration's.
std::string format_seconds(double seconds);

}  // namespace lsc::pipeline
