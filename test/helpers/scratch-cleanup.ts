/**
 * Loaded before every test file (vitest.config.ts setupFiles): the models a file generated are
 * removed once its tests are done, so a test run leaves nothing in the temporary folder.
 */
import { afterAll } from 'vitest';

import { removeModelTmpDir } from './onnx-builder.js';

afterAll(() => removeModelTmpDir());
