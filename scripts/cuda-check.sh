#!/usr/bin/env bash
# Compiles the CUDA backend with nvcc (when nvcc is installed) into build-cuda/ — the backend
# objects and the *_gpu twins of the CUDA kernel tests — and runs those tests. On a machine
# without a CUDA device each one says it skipped its GPU execution; the same kernels run on the
# CUDA emulator in the ordinary native tests (test/native/test_cuda_*.cpp) everywhere.
#
#   npm run test:cuda        # BGN_CUDA_ARCHS (default 90 here: compile check for one architecture)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build-cuda
jobs="${BGN_CUDA_JOBS:-$(nproc 2>/dev/null || echo 2)}"

nvcc_path="$(command -v nvcc || true)"
if [ -z "$nvcc_path" ] && [ -x /usr/local/cuda/bin/nvcc ]; then nvcc_path=/usr/local/cuda/bin/nvcc; fi
if [ -z "$nvcc_path" ]; then
  echo "cuda: nvcc not found, the CUDA sources were not compiled (the emulated kernel tests still ran)"
  exit 0
fi

export BGN_CUDA_ARCHS="${BGN_CUDA_ARCHS:-90}"
start=$(date +%s)
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DBGN_CUDA=ON -DBGN_NATIVE_TESTS=ON -DBGN_CUDA_EMULATOR=ON \
  -DCMAKE_CUDA_COMPILER="$nvcc_path" >"$dir.configure.log" 2>&1 || { tail -n 40 "$dir.configure.log"; exit 1; }
tests=()
for src in test/native/test_cuda_*.cpp; do tests+=("$(basename "${src%.cpp}")_gpu"); done
cmake --build "$dir" -j "$jobs" --target bgn_cuda "${tests[@]}" >"$dir.build.log" 2>&1 || { tail -n 60 "$dir.build.log"; exit 1; }
echo "cuda: compiled native/backend/cuda/*.cu with $("$nvcc_path" --version | tail -n 1) for sm_${BGN_CUDA_ARCHS} ($(( $(date +%s) - start )) s)"

failed=0
for t in "${tests[@]}"; do
  if out="$("$dir/native-tests/$t" 2>&1)"; then
    echo "$out" | grep -E "skipped|cases" | sed "s/^/cuda: /" | head -n 2
  else
    failed=1
    echo "cuda: $t FAILED; its output:"
    echo "$out" | tail -n 60
  fi
done
exit $failed
