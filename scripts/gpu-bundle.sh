#!/usr/bin/env bash
# Prepares, on a build machine with the project's Debian packages and the CUDA toolkit, what
# scripts/gpu-check.sh needs on a GPU machine that has a CUDA driver, cuBLASLt and Python but not
# those packages: logitscope, the GPU tests and bench_forward built for sm_90 without MPI, the
# shared libraries they need beyond the C library and CUDA's own, and the fixtures the tests read
# (the small models), in one xz-compressed tar.
# usage: scripts/gpu-bundle.sh [OUT_DIR]   (default gpu-bundle/, which git ignores through
#        .git/info/exclude); then on the GPU machine:
#        LSC_GPU_BUNDLE=gpu-bundle/bundle.tar.xz scripts/gpu-check.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/gpu-bundle}
BUILD=$ROOT/build/gpu-bundle
FIX=${LSC_FIXTURES:-$ROOT/../shared/fixtures}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLSC_CUDA=ON -DLSC_MPI=OFF \
  -DCMAKE_CUDA_ARCHITECTURES="${LSC_CUDA_ARCH:-90}" -DLSC_FIXTURES_DIR="$FIX" > /dev/null
cmake --build "$BUILD" -j"$(nproc)" --target logitscope gpu_test gpu_cli_test bench_forward
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin" "$STAGE/lib" "$STAGE/fixtures/models" "$STAGE/fixtures/expected"
cp "$BUILD/logitscope" "$BUILD/tests/gpu/gpu_test" "$BUILD/tests/gpu/gpu_cli_test" "$BUILD/bench/bench_forward" "$STAGE/bin/"
strip "$STAGE"/bin/*
# Every library the binaries load except the C library's own, the dynamic loader and CUDA's
# (cuBLASLt and the driver come from the GPU machine).
for b in "$STAGE"/bin/*; do
  ldd "$b" | awk '$3 ~ /^\// {print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|ld-linux*|libcublas*|libcuda.so*) ;;
    *) cp -L "$lib" "$STAGE/lib/" ;;
  esac
done
for m in qwen2-f32 qwen2-bf16 qwen2-f16 qwen2-f32-sharded qwen3-f32 qwen3-bf16 llama-f32; do
  cp -r "$FIX/models/$m" "$STAGE/fixtures/models/"
  cp -r "$FIX/expected/$m" "$STAGE/fixtures/expected/"
done
echo "commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo -dirty), built $(date -u +%FT%TZ) on $(uname -m), sm_${LSC_CUDA_ARCH:-90}" > "$STAGE/BUILD_INFO"
mkdir -p "$OUT"
tar -cJf "$OUT/bundle.tar.xz" -C "$STAGE" .
if [ "$OUT" = "$ROOT/gpu-bundle" ] && ! grep -qx '/gpu-bundle/' "$ROOT/.git/info/exclude" 2>/dev/null; then
  echo '/gpu-bundle/' >> "$ROOT/.git/info/exclude"
fi
ls -la "$OUT/bundle.tar.xz"
cat "$STAGE/BUILD_INFO"
