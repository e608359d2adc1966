import { describe, expect, it } from 'vitest';
import { planServeArgs } from '../helpers/serve-plan.js';

const plan = planServeArgs;

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
