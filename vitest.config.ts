import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/helpers/scratch-cleanup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Native work is CPU-bound and the CI machine has two cores: run test files one at a time.
    fileParallelism: false,
    reporters: ['default'],
    // Files attached to results (the web page's screenshots) are copied here, not into the repository root.
    attachmentsDir: 'test/.out/attachments',
  },
});
