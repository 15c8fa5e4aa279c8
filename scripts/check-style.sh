#!/usr/bin/env bash
# npm run lint: the style checks `npm test` runs first, so style is settled by tools, not in review.
#   - Biome (biome.json): formatting and lint rules of the TypeScript/JavaScript sources;
#   - no TypeScript/JavaScript line over 120 characters (Biome wraps code, not strings or comments);
#   - clang-format (.clang-format) over native/ and test/native/.
# `npm run format` applies Biome's and clang-format's formatting in place.
set -euo pipefail
cd "$(dirname "$0")/.."

npx biome check .
node scripts/check-line-length.mjs

if ! command -v clang-format >/dev/null 2>&1; then
  echo "lint: clang-format is not installed (apt-get install clang-format); it checks the C++ style" >&2
  exit 1
fi
git ls-files -z 'native/*.cpp' 'native/*.h' 'native/*.cu' 'native/*.cuh' 'test/native/*.cpp' 'test/native/*.h' \
  ':!native/text/unicode_tables.cpp' ':!native/models/unicode_tables.cpp' |
  xargs -0 clang-format --dry-run --Werror
echo "lint: ok"
