// Tells binding.gyp whether Debian's OpenBLAS is installed: prints its include folder, or nothing.
const fs = require('node:fs');
const dirs = ['/usr/include/x86_64-linux-gnu/openblas-pthread', '/usr/include/aarch64-linux-gnu/openblas-pthread'];
const found =
  process.platform === 'linux' && process.env.BGN_NO_BLAS !== '1'
    ? dirs.find((d) => fs.existsSync(`${d}/cblas.h`))
    : undefined;
process.stdout.write(found ?? '');
