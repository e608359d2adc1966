/**
 * `amtemu provision-server --config FILE`: the reference provisioning server on real sockets.
 * It listens for hellos (default 127.0.0.1:9971; `bind: 0.0.0.0` in the file or `--bind` for
 * other interfaces) and configures the devices that say hello, whether they are emulated or real
 * vPro PCs. One readable line per step on stdout; operator logs (JSON, pino)
 * on stderr.
 */
import type { Command } from 'commander';
import { pino } from 'pino';
import { RealClock } from '../clock/real-clock.js';
import { AmtError } from '../common/errors.js';
import { formatVirtualTime } from '../common/timeline.js';
import { DEFAULT_BIND, loadProvisioningConfigFile } from '../provisioning/config.js';
import { ProvisioningServer } from '../provisioning/server.js';
import type { ProvisioningEvent } from '../provisioning/steps.js';
import { describeListenError } from './listen-errors.js';

function parsePort(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < 0 || n > 65535) throw new AmtError('BAD_INPUT', `--hello-port must be a whole number from 0 to 65535, got "${v}"`);
  return n;
}

/** `+00:00:01.234  127.0.0.5      wsman.set-admin-acl       ok  username=admin` */
export function formatProvisioningEvent(e: ProvisioningEvent): string {
  const detail = Object.entries(e.detail)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${formatVirtualTime(e.t)}  ${e.deviceIp.padEnd(15)} ${e.step.padEnd(34)} ${e.ok ? 'ok  ' : 'FAIL'}${e.code ? ` [${e.code}]` : ''}${detail ? `  ${detail}` : ''}`;
}

export function registerProvisionServerCommand(program: Command): void {
  program
    .command('provision-server')
    .description(`reference provisioning server: hellos on TCP ${DEFAULT_BIND}:9971 (loopback; --bind 0.0.0.0 for real PCs on the LAN), PKI-CH mutual TLS, WS-Man remote configuration (MeshCentral bare-metal flow)`)
    .requiredOption('--config <file>', 'YAML: helloPort, bind, profiles (adminPassword, mebxPassword, tls, match.uuids), chains (chain/key PEM files), optional tlsCa')
    .option('--hello-port <port>', 'TCP port for hellos (overrides helloPort: in the file; default 9971)', parsePort)
    .option('--bind <address>', `listen address for hellos (overrides bind: in the file; default ${DEFAULT_BIND}, loopback only; 0.0.0.0 for every interface)`)
    .action(async (opts: { config: string; helloPort?: number; bind?: string }) => {
      const cfg = loadProvisioningConfigFile(opts.config);
      const log = pino({ name: 'amtemu-provision-server' }, pino.destination(2));
      const server = new ProvisioningServer({
        clock: new RealClock(),
        profiles: cfg.profiles,
        chains: cfg.chains,
        ...(cfg.tlsCa ? { tlsCa: cfg.tlsCa } : {}),
        helloPort: opts.helloPort ?? cfg.helloPort,
        bind: opts.bind ?? cfg.bind,
        deviceWsmanPort: cfg.deviceWsmanPort,
        ...(cfg.wsmanTimeoutMs ? { wsmanTimeoutMs: cfg.wsmanTimeoutMs } : {}),
        ...(cfg.deviceTls ? { deviceTls: cfg.deviceTls } : {}),
      });
      server.on('event', (e: ProvisioningEvent) => {
        process.stdout.write(`${formatProvisioningEvent(e)}\n`);
        if (!e.ok) log.warn({ deviceIp: e.deviceIp, step: e.step, code: e.code, detail: e.detail }, 'provisioning step failed');
      });
      server.on('record', (r) => log.info({ record: r }, `device ${r.deviceIp} ${r.status}`));
      try {
        await server.start();
      } catch (e) {
        // Which setting chose the port: the flag, or helloPort: in the file.
        const listen = describeListenError(e, { command: 'provision-server', flag: opts.helloPort !== undefined ? '--hello-port' : `helloPort (${opts.config})` });
        if (listen) throw listen;
        throw new AmtError('BAD_INPUT', `cannot listen on ${opts.bind ?? cfg.bind}:${opts.helloPort ?? cfg.helloPort}: ${(e as Error).message}`);
      }
      log.info({ profiles: cfg.profiles.map((p) => p.name), chains: cfg.chains.map((c) => c.name) }, 'provisioning server started');
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.stop();
      const recs = server.records();
      log.info({ configured: recs.filter((r) => r.status === 'configured').length, failed: recs.filter((r) => r.status === 'failed').length }, 'provisioning server stopped');
    });
}
