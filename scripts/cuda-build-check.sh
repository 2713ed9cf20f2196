#!/usr/bin/env bash
# Compiles the CUDA backend's sources (src/kernels/cuda and src/gpu's CUDA implementation) against
# the current headers, with warnings as errors, where the CUDA toolkit is installed. No GPU is
# needed and nothing runs: the other CI builds leave the backend out (the fresh-machine root has
# no toolkit, the sanitizer builds switch it off), so without this step a change to a header the
# backend includes could break a user's CUDA build unseen. Compiles only the backend's objects
# (about 30 s on 2 cores), not the whole tool: scripts/gpu-check.sh builds and tests that on a GPU.
# Without a toolkit it says so and exits 0.
# Usage: scripts/cuda-build-check.sh [BUILD_DIR]   (default build/cuda-check)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/cuda-check}
nvcc=${CUDACXX:-}
if [ -z "$nvcc" ]; then
  nvcc=$(command -v nvcc || true)
  [ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
fi
if [ -z "$nvcc" ]; then
  echo "cuda-build-check: skipped: no CUDA compiler (nvcc on PATH, \$CUDACXX or /usr/local/cuda)"
  exit 0
fi
mkdir -p "$build"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if ! cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DLSC_CUDA=ON \
       -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES=90 -DLSC_WERROR=ON \
       -DLSC_TESTS=OFF -DLSC_BENCH=OFF > "$build/configure.log" 2>&1; then
  echo "cuda-build-check: configuring failed:"; tail -30 "$build/configure.log"; exit 1
fi
# The backend's object files, by name from the build system (so a new source is checked too).
if [ ${#generator[@]} -gt 0 ]; then
  mapfile -t objects < <(ninja -C "$build" -t targets all |
                         sed -n 's/^\(src\/\(kernels\/cuda\/CMakeFiles\/lsc_kernels_cuda\|gpu\/CMakeFiles\/lsc_gpu\)\.dir\/[^:]*\.o\):.*/\1/p')
  [ ${#objects[@]} -ge 2 ] || { echo "cuda-build-check: found no CUDA backend objects in $build"; exit 1; }
  ninja -C "$build" "${objects[@]}"
else
  cmake --build "$build" -j"$(nproc)" --target lsc_kernels_cuda lsc_gpu
fi
echo "cuda-build-check: the CUDA backend compiles ($("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/CUDA \1/p'), sm_90)"
