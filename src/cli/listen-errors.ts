/**
 * A listen or bind that fails says which flag chose the port: node's own
 * `bind EADDRINUSE 127.0.0.1:10053` names neither the flag nor a code, and `amtemu serve` opens
 * up to nine ports. The command's port flags are recorded before its action runs
 * (recordPortFlags, from program.ts); describeListenError turns node's error into one coded line.
 */
import type { Command } from 'commander';
import { AmtError } from '../common/errors.js';

interface PortFlags {
  command: string;
  /** port → flags that asked for it (two flags may give the same number: name both). */
  byPort: Map<number, string[]>;
  /** Ports may come from a file too (serve --config): say so when no flag matches. */
  file?: string;
}

let current: PortFlags | undefined;

/** Remember which `--*-port` flag asked for which port (value from the command line or the default). */
export function recordPortFlags(cmd: Command): void {
  const config = cmd.getOptionValue('config') as unknown;
  const file = typeof config === 'string' ? config : undefined;
  const byPort = new Map<number, string[]>();
  for (const o of cmd.options) {
    if (!o.long?.endsWith('-port')) continue;
    const key = o.attributeName();
    const v = cmd.getOptionValue(key) as unknown;
    if (typeof v !== 'number' || v === 0) continue;
    // With a file, a default value may have been replaced by the file's: trust typed flags only.
    if (file && cmd.getOptionValueSource(key) !== 'cli') continue;
    byPort.set(v, [...(byPort.get(v) ?? []), o.long]);
  }
  current = { command: cmd.name(), byPort, ...(file ? { file } : {}) };
}

/** Forget the recorded flags (tests). */
export function clearPortFlags(): void {
  current = undefined;
}

interface ListenFailure {
  code: 'EADDRINUSE' | 'EACCES';
  port: number;
  address: string;
}

function listenFailure(e: unknown): ListenFailure | undefined {
  if (!(e instanceof Error)) return undefined;
  const err = e as NodeJS.ErrnoException & { address?: unknown; port?: unknown };
  if (err.code !== 'EADDRINUSE' && err.code !== 'EACCES') return undefined;
  if (err.syscall !== 'listen' && err.syscall !== 'bind') return undefined;
  if (typeof err.port !== 'number') return undefined;
  return { code: err.code, port: err.port, address: typeof err.address === 'string' ? err.address : '0.0.0.0' };
}

/**
 * One coded error for a failed listen on a known port, naming the flag:
 * `PORT_IN_USE: --dns-port 10053 on 127.0.0.1 is in use (another amtemu serve?)`.
 * Without a flag, `file` says where the port came from (a fleet file's ports:).
 */
export function portError(code: 'EADDRINUSE' | 'EACCES', at: { port: number; address: string; flag?: string; command?: string; file?: string }): AmtError {
  const what = at.flag ? `${at.flag} ${at.port}` : `port ${at.port}${at.file ? ` (from ${at.file})` : ''}`;
  const detail = { port: at.port, address: at.address, ...(at.flag ? { flag: at.flag } : {}) };
  if (code === 'EADDRINUSE') return new AmtError('PORT_IN_USE', `${what} on ${at.address} is in use (another ${at.command ? `amtemu ${at.command}` : 'process'}?)`, detail);
  return new AmtError('PORT_NOT_PERMITTED', `${what} on ${at.address}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`, detail);
}

/**
 * The coded error for node's listen/bind failure, or undefined when `e` is something else.
 * A command that knows which listen failed passes `flag` (and its own name) itself.
 */
export function describeListenError(e: unknown, known: { flag?: string; command?: string } = {}): AmtError | undefined {
  const f = listenFailure(e);
  if (!f) return undefined;
  const flags = known.flag ?? current?.byPort.get(f.port)?.join('/');
  const command = known.command ?? current?.command;
  return portError(f.code, {
    port: f.port,
    address: f.address,
    ...(command ? { command } : {}),
    ...(flags ? { flag: flags } : {}),
    ...(!flags && current?.file ? { file: current.file } : {}),
  });
}
