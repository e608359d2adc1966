/**
 * Delivers one hello (reference §1.1): TCP connect to the provisioning server (default 9971)
 * from the device's own address — MeshCentral reverse-resolves the source IP of the hello
 * (reference §1.3) — write the whole packet in ONE write (a server that parses only its first
 * read must still get it all), then close. No reply is expected; MeshCentral parses on close.
 */
import net from 'node:net';
import type { Clock } from '../clock/clock.js';
import type { Result } from '../common/errors.js';
import type { HelloTarget } from '../device/environment.js';
import { openReplyWindow } from './io-window.js';

export interface HelloTransportConfig {
  clock: Clock;
  /** Connect timeout on the device clock. [UNKNOWN] firmware value. */
  connectTimeoutMs?: number;
  /** Real ms a half-closed connection may linger before we drop it (fd hygiene, not behaviour). */
  lingerMs?: number;
  replyGraceMs?: number;
}

export async function sendHello(
  config: HelloTransportConfig,
  fromAddress: string,
  to: HelloTarget,
  bytes: Buffer,
): Promise<Result<void, 'HELLO_CONNECT_FAILED'>> {
  const where = `${to.host}:${to.port}`;
  if (!Number.isInteger(to.port) || to.port <= 0 || to.port > 65535) {
    return { ok: false, code: 'HELLO_CONNECT_FAILED', message: `hello target ${where}: invalid port` };
  }
  const clock = config.clock;
  // Connecting over loopback takes a few real ms; keep a virtual clock still meanwhile.
  const window = openReplyWindow(clock, config.replyGraceMs ?? 500);
  return new Promise<Result<void, 'HELLO_CONNECT_FAILED'>>((resolve) => {
    let settled = false;
    const finish = (r: Result<void, 'HELLO_CONNECT_FAILED'>): void => {
      if (settled) return;
      settled = true;
      clock.cancel(timer);
      window.close();
      resolve(r);
    };
    const socket = net.connect({ host: to.host, port: to.port, localAddress: fromAddress || undefined });
    const timer = clock.setTimer(
      config.connectTimeoutMs ?? 10_000,
      () => {
        socket.destroy();
        finish({ ok: false, code: 'HELLO_CONNECT_FAILED', message: `connect to ${where} from ${fromAddress}: ETIMEDOUT` });
      },
      'hello.connect-timeout',
    );
    socket.once('error', (e: NodeJS.ErrnoException) => {
      socket.destroy();
      finish({ ok: false, code: 'HELLO_CONNECT_FAILED', message: `connect to ${where} from ${fromAddress}: ${e.code ?? e.message}`, detail: { errno: e.code } });
    });
    socket.once('connect', () => {
      clock.cancel(timer);
      // end(data) = one write followed by FIN.
      socket.end(bytes, () => {
        finish({ ok: true, value: undefined });
        // The server closes after reading; if it never does, do not keep the fd forever.
        socket.setTimeout(config.lingerMs ?? 10_000, () => socket.destroy());
      });
      socket.on('data', () => undefined); // nothing is expected; drain whatever comes
      socket.on('error', () => undefined);
    });
  });
}
