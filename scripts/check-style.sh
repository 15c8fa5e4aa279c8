#!/usr/bin/env bash
# npm run lint: the style checks `npm test` runs first, so style is settled by tools, not in review.
#   - Biome (biome.json): formatting and lint rules of the TypeScript/JavaScript sources;
#   - no TypeScript/JavaScript line over 120 characters (Biome wraps code, not strings or comments);
#   - clang-format (.clang-format) over native/ and test/native/.
# `npm run format` (this script with --write) applies Biome's safe fixes and formatting and clang-format's
# formatting in place, over the same files.
set -euo pipefail
cd "$(dirname "$0")/.."

write=false
if [ "${1:-}" = --write ]; then write=true; fi

# The C++ sources clang-format owns (the generated Unicode tables excepted).
cpp_files() {
  git ls-files -z 'native/*.cpp' 'native/*.h' 'native/*.cu' 'native/*.cuh' 'test/native/*.cpp' 'test/native/*.h' \
    ':!native/text/unicode_tables.cpp' ':!native/models/unicode_tables.cpp'
}

need_clang_format() {
  if ! command -v clang-format >/dev/null 2>&1; then
    echo "lint: clang-format is not installed (apt-get install clang-format); it checks the C++ style" >&2
    exit 1
  fi
}

if $write; then
  npx biome check --write .
  need_clang_format
  cpp_files | xargs -0 clang-format -i
  echo "format: done"
  exit 0
fi

npx biome check .
node scripts/check-line-length.mjs
need_clang_format
cpp_files | xargs -0 clang-format --dry-run --Werror
echo "lint: ok"
