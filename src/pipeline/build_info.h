// What this build of logitscope is: its version and the commit it was built from, recorded in
// every run's results (meta.program_version) and printed by `logitscope --version` with the
// compiler and the kernels this CPU runs.
#pragma once

#include <string>

namespace lsc::pipeline {

// "0.1.0 (commit f5edef8)"; "-dirty" after the commit where tracked files differed from it, and
// the version alone where the source tree was not a git checkout.
std::string program_version();

// Lines for --version: the version, compiler and build type, then the CPU and what runs on it
// (fp32 kernels, the bf16 products' ISA, exact's method), and which optional backends are built —
// with the CUDA backend, the devices it sees (or why none).
std::string build_description();

}  // namespace lsc::pipeline
