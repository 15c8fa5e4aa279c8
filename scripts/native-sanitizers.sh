#!/usr/bin/env bash
# Builds the C++ unit tests (test/native/*.cpp) with AddressSanitizer + UndefinedBehaviorSanitizer
# into build-asan/ (never the addon) and runs each from the repository root. Any sanitizer report,
# leak or failed check fails the run. CI runs this on every submission (.ci/run).
#
#   npm run test:sanitize            # BGN_SANITIZE_JOBS=N to change the build parallelism
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build-asan
jobs="${BGN_SANITIZE_JOBS:-$(nproc 2>/dev/null || echo 2)}"

cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBGN_SANITIZE=ON -DBGN_NATIVE_TESTS=ON \
  -DBGN_CUDA=OFF -DBGN_NATIVE_ARCH=OFF >/dev/null
tests=()
for src in test/native/test_*.cpp; do tests+=("$(basename "${src%.cpp}")"); done
cmake --build "$dir" -j "$jobs" --target "${tests[@]}" >/dev/null

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
failed=0
for t in "${tests[@]}"; do
  start=$(date +%s)
  if "$dir/native-tests/$t" >"$dir/$t.log" 2>&1; then
    echo "sanitizers: $t ok ($(( $(date +%s) - start )) s)"
  else
    failed=1
    echo "sanitizers: $t FAILED (exit $?); its output:"
    tail -n 60 "$dir/$t.log"
  fi
done
exit $failed
