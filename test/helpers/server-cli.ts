/** Runs the bg-native CLI from the sources (for tests that need the server or worker as a real child process). */
import { main } from '../../src/cli/index.js';

process.exitCode = await main(process.argv);
