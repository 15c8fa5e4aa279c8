#!/usr/bin/env node
// npm install hook: use a matching prebuild from prebuilds/ when there is one, else build the
// addon from source with cmake-js. BGN_CUDA=1 asks for the CUDA backend too (needs nvcc).
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

// nvcc on PATH, $CUDACXX, or the toolkit's usual place.
function findNvcc() {
  const fs = require('node:fs');
  const candidates = [
    process.env.CUDACXX,
    ...(process.env.PATH ?? '').split(path.delimiter).map((d) => d && path.join(d, 'nvcc')),
    '/usr/local/cuda/bin/nvcc',
  ];
  return candidates.find((c) => c && fs.existsSync(c)) ?? null;
}
const force = process.argv.includes('--force') || process.env.BGN_FORCE_BUILD === '1';
if (process.env.BGN_CUDA !== '1' && !force) {
  try {
    const found = require('node-gyp-build').path(root);
    console.log(`bg-native: using ${path.relative(root, found)}`);
    process.exit(0);
  } catch {
    // no prebuild and no local build: compile below
  }
}

const args = ['compile', '--log-level', 'warn'];
if (process.env.BGN_CUDA === '1') {
  args.push('--CDBGN_CUDA=ON');
  const nvcc = findNvcc();
  if (nvcc) args.push(`--CDCMAKE_CUDA_COMPILER=${nvcc}`);
  else
    console.warn(
      'bg-native: BGN_CUDA=1 but nvcc was not found (install the CUDA toolkit or put nvcc on PATH); building ' +
        'the CPU backend only',
    );
} else {
  args.push('--CDBGN_CUDA=OFF'); // a CMake cache keeps options: a later plain build is CPU-only again
}
if (process.env.BGN_PORTABLE === '1') args.push('--CDBGN_NATIVE_ARCH=OFF');
console.log(`bg-native: building the native addon (cmake-js ${args.join(' ')})`);
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const r = spawnSync(process.execPath, [cmakeJs, ...args], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(
    [
      'bg-native: the native build failed.',
      'It needs cmake (>= 3.18) and a C++17 compiler; OpenBLAS makes it faster.',
      'On Debian/Ubuntu: apt-get install -y cmake g++ libopenblas-dev, then npm rebuild @vitrinealu/bg-native',
    ].join('\n'),
  );
  process.exit(r.status ?? 1);
}
