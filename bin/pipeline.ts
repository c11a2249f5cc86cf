#!/usr/bin/env node
import { enableCompileCache } from 'node:module';

// Every command is a new process: Node keeps the compiled (type-stripped) modules in its cache
// folder, so a command starts in about 0.4 s instead of 0.7 s. Enabled before the CLI's
// modules load, hence the dynamic import below.
enableCompileCache();
const { main, reportError } = await import('../src/main/cli.ts');

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    reportError(error);
    process.exitCode = 1;
  },
);
