// Prints the native sources for binding.gyp (the same set CMakeLists.txt globs for the CPU-only
// addon: bgn_core, bgn_gpu_absent and the addon), one per line.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const rooms = ['tensor', 'backend/cpu', 'formats', 'nn', 'onnx', 'text', 'models', 'diffusion', 'addon'];
const out = [];
function walk(dir) {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.cpp')) out.push(path.relative(root, p).split(path.sep).join('/'));
  }
}
for (const r of rooms) walk(path.join(root, 'native', r));
out.push('native/backend/exec.cpp', 'native/backend/gpu_absent.cpp');
process.stdout.write(`${out.join('\n')}\n`);
