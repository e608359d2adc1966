/**
 * MeshCentral's redirection client (node_modules/meshcentral/amt/amt-redir-mesh.js, loaded at
 * test time, not copied) against the emulated device: StartRedirectionSession, auth query,
 * digest auth type 4 with its own MD5 computation, then SOL both ways, in plain and TLS.
 *
 * The module is MeshCentral's server-side relay. Its surroundings are faked: the node record
 * (db.Get), routing (GetConnectivityState = direct, no CIRA), the user's rights, and the port —
 * it hard-codes 16994/16995, so its `net.Socket`/`tls.connect` are pointed at the test
 * listener's ephemeral ports. Its SOL start (0x20) is commented out in this file (the browser
 * half sends it), so the test sends that one message through the module's own `xxSend`.
 */
import net from 'node:net';
import tls from 'node:tls';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5hex } from '../../src/device/redirection/auth.js';
import { solConsoleFor } from '../../src/device/redirection/sol-console.js';
import { RedirectionListener } from '../../src/network/redirection-listener.js';
import { DeviceCertStore } from '../../src/pki/device-cert.js';
import { makeDevice } from '../helpers/device-fixture.js';
import { until } from '../helpers/until.js';

const require = createRequire(import.meta.url);
interface InnerModule {
  protocol: number;
  states: number[];
  data: string;
  xxStateChange(s: number): void;
  ProcessData(d: string): void;
  Start(): void;
}
interface Redir {
  net: unknown;
  tls: unknown;
  State: number;
  Start(nodeid: string): void;
  Stop(): void;
  Send(x: string): void;
  xxSend(x: string): void;
}
const { CreateAmtRedirect } = require('meshcentral/amt/amt-redir-mesh.js') as {
  CreateAmtRedirect(m: InnerModule, domain: unknown, user: unknown, webserver: unknown, meshcentral: unknown): Redir;
};
const common = require('meshcentral/common.js') as unknown;
const forge = require('node-forge') as unknown;

const PASS = 'Mesh!Central9';
const ADDR = `127.${100 + (process.pid % 100)}.${((process.pid >> 8) % 250) + 1}.41`;

const f = makeDevice({
  deviceId: 'mesh-redir-pc',
  profile: 'amt12',
  image: (img) => {
    img.provisioning.state = 'Post';
    img.provisioning.controlMode = 'ACM';
    img.adminAcl = { username: 'admin', digestHash: md5hex(`admin:${img.digestRealm}:${PASS}`) };
  },
});
f.device.powerOn();
const con = solConsoleFor(f.device);
const certs = new DeviceCertStore();
let listener: RedirectionListener;
let ports: { plain: number; tls: number | undefined };
const opened: Redir[] = [];

beforeAll(async () => {
  listener = new RedirectionListener({
    plainPort: 0,
    tlsPort: 0,
    deviceAt: (a) => (a === ADDR ? f.device : undefined),
    tlsIdentity: (d) => certs.get(d.id, { uuid: d.nvram.uuid, now: d.clock.date() }),
    // MeshCentral speaks first after 0x21 (its 0x27), so no output hold is needed.
    session: { solSettleMs: 0 },
  });
  ports = await listener.start();
});
afterAll(async () => {
  for (const r of opened) r.Stop();
  await listener?.stop();
});

function meshRedirect(useTls: boolean, pass = PASS): { redir: Redir; m: InnerModule } {
  const m: InnerModule = {
    protocol: 1, // SOL
    states: [],
    data: '',
    xxStateChange(s) {
      this.states.push(s);
    },
    ProcessData(d) {
      this.data += d;
    },
    Start() {},
  };
  const node = { _id: 'node//emu', meshid: 'mesh//qa', host: ADDR, intelamt: { user: 'admin', pass, tls: useTls ? 1 : 0 } };
  const meshcentral = {
    debugLevel: null,
    db: { Get: (_id: string, cb: (err: unknown, docs: unknown[]) => void) => cb(null, [node]) },
    GetConnectivityState: () => ({ connectivity: 4 }), // 4 = direct Intel AMT (local network)
    mpsserver: { GetConnectionToNode: () => null }, // no CIRA
    certificateOperations: { forge },
  };
  const user = { name: 'qa', links: { 'mesh//qa': { rights: 8 } } }; // MESHRIGHT_REMOTECONTROL
  const redir = CreateAmtRedirect(m, {}, user, { common }, meshcentral);
  // Point the hard-coded 16994/16995 at the test listener.
  const plainPort = ports.plain;
  redir.net = {
    Socket: class extends net.Socket {
      override connect(...args: unknown[]): this {
        const [, host, cb] = args as [number, string, () => void];
        return super.connect(plainPort, host, cb);
      }
    },
  };
  redir.tls = { connect: (_p: number, host: string, opts: tls.ConnectionOptions, cb: () => void) => tls.connect(ports.tls!, host, opts, cb) };
  opened.push(redir);
  return { redir, m };
}

/** MeshCentral's 0x20 (from its commented-out server copy: 10000/100/0/10000/100/0). */
function startSolMessage(): string {
  const b = Buffer.alloc(24);
  b[0] = 0x20;
  b.writeUInt32LE(1, 4);
  [10000, 100, 0, 10000, 100, 0].forEach((v, i) => b.writeUInt16LE(v, 8 + 2 * i));
  return b.toString('binary');
}

describe.each([
  ['plain 16994', false],
  ['TLS 16995', true],
] as const)('MeshCentral amt-redir-mesh over %s', (_label, useTls) => {
  it('authenticates with digest type 4 and runs SOL both ways', async () => {
    const authBefore = f.timeline.count({ type: 'redirection.auth' });
    const { redir, m } = meshRedirect(useTls);
    redir.Start('node//emu');
    await until(() => f.timeline.count({ type: 'redirection.auth' }) > authBefore, 'authentication');
    const auth = f.timeline.query({ type: 'redirection.auth' }).at(-1)!;
    expect(auth.data).toMatchObject({ ok: true, authType: 4, user: 'admin' });
    expect(f.timeline.query({ type: 'redirection.session-start' }).at(-1)?.data).toMatchObject({ tls: useTls });

    redir.xxSend(startSolMessage());
    await until(() => m.states.includes(3), 'SOL connected state (3)');

    con.write('hello from amt');
    await until(() => m.data.includes('hello from amt'), 'device output at MeshCentral');

    redir.Send('dir\r');
    await until(() => con.peek().includes('dir\r'), 'keystrokes at the device console');
    expect(con.read()).toBe('dir\r');

    redir.Stop();
    await until(() => !con.attached, 'console detached');
  });
});

describe('MeshCentral amt-redir-mesh with a wrong password', () => {
  it('is re-challenged, fails three times and is disconnected', async () => {
    const failedBefore = f.timeline.count({ type: 'redirection.auth', code: 'REDIRECTION_AUTH_FAILED' });
    const { redir, m } = meshRedirect(false, 'wrong-password');
    redir.Start('node//emu');
    await until(() => m.states.at(-1) === 0, 'MeshCentral sees the disconnect');
    expect(f.timeline.count({ type: 'redirection.auth', code: 'REDIRECTION_AUTH_FAILED' }) - failedBefore).toBe(3);
    expect(f.timeline.query({ type: 'redirection.closed' }).at(-1)?.code).toBe('REDIRECTION_AUTH_FAILED');
  });
});
