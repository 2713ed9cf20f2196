// What the oneDNN translation units share (not part of the kernels' interface): the one CPU
// engine, and planning a primitive for one thread — oneDNN reads the thread count when it plans
// a kernel, and every primitive here runs inside our own parallel loops, one call per task, so
// that results never depend on the thread count.
#pragma once

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

namespace lsc::cpu {

dnnl::engine& dnnl_engine();

// Plans for one thread while it lives, and restores the caller's count even if oneDNN throws.
struct OneThread {
  int saved = omp_get_max_threads();
  OneThread() { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(saved); }
};

}  // namespace lsc::cpu
