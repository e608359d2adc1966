import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { planServe, registerServeCommand, type ServeOptions } from '../../src/cli/serve-command.js';

/** Parse flags through the real command definition, then plan. */
function plan(args: string[]) {
  const program = new Command().exitOverride();
  let captured: { opts: ServeOptions; typed: (n: string) => boolean } | undefined;
  registerServeCommand(program);
  const serve = program.commands.find((c) => c.name() === 'serve')!;
  serve.action((opts: ServeOptions, cmd: Command) => {
    captured = { opts, typed: (n) => cmd.getOptionValueSource(n) === 'cli' };
  });
  program.parse(['node', 'amtemu', 'serve', ...args]);
  return planServe(captured!.opts, captured!.typed as never);
}

describe('serve plan', () => {
  it('refuses an admin password the firmware would refuse (strong-password rule)', () => {
    for (const bad of ['', 'x', 'bad:pw1A!', 'alllowercase1!']) expect(() => plan(['--count', '1', '--admin-password', bad])).toThrow(/--admin-password must follow the AMT strong-password rule/);
    expect(plan(['--count', '1', '--admin-password', 'Adm1n-Pass!']).defaults.adminPassword).toBe('Adm1n-Pass!');
  });

  it('names devices with --id-prefix so shards do not share ids (and so UUIDs and MACs)', () => {
    const p = plan(['--count', '3', '--id-prefix', 'shard2-pc']);
    expect(p.devices.map((d) => d.id)).toEqual(['shard2-pc1', 'shard2-pc2', 'shard2-pc3']);
    expect(plan(['--count', '2']).devices.map((d) => d.id)).toEqual(['pc1', 'pc2']);
  });

  it('adds every --trust-root as a custom SHA-256 hash on each device', () => {
    const a = 'AB:'.repeat(31) + 'AB';
    const b = 'cd'.repeat(32);
    const p = plan(['--count', '2', '--trust-root', a, '--trust-root', b]);
    for (const d of p.devices) {
      expect(d.fields.hashes?.add).toEqual([
        { name: 'trusted root 1', algorithm: 'SHA256', hash: 'ab'.repeat(32) },
        { name: 'trusted root 2', algorithm: 'SHA256', hash: b },
      ]);
    }
  });
});
