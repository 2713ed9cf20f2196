#!/usr/bin/env bash
# Installs every Debian package logitscope needs to build, test and benchmark.
# Idempotent: packages already present are not fetched again.
#   scripts/install-deps.sh [--torch]
# --torch also installs Debian's PyTorch (python3-torch, about 150 packages and 1 GB) and OpenBLAS
# (Debian's torch is built against the generic BLAS interface; without OpenBLAS its fp32 products
# run the netlib reference BLAS, some 50x slower), used only by the benchmark's comparison with the
# notebook stack (bench/torch_forward.py, SECTIONS=torch of bench/run_forward_bench.sh); the build
# and the tests do not need them.
set -euo pipefail
WITH_TORCH=0
for arg in "$@"; do
  case "$arg" in
    --torch) WITH_TORCH=1 ;;
    *) echo "install-deps: unknown option '$arg' (expected: --torch)" >&2; exit 2 ;;
  esac
done

PACKAGES=(
  build-essential cmake pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev   # JSON (config.json, tokenizer.json, JSONL)
  libutf8proc-dev      # Unicode categories and NFC for the tokenizer
  libdnnl-dev          # oneDNN: bf16 matrix multiply on AMX
  # Debian builds oneDNN with its OpenCL GPU runtime, so its CMake package (dnnl-config.cmake)
  # runs find_package(OpenCL REQUIRED): configure fails without the OpenCL headers and the ICD
  # loader's development link. We use only oneDNN's CPU engine, but its own package config is
  # the supported way to get its include path and link line, and these two are small.
  opencl-headers ocl-icd-opencl-dev
  libsqlite3-dev       # results database
  libboost-dev         # Boost.Math distributions (statistics)
  libeigen3-dev        # Eigen: PCA in the statistics library
  chromium             # headless browser check of the HTML report (tests/cli/report_cli_test.cpp)
  libopenmpi-dev openmpi-bin  # mpirun -np N logitscope run (optional at build time: LSC_MPI=OFF)
  clang                # scripts/fuzz.sh (libFuzzer) and scripts/sanitize.sh (the TSan build)
  libclang-rt-14-dev   # clang's libFuzzer and sanitizer runtimes
  libomp-14-dev        # LLVM OpenMP runtime and its TSan tool Archer (libarcher.so)
  ca-certificates      # npm ci over TLS (update-ca-certificates also takes the machine's own CAs)
  debootstrap          # scripts/fresh-machine-check.sh (CI): a clean Debian 12 root
  python3              # bench/run_forward_bench.sh's tables and goals (and their test)
  time                 # /usr/bin/time -v: peak RSS and disk reads of the benchmark's whole runs
)
[ "$WITH_TORCH" -eq 1 ] && PACKAGES+=(python3-torch libopenblas0-openmp)

missing=()
# Node.js and npm (reference tokenizer for the benchmark; report assets): any install will do.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} Debian packages present"
else
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# plotly.js for the HTML report, at the version pinned in web/package-lock.json (npm ci installs
# exactly the lock; web/.npmrc keeps download addresses out of it).
WEB_DIR="$(cd "$(dirname "$0")/.." && pwd)/web"
if [ ! -f "$WEB_DIR/node_modules/plotly.js-dist-min/plotly.min.js" ]; then
  echo "install-deps: npm ci in web/ (plotly.js-dist-min for the report)"
  (cd "$WEB_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
