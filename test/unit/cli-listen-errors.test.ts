/**
 * Which flag chose a port that failed to listen (listen-errors.ts): recorded from the command's
 * `--*-port` options before its action; with a file (--config) only typed flags count.
 */
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { clearPortFlags, describeListenError, recordPortFlags } from '../../src/cli/listen-errors.js';
import { describeError } from '../../src/cli/errors.js';

/** node's error for a failed bind/listen (what dgram and net produce). */
function nodeError(code: string, syscall: string, address: string, port: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`${syscall} ${code} ${address}:${port}`), { code, errno: -98, syscall, address, port });
}

function serveLike(argv: string[]): Command {
  const cmd = new Command('serve')
    .option('--config <file>')
    .option('--dns-port <port>', '', Number, 10053)
    .option('--dhcp-port <port>', '', Number, 10067)
    .option('--http-port <port>', '', Number, 16992)
    .option('--count <n>', '', Number, 1)
    .exitOverride();
  cmd.parse(argv, { from: 'user' });
  return cmd;
}

afterEach(() => clearPortFlags());

describe('describeListenError', () => {
  it('names the flag (default value or typed) and gives PORT_IN_USE', () => {
    recordPortFlags(serveLike(['--dhcp-port', '5000']));
    expect(describeError(nodeError('EADDRINUSE', 'bind', '127.0.0.1', 10053))).toBe('PORT_IN_USE: --dns-port 10053 on 127.0.0.1 is in use (another amtemu serve?)');
    expect(describeError(nodeError('EADDRINUSE', 'bind', '127.0.0.1', 5000))).toBe('PORT_IN_USE: --dhcp-port 5000 on 127.0.0.1 is in use (another amtemu serve?)');
    expect(describeListenError(nodeError('EACCES', 'listen', '0.0.0.0', 16992))?.code).toBe('PORT_NOT_PERMITTED');
    expect(describeError(nodeError('EACCES', 'listen', '0.0.0.0', 16992))).toMatch(/^PORT_NOT_PERMITTED: --http-port 16992 on 0\.0\.0\.0: permission denied/);
  });

  it('two flags on one port: both named; --count is not a port', () => {
    recordPortFlags(serveLike(['--dns-port', '7000', '--dhcp-port', '7000', '--count', '16992', '--http-port', '1']));
    expect(describeError(nodeError('EADDRINUSE', 'bind', '127.0.0.1', 7000))).toBe('PORT_IN_USE: --dns-port/--dhcp-port 7000 on 127.0.0.1 is in use (another amtemu serve?)');
    expect(describeError(nodeError('EADDRINUSE', 'listen', '0.0.0.0', 16992))).toBe('PORT_IN_USE: port 16992 on 0.0.0.0 is in use (another amtemu serve?)');
  });

  it('with --config, a default may be the file\'s: only typed flags are named, else the file', () => {
    recordPortFlags(serveLike(['--config', 'fleet.yaml', '--dns-port', '6000']));
    expect(describeError(nodeError('EADDRINUSE', 'bind', '127.0.0.1', 6000))).toBe('PORT_IN_USE: --dns-port 6000 on 127.0.0.1 is in use (another amtemu serve?)');
    expect(describeError(nodeError('EADDRINUSE', 'listen', '0.0.0.0', 16992))).toBe('PORT_IN_USE: port 16992 (from fleet.yaml) on 0.0.0.0 is in use (another amtemu serve?)');
  });

  it('leaves other errors alone', () => {
    recordPortFlags(serveLike([]));
    expect(describeListenError(nodeError('ECONNREFUSED', 'connect', '127.0.0.1', 10053))).toBeUndefined();
    expect(describeError(new Error('plain'))).toBe('plain');
  });
});
