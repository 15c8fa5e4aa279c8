#!/usr/bin/env bash
# Compiles the CUDA build with nvcc (when nvcc is installed) into build-cuda/ — the addon as
# `BGN_CUDA=1 npm install` makes it, and the *_gpu twins of the CUDA kernel tests — checks that
# the CUDA addon loads and reports its device (or why there is none), and runs those tests. On a
# machine without a CUDA device each one says it skipped its GPU execution; the same kernels run
# on the CUDA emulator in the ordinary native tests (test/native/test_cuda_*.cpp) everywhere.
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
tests=()
for src in test/native/test_cuda_*.cpp; do tests+=("$(basename "${src%.cpp}")_gpu"); done
# cmake-js configures the addon target; the same build tree then builds the test twins.
# A tree configured by plain cmake (another generator, no addon target) is started afresh.
if [ -f "$dir/CMakeCache.txt" ] && ! grep -q '^CMAKE_JS_VERSION' "$dir/CMakeCache.txt"; then rm -rf "$dir"; fi
cmake_js=(node node_modules/cmake-js/bin/cmake-js --log-level warn -O "$dir")
"${cmake_js[@]}" configure --CDBGN_CUDA=ON --CDBGN_NATIVE_TESTS=ON --CDCMAKE_CUDA_COMPILER="$nvcc_path" \
  >"$dir.build.log" 2>&1 || { tail -n 60 "$dir.build.log"; exit 1; }
"${cmake_js[@]}" build -T bg_native >>"$dir.build.log" 2>&1 || { tail -n 60 "$dir.build.log"; exit 1; }
cmake --build "$dir" -j "$jobs" --target "${tests[@]}" >>"$dir.build.log" 2>&1 || { tail -n 60 "$dir.build.log"; exit 1; }
echo "cuda: compiled the CUDA addon and native/backend/cuda/*.cu with $("$nvcc_path" --version | tail -n 1) for sm_${BGN_CUDA_ARCHS} ($(( $(date +%s) - start )) s)"

# The CUDA addon loads on any machine (the CUDA runtime is linked statically and opens the driver
# itself) and says what it found.
node -e '
  const addon = require(process.argv[1]);
  const cuda = addon.backends().find((b) => b.name === "cuda");
  if (!cuda || cuda.compiled !== true) { console.error("cuda: the CUDA addon does not report a compiled CUDA backend", cuda); process.exit(1); }
  console.log("cuda: the CUDA addon loads; backends() cuda:", JSON.stringify(cuda));
' "$(pwd)/$dir/Release/bg_native.node"

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
