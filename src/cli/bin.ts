import { runCli } from './main.js';

// Exit through exitCode, not process.exit, so buffered stdout (large --json output to a pipe) is flushed.
process.exitCode = await runCli(process.argv.slice(2));
