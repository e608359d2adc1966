/**
 * One clear line on stderr for every user mistake, never a stack trace (set AMTEMU_DEBUG=1 to
 * see one). AmtError carries the code the timeline and reports use.
 */
import { CommanderError } from 'commander';
import { isAmtError } from '../common/errors.js';
import { describeListenError } from './listen-errors.js';

export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;

export function describeError(e: unknown): string {
  // node's "bind EADDRINUSE 127.0.0.1:10053": name the flag that chose the port, with a code.
  const listen = describeListenError(e);
  if (listen) return `${listen.code}: ${listen.message}`;
  if (isAmtError(e)) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Print and exit. Commander's own messages already start with "error:". */
export function fail(e: unknown): never {
  if (e instanceof CommanderError) {
    process.exit(e.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  process.stderr.write(`amtemu: ${describeError(e)}\n`);
  if (process.env['AMTEMU_DEBUG'] && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exit(isAmtError(e) && (e.code === 'BAD_INPUT' || e.code === 'INVALID_PARAMETER') ? EXIT_USAGE : EXIT_FAILURE);
}
