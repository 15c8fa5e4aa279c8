#!/usr/bin/env node
// bg-native command line: the implementation lives in dist/cli (built from src/cli).
// A closed pipe (`bg-native --help | head`) ends the output quietly instead of crashing.
process.stdout.on('error', (err) => {
  if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
import('../dist/cli/index.js').then(
  async ({ main }) => {
    process.exitCode = await main(process.argv);
  },
  (err) => {
    process.stderr.write(
      `bg-native: E_INTERNAL: cannot load the CLI (${err?.message ? err.message.split('\n')[0] : err}); run ` +
        `\`npm run build:ts\` in the package folder.\n`,
    );
    process.exitCode = 1;
  },
);
