/**
 * SMB vs Enterprise and listen vs talk (seed 001), environment detection (seed 004) and the
 * wireless-only platform (seed 004: host-based or manual only), in virtual time (issue 10 items 4–6).
 */
import { describe, expect, it } from 'vitest';
import { detectEnvironment } from '../../src/device/environment-detection.js';
import { pskKeyForIdentity } from '../../src/device/psk.js';
import { runPkiCh } from '../../src/network/port-tls.js';
import { MemoryNetwork } from '../helpers/memory-network.js';
import { makeDevice, type FixtureOptions } from '../helpers/device-fixture.js';

const HOUR = 3_600_000;

function setup(mutate?: FixtureOptions['image'], profile: 'amt3' | 'amt6' | 'amt16' = 'amt16') {
  let net!: MemoryNetwork;
  const f = makeDevice({
    profile,
    network: (clock) => (net = new MemoryNetwork(clock)),
    image: (img) => {
      img.provisioning.state = 'In';
      img.mebx.passwordChanged = true;
      mutate?.(img);
    },
  });
  net.zone.set('provisionserver.corp.example.test', ['127.0.0.1']);
  return { ...f, net };
}

describe('SMB vs Enterprise (seed 001)', () => {
  it('Enterprise talk: the bare-metal window opens at power-on and hellos go out', async () => {
    const { device, clock, net } = setup();
    device.powerOn();
    await clock.advance(HOUR);
    expect(device.window.kind).toBe('bareMetal');
    expect(net.hellos.length).toBeGreaterThan(5);
  });

  it('SMB never says hello, refuses StartConfiguration with SMB_NO_REMOTE_CONFIG, and answers plain HTTP (no TLS needed)', async () => {
    const { device, clock, net, timeline } = setup((img) => { img.provisioning.mode = 'SMB'; }, 'amt3');
    device.powerOn();
    await clock.advance(25 * HOUR);
    expect(net.hellos).toHaveLength(0);
    expect(device.window.kind).toBe('closed');
    device.update((img) => { img.provisioning.state = 'Pre'; });
    expect(device.host.startConfiguration().status).not.toBe(0);
    expect(timeline.query({ type: 'host.StartConfiguration' })[0]!.data).toMatchObject({ code: 'SMB_NO_REMOTE_CONFIG' });
    // Configured in SMB: 16992 (plain HTTP + digest) is open remotely, TLS is not required.
    device.update((img) => { img.provisioning.state = 'Post'; img.provisioning.controlMode = 'ACM'; });
    expect(device.portOpen(16992, 'remote')).toBe(true);
    expect(device.nvram.tls.remote.enabled).toBe(false);
  });
});

describe("listen vs talk (seed 001)", () => {
  it("listen: no hellos until an agent opens the network interface (StartConfiguration), then hellos; remote 16993 closed before", async () => {
    const { device, clock, net } = setup((img) => { img.provisioning.trigger = 'listen'; });
    device.powerOn();
    await clock.advance(3 * HOUR);
    expect(net.hellos).toHaveLength(0);
    expect(device.portOpen(16993, 'remote')).toBe(false);
    expect(device.host.getProvisioningState().value).toBe(1); // the host interface answers
    expect(device.host.startConfiguration().status).toBe(0);
    await clock.advance(10 * 60_000);
    expect(net.hellos.length).toBeGreaterThan(0);
    expect(device.portOpen(16993, 'remote')).toBe(true);
    expect(device.window).toMatchObject({ kind: 'agent', lengthMs: 24 * HOUR });
  });
});

describe('environment detection (seed 004)', () => {
  it('matches option 15 against the home domains (equal or subdomain, case-insensitive)', () => {
    expect(detectEnvironment([], 'corp.example.test')).toBeUndefined();
    expect(detectEnvironment(['corp.example.test'], 'Eng.Corp.Example.Test.')).toEqual({ inside: true, matched: 'corp.example.test' });
    expect(detectEnvironment(['corp.example.test'], 'notcorp.example.test')).toEqual({ inside: false });
    expect(detectEnvironment(['corp.example.test'], undefined)).toEqual({ inside: false });
  });

  it('inside the home domain the configured device answers remotely; outside, the network interface is closed', async () => {
    const conf = (img: Parameters<NonNullable<FixtureOptions['image']>>[0]) => {
      img.provisioning.state = 'Post';
      img.provisioning.controlMode = 'ACM';
      img.setup.homeDomains = ['corp.example.test'];
    };
    const inside = setup(conf);
    inside.device.powerOn();
    await inside.clock.advance(100);
    expect(inside.timeline.query({ type: 'environment.detected' })[0]).toMatchObject({ data: { inside: true, matched: 'corp.example.test' } });
    expect(inside.device.portOpen(16993, 'remote')).toBe(true);

    const outside = setup(conf);
    outside.net.lease = { ...outside.net.lease, domain: 'hotel.example.net' };
    outside.device.powerOn();
    await outside.clock.advance(100);
    const e = outside.timeline.query({ type: 'environment.detected' })[0]!;
    expect(e).toMatchObject({ code: 'OUTSIDE_HOME_DOMAIN', data: { inside: false, domain: 'hotel.example.net', policy: 'network interface closed' } });
    expect(outside.device.portOpen(16993, 'remote')).toBe(false);
    expect(outside.device.portOpen(16993, 'local')).toBe(true);
  });
});

describe('wireless-only platform (seed 004)', () => {
  it('no DHCP on the wired port, StartConfiguration refused with REMOTE_CONFIG_NEEDS_WIRED_LAN, host-based setup still works', async () => {
    const { device, clock, net, timeline } = setup((img) => {
      img.provisioning.state = 'Pre';
      img.mebx.passwordChanged = false;
      img.network.wiredLan = false;
      img.macs = [];
    });
    device.powerOn();
    await clock.advance(HOUR);
    expect(timeline.query({ type: 'dhcp.skipped' })).toHaveLength(1);
    expect(device.host.startConfiguration().status).toBe(16);
    expect(timeline.query({ type: 'host.StartConfiguration' })[0]!.data).toMatchObject({ code: 'REMOTE_CONFIG_NEEDS_WIRED_LAN' });
    expect(net.hellos).toHaveLength(0);
    device.completeHostBasedSetup('CCM', 'ab'.repeat(16));
    expect([device.state, device.controlMode]).toEqual(['Post', 'CCM']);
  });

  it('PKI-CH and TLS-PSK are refused with REMOTE_CONFIG_NEEDS_WIRED_LAN', () => {
    const { device, timeline } = makeDevice({ profile: 'amt6', image: (img) => { img.provisioning.state = 'In'; img.network.wiredLan = false; img.setup.pid = 'ABCD1234'; img.setup.pps = 'A'.repeat(32); } });
    expect(runPkiCh(device, [Buffer.from('x')], '127.0.0.1')).toBeUndefined();
    expect(pskKeyForIdentity(device, 'ABCD1234', '127.0.0.1')).toBeUndefined();
    expect(timeline.query({ type: /^(pkich|pskch)\.rejected$/ }).map((e) => e.code)).toEqual(['REMOTE_CONFIG_NEEDS_WIRED_LAN', 'REMOTE_CONFIG_NEEDS_WIRED_LAN']);
  });
});
