import { describe, expect, it } from 'vitest';
import { parseHello } from '../../src/device/hello.js';
import { helloOffsets, helloSlotOffset } from '../../src/device/hello-schedule.js';
import { MemoryNetwork } from '../helpers/memory-network.js';
import { makeDevice, type FixtureOptions } from '../helpers/device-fixture.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const LEASE_DELAY = 10; // MemoryNetwork answers DHCP 10 virtual ms after power-on

function setupDevice(mutate?: FixtureOptions['image']) {
  let net!: MemoryNetwork;
  const f = makeDevice({
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

const expectedOffsets = [
  ...[0, 1, 2, 3, 4].map((m) => m * MIN),
  ...[5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55].map((m) => m * MIN),
  ...Array.from({ length: 23 }, (_, i) => (i + 1) * HOUR),
];

describe('bare-metal hello schedule (reference §2.1)', () => {
  it('says hello every minute for 5 minutes, every 5 minutes to one hour, hourly to 24 h, then stops', async () => {
    const { clock, device, net, timeline } = setupDevice();
    device.powerOn();
    await clock.advance(7 * 24 * HOUR);
    // The first hello waits for the lease (10 ms); all later ones keep the schedule from window open.
    const times = net.hellos.map((h) => h.t);
    expect(times).toHaveLength(39);
    expect(times[0]).toBe(LEASE_DELAY);
    expect(times.slice(1)).toEqual(expectedOffsets.slice(1));
    expect(helloOffsets(24 * HOUR)).toEqual(expectedOffsets);
    // Slot k of the schedule is where a device that already sent k hellos resumes.
    expect(expectedOffsets.map((_, k) => helloSlotOffset(k))).toEqual(expectedOffsets);
    const closed = timeline.query({ type: 'window.closed' });
    expect(closed).toHaveLength(1);
    expect(closed[0]!.t).toBe(24 * HOUR);
    expect(closed[0]!.code).toBe('WINDOW_CLOSED');
    expect(device.window.kind).toBe('closed');
    expect(device.nvram.provisioning.window.bareMetalUsed).toBe(true);
    expect(device.portOpen(16993, 'remote')).toBe(false);
  });

  it('puts the retry count, UUID and active hashes in every hello, saturating the count at 14', async () => {
    const { clock, device, net } = setupDevice((img) => {
      img.certHashes[0]!.isActive = false;
    });
    device.powerOn();
    await clock.advance(25 * HOUR);
    const parsed = net.hellos.map((h) => parseHello(h.bytes));
    expect(parsed.map((p) => p.retryCount).slice(0, 16)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 14]);
    const first = parsed[0]!;
    expect(first.version).toBe(3);
    expect(first.uuid).toBe(device.nvram.uuid);
    expect(first.adminCredentialsSet).toBe(true);
    if (first.version !== 3) throw new Error('v3 expected');
    const active = device.nvram.certHashes.filter((h) => h.isActive).slice(0, device.profile.hashes.maxInHello);
    expect(first.hashes.map((h) => h.hash)).toEqual(active.map((h) => h.hash));
    expect(first.hashes).not.toContainEqual(expect.objectContaining({ hash: device.nvram.certHashes[0]!.hash }));
    expect(net.hellos.every((h) => h.to.port === 9971 && h.to.host === '127.0.0.1')).toBe(true);
  });

  it('announces custom roots first, then defaults, at most 23, and no algorithm the profile distrusts', async () => {
    const custom = { name: 'Corp Root', algorithm: 'SHA256' as const, hash: 'c0'.repeat(32), isDefault: false, isActive: true };
    const sha1 = { name: 'Old SHA-1 Root', algorithm: 'SHA1' as const, hash: 'a1'.repeat(20), isDefault: false, isActive: true };
    const { clock, device, net } = setupDevice((img) => {
      img.certHashes = [...img.certHashes, sha1, custom];
    });
    expect(device.profile.id).toBe('amt16');
    device.powerOn();
    await clock.advance(MIN);
    const p = parseHello(net.hellos[0]!.bytes);
    if (p.version !== 3) throw new Error('v3 expected');
    expect(p.hashes).toHaveLength(23);
    expect(p.hashes[0]).toEqual({ algorithm: 'SHA256', hash: custom.hash });
    expect(p.hashes.map((h) => h.algorithm)).not.toContain('SHA1');
    const defaults = device.nvram.certHashes.filter((h) => h.isDefault && h.isActive).slice(0, 22).map((h) => h.hash);
    expect(p.hashes.slice(1).map((h) => h.hash)).toEqual(defaults);
  });

  it('counts accumulated uptime only: power-off pauses the window and the schedule', async () => {
    const { clock, device, net } = setupDevice();
    device.powerOn();
    await clock.advance(30 * MIN + LEASE_DELAY); // hellos at 0..4 min, 5..30 min = 5 + 6
    expect(net.hellos).toHaveLength(11);
    device.powerOff();
    await clock.advance(10 * HOUR);
    expect(net.hellos).toHaveLength(11);
    device.powerOn();
    // 30 min + 10 ms of window elapsed at power-off; the next slot is at 35 min of uptime.
    const poweredOnAt = clock.now();
    await clock.advance(5 * MIN);
    expect(net.hellos).toHaveLength(12);
    expect(net.hellos[11]!.t - poweredOnAt).toBe(5 * MIN - LEASE_DELAY);
    await clock.advance(30 * 24 * HOUR);
    expect(net.hellos).toHaveLength(39);
    expect(device.window.kind).toBe('closed');
  });

  it('keeps the schedule when the provisioning server is down (connection refused)', async () => {
    const { clock, device, net, timeline } = setupDevice();
    net.serverUp = false;
    device.powerOn();
    await clock.advance(2 * HOUR);
    const failed = timeline.query({ type: 'hello.failed' });
    // Slots in [0, 2 h]: 5 one-minute, 11 five-minute, then 1 h and 2 h.
    expect(failed).toHaveLength(5 + 11 + 2);
    expect(failed.every((e) => e.code === 'HELLO_CONNECT_FAILED')).toBe(true);
    net.serverUp = true;
    await clock.advance(HOUR);
    expect(net.hellos).toHaveLength(1);
  });

  it('tries names in firmware order and keeps the schedule on NXDOMAIN', async () => {
    const { clock, device, net, timeline } = setupDevice((img) => {
      img.setup.pkiDnsSuffix = 'mebx.example.test';
    });
    net.zone.clear();
    device.powerOn();
    await clock.advance(3 * MIN);
    expect(net.queries.slice(0, 3)).toEqual(['ProvisionServer.mebx.example.test', 'ProvisionServer.corp.example.test', 'ProvisionServer']);
    // Slots at lease time (10 ms), 1, 2 and 3 min: each skipped, none dropped from the schedule.
    expect(timeline.count({ type: 'hello.skipped', code: 'DNS_NXDOMAIN' })).toBe(4);
    net.zone.set('provisionserver.corp.example.test', ['127.0.0.9']);
    await clock.advance(MIN);
    expect(net.hellos).toHaveLength(1);
    expect(net.hellos[0]!.to.host).toBe('127.0.0.9');
    expect(timeline.query({ type: 'dns.answer' })[0]!.data).toMatchObject({ name: 'ProvisionServer.corp.example.test' });
  });

  it('goes straight to a provisioning-server address set in MEBx, without DNS', async () => {
    const { clock, device, net } = setupDevice((img) => {
      img.setup.provisioningServer = { address: '127.0.0.7', port: 19971 };
    });
    device.powerOn();
    await clock.advance(MIN);
    expect(net.queries).toEqual([]);
    expect(net.hellos[0]!.to).toEqual({ host: '127.0.0.7', port: 19971 });
  });

  it('reports a lease without option 15 as a coded event, and still says hello via other names', async () => {
    const { clock, device, net, timeline } = setupDevice((img) => {
      img.setup.pkiDnsSuffix = 'corp.example.test';
    });
    net.lease = { dnsServers: ['127.0.0.53'], leaseSeconds: 3600 };
    device.powerOn();
    await clock.advance(MIN);
    expect(timeline.count({ type: 'dhcp.no-domain', code: 'DHCP_NO_DOMAIN' })).toBe(1);
    expect(net.hellos.length).toBeGreaterThan(0);
  });

  it('sends no hellos in SMB mode, in listen mode, with the OEM timer at 0, or in factory state', async () => {
    for (const mutate of [
      (img: import('../../src/nvram/image.js').NvramImage) => { img.provisioning.mode = 'SMB'; },
      (img: import('../../src/nvram/image.js').NvramImage) => { img.provisioning.trigger = 'listen'; },
      (img: import('../../src/nvram/image.js').NvramImage) => { img.provisioning.remoteConfigTimerHours = 0; },
      (img: import('../../src/nvram/image.js').NvramImage) => { img.provisioning.state = 'Pre'; },
    ]) {
      const { clock, device, net } = setupDevice(mutate);
      device.powerOn();
      await clock.advance(2 * HOUR);
      expect(net.hellos).toHaveLength(0);
    }
  });
});

describe('agent-opened window (StartConfiguration, ExtendProvisioningPeriod)', () => {
  it('reopens for 6 hours after the 24-hour window closed, with hellos, then closes again', async () => {
    const { clock, device, net, timeline } = setupDevice();
    device.powerOn();
    await clock.advance(25 * HOUR);
    expect(net.hellos).toHaveLength(39);
    expect(device.host.startConfiguration().status).toBe(0);
    expect(device.window).toMatchObject({ kind: 'agent', lengthMs: 6 * HOUR });
    await clock.advance(7 * HOUR);
    // 5 + 11 + 5 hourly (1h..5h) hellos in 6 hours.
    expect(net.hellos).toHaveLength(39 + 21);
    expect(timeline.query({ type: 'window.closed' })).toHaveLength(2);
    expect(device.state).toBe('In');
  });

  it('refuses StartConfiguration while a window is open, and in configured state', async () => {
    const { clock, device } = setupDevice();
    device.powerOn();
    await clock.advance(MIN);
    expect(device.host.startConfiguration().status).toBe(3);
    device.completeHostBasedSetup('CCM', 'a'.repeat(32));
    expect(device.host.startConfiguration(true).status).toBe(3);
  });

  it('extends the period by 1–24 hours from now and refuses other values', async () => {
    const { clock, device, net, timeline } = setupDevice();
    device.powerOn();
    await clock.advance(23 * HOUR + 30 * MIN);
    expect(device.host.extendProvisioningPeriod(0).status).toBe(36);
    expect(device.host.extendProvisioningPeriod(25).status).toBe(36);
    expect(device.host.extendProvisioningPeriod(2.5).status).toBe(36);
    expect(device.host.extendProvisioningPeriod(3).status).toBe(0);
    await clock.advance(2 * HOUR);
    expect(device.window.kind).not.toBe('closed');
    await clock.advance(HOUR + MIN);
    expect(device.window.kind).toBe('closed');
    expect(timeline.query({ type: 'window.closed' })[0]!.t).toBe(26 * HOUR + 30 * MIN);
    // Hourly hellos continued through the extension: 24 h, 25 h and 26 h (the window ends at 26.5 h).
    expect(net.hellos).toHaveLength(39 + 3);
  });

  it('StopConfiguration returns the device to factory state and closes the window', async () => {
    const { clock, device, net } = setupDevice();
    device.powerOn();
    await clock.advance(2 * MIN);
    expect(device.host.stopConfiguration().status).toBe(0);
    expect(device.state).toBe('Pre');
    const n = net.hellos.length;
    await clock.advance(3 * HOUR);
    expect(net.hellos).toHaveLength(n);
    expect(device.host.stopConfiguration().status).toBe(3);
  });

  it('StartConfigurationEx needs a lease with a domain (NOT_READY otherwise)', async () => {
    const { clock, device, net } = setupDevice((img) => {
      img.provisioning.state = 'Pre';
    });
    net.lease = { dnsServers: ['127.0.0.53'], leaseSeconds: 3600 };
    device.powerOn();
    await clock.advance(MIN);
    expect(device.host.startConfiguration(true).status).toBe(2);
    expect(device.state).toBe('Pre');
    expect(device.host.startConfiguration(false).status).toBe(0);
    expect(device.state).toBe('In');
    // The first window a device ever opens lasts 24 hours (Altiris guide).
    expect(device.window.lengthMs).toBe(24 * HOUR);
  });
});
