/**
 * Interop fixture: two network namespaces joined by a veth pair — a real L2 segment where DHCP
 * broadcasts work, so real clients (dhclient, udhcpc) and real servers (dnsmasq) can face our
 * code. Names carry the test process pid so parallel runs never collide; `destroy()` deletes
 * both namespaces (which removes the veth) and kills only the processes this fixture started.
 *
 * Our own code runs inside a namespace as a child: `ip netns exec <ns> node --import tsx
 * test/interop/netns.ts <agent> '<json>'` (a process cannot move a single socket into another
 * namespace). The agents are at the bottom of this file.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

export const SUBNET = { prefix: '10.77.0', serverIp: '10.77.0.1', mask: '255.255.255.0', bits: 24 };

export function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** Interop tests need root and the real tools; say exactly what is missing instead of skipping. */
export function requireTools(bins: string[]): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('interop tests need root (network namespaces): run as root, as CI does');
  }
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  for (const bin of bins) {
    const found = dirs.some((d) => {
      try {
        accessSync(path.join(d, bin), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (!found) throw new Error(`interop test needs "${bin}" on PATH (Debian: ${PACKAGES[bin] ?? bin})`);
  }
}

const PACKAGES: Record<string, string> = { dnsmasq: 'dnsmasq-base', dhclient: 'isc-dhcp-client', busybox: 'busybox', ip: 'iproute2' };

export interface NetnsPair {
  /** Namespace with the server side (10.77.0.1/24 on `serverIf`). */
  serverNs: string;
  clientNs: string;
  serverIf: string;
  clientIf: string;
  /** Start a process inside a namespace; it is killed (by pid) in destroy(). */
  spawnIn(ns: string, cmd: string, args: string[]): ChildProcess;
  /** Run one of this file's agents inside `ns` and resolve with its last stdout JSON line. */
  agent<T>(ns: string, name: 'device' | 'dhcp-server', config: Record<string, unknown>, onLine?: (line: string) => void): { child: ChildProcess; done: Promise<T> };
  destroy(): Promise<void>;
}

let counter = 0;

export async function createNetnsPair(tag: string): Promise<NetnsPair> {
  const id = `${process.pid}${tag}${counter++}`;
  const serverNs = `amtemu-s-${id}`;
  const clientNs = `amtemu-c-${id}`;
  // IFNAMSIZ is 16: keep interface names short.
  const short = `${process.pid % 100000}${counter}`;
  const serverIf = `vs${short}`.slice(0, 15);
  const clientIf = `vc${short}`.slice(0, 15);
  const children = new Set<ChildProcess>();
  const destroy = async (): Promise<void> => {
    for (const c of children) {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(c.pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
      }
    }
    // Give them a moment, then force.
    for (let i = 0; i < 50 && [...children].some((c) => c.exitCode === null && c.signalCode === null); i++) await new Promise((r) => setTimeout(r, 20));
    for (const c of children) {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    children.clear();
    for (const ns of [serverNs, clientNs]) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  };
  try {
    await run('ip', ['netns', 'add', serverNs]);
    await run('ip', ['netns', 'add', clientNs]);
    await run('ip', ['link', 'add', serverIf, 'netns', serverNs, 'type', 'veth', 'peer', 'name', clientIf, 'netns', clientNs]);
    for (const [ns, ifname] of [
      [serverNs, serverIf],
      [clientNs, clientIf],
    ] as const) {
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await run('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
    }
    await run('ip', ['-n', serverNs, 'addr', 'add', `${SUBNET.serverIp}/${SUBNET.bits}`, 'dev', serverIf]);
    // Node cannot bind a UDP socket to an interface; a device route lets a socket bound to
    // 0.0.0.0 send to 255.255.255.255 (else ENETUNREACH), as a DHCP client/server must.
    await run('ip', ['-n', serverNs, 'route', 'add', 'default', 'dev', serverIf]);
    await run('ip', ['-n', clientNs, 'route', 'add', 'default', 'dev', clientIf]);
  } catch (e) {
    await destroy();
    throw e;
  }
  const spawnIn = (ns: string, cmd: string, args: string[]): ChildProcess => {
    const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(c);
    return c;
  };
  const agent = <T>(ns: string, name: 'device' | 'dhcp-server', config: Record<string, unknown>, onLine?: (line: string) => void) => {
    const child = spawnIn(ns, process.execPath, ['--import', 'tsx', path.join(here, 'netns.ts'), `--agent=${name}`, JSON.stringify(config)]);
    let out = '';
    let err = '';
    const lines: string[] = [];
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line.trim()) {
          lines.push(line);
          onLine?.(line);
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const done = new Promise<T>((resolve, reject) => {
      child.on('close', (code) => {
        const last = lines.at(-1);
        if (code === 0 && last) {
          try {
            resolve(JSON.parse(last) as T);
            return;
          } catch {
            /* fall through */
          }
        }
        reject(new Error(`agent ${name} in ${ns} exited ${code}: ${lines.join('\n')}\n${err.trim()}`));
      });
    });
    return { child, done };
  };
  return { serverNs, clientNs, serverIf, clientIf, spawnIn, agent, destroy };
}

/** Resolve when `pred` holds, polling every 50 ms, failing after `timeoutMs`. */
export async function waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

// ---------------------------------------------------------------------------------------------
// Agents: run inside a namespace via `ip netns exec`.

async function deviceAgent(cfg: { ifname: string; mac: string; hostname: string; resolve: string[]; timeoutMs: number }): Promise<void> {
  const { RealClock } = await import('../../src/clock/index.js');
  const { SocketNetwork } = await import('../../src/network/socket-network.js');
  const clock = new RealClock();
  const network = new SocketNetwork({ clock, mode: 'netns', dhcp: { replyGraceMs: 0 } });
  const packets: string[] = [];
  const guard = setTimeout(() => {
    console.log(JSON.stringify({ error: 'timeout', packets }));
    process.exit(3);
  }, cfg.timeoutMs);
  const lease = await new Promise<import('../../src/device/environment.js').DhcpLease>((resolve, reject) => {
    const h = network.startDhcp(
      { deviceId: 'netns-dev', mac: cfg.mac, hostname: cfg.hostname },
      {
        onLease: (l) => {
          h.stop();
          resolve(l);
        },
        onFailure: (code, message) => reject(new Error(`${code}: ${message}`)),
        onPacket: (dir, type) => packets.push(`${dir}:${type}`),
      },
    );
  });
  // A firmware stack owns its address once bound; the emulator's kernel stand-in is the veth.
  const prefix = maskBits(lease.netmask ?? '255.255.255.0');
  await run('ip', ['addr', 'add', `${lease.address}/${prefix}`, 'dev', cfg.ifname]);
  const resolved: Record<string, unknown> = {};
  for (const name of cfg.resolve) resolved[name] = await network.resolve(name.replace('<domain>', lease.domain ?? ''), lease.dnsServers, lease.address);
  clearTimeout(guard);
  await network.close();
  console.log(JSON.stringify({ lease, resolved, packets }));
}

async function dhcpServerAgent(cfg: { domain?: string; pool: { start: string; end: string }; serverId: string; dns: string[] }): Promise<void> {
  const { FakeDhcpServer } = await import('../../src/network/fake/dhcp-server.js');
  const server = new FakeDhcpServer({
    address: '0.0.0.0',
    port: 67,
    mode: 'netns',
    serverId: cfg.serverId,
    pool: cfg.pool,
    netmask: SUBNET.mask,
    router: cfg.serverId,
    dnsServers: cfg.dns,
    ...(cfg.domain ? { domain: cfg.domain } : {}),
    leaseSeconds: 600,
  });
  server.on('event', (e: { type: string; mac?: string; address?: string }) => console.log(JSON.stringify({ event: e.type, mac: e.mac, address: e.address })));
  server.on('socketError', (e: Error) => console.log(JSON.stringify({ event: 'socketError', message: e.message })));
  await server.start();
  console.log(JSON.stringify({ ready: true }));
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await server.stop();
  console.log(JSON.stringify({ stopped: true, stats: server.stats }));
}

function maskBits(mask: string): number {
  return mask.split('.').reduce((n, o) => n + (Number(o) >>> 0).toString(2).replace(/0/g, '').length, 0);
}

const agentArg = process.argv.find((a) => a.startsWith('--agent='));
if (agentArg && process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const name = agentArg.slice('--agent='.length);
  const cfg = JSON.parse(process.argv[process.argv.indexOf(agentArg) + 1] ?? '{}') as never;
  const main = name === 'device' ? deviceAgent(cfg) : name === 'dhcp-server' ? dhcpServerAgent(cfg) : Promise.reject(new Error(`unknown agent ${name}`));
  main.then(
    () => process.exit(0),
    (e: Error) => {
      console.log(JSON.stringify({ error: e.message }));
      process.exit(1);
    },
  );
}

export { repoRoot };
