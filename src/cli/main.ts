#!/usr/bin/env node
import { fail } from './errors.js';
import { buildProgram } from './program.js';
import { guardStdio, readerGone } from './stdio-guard.js';

// `amtemu … | head -1`: a reader that goes away is not an error of ours (stdio-guard.ts).
guardStdio(
  [
    { stream: process.stdout, name: 'stdout' },
    { stream: process.stderr, name: 'stderr' },
  ],
  {
    onFatal: (line) => {
      const to = !readerGone(process.stderr) ? process.stderr : !readerGone(process.stdout) ? process.stdout : undefined;
      to?.write(`amtemu: ${line}\n`);
      process.exit(1);
    },
  },
);

async function main(): Promise<void> {
  const program = buildProgram();
  await program.parseAsync(process.argv);
}

main().catch(fail);
