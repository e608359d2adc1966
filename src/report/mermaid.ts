/**
 * A Mermaid sequence diagram from timeline events: who talked to whom, in virtual-time order.
 * Events map to arrows between the device, the network services and the provisioning server;
 * events that are not messages (state changes) become notes over the device.
 */
import { formatVirtualTime, type TimelineEvent } from '../common/timeline.js';

type Arrow = { from: string; to: string; text: string; dashed?: boolean; failed?: boolean };

const P = { dhcp: 'DHCP', dns: 'DNS', sca: 'ProvServer', agent: 'OSAgent' } as const;

function arrowFor(e: TimelineEvent, dev: string): Arrow | { note: string } | undefined {
  const d = e.data;
  switch (e.type) {
    case 'dhcp.discover':
    case 'dhcp.request':
      return d['direction'] === 'sent' ? { from: dev, to: P.dhcp, text: e.type.slice(5).toUpperCase() } : undefined;
    case 'dhcp.offer':
    case 'dhcp.ack':
    case 'dhcp.nak':
      return d['direction'] === 'received' ? { from: P.dhcp, to: dev, text: `${e.type.slice(5).toUpperCase()}${d['domain'] ? ` (option 15 ${String(d['domain'])})` : ''}`, dashed: true } : undefined;
    case 'dns.query':
      return { from: dev, to: P.dns, text: `A? ${String(d['name'])}` };
    case 'dns.answer':
      return { from: P.dns, to: dev, text: (d['addresses'] as string[] | undefined)?.join(', ') ?? 'answer', dashed: true };
    case 'dns.failed':
      return { from: P.dns, to: dev, text: e.code ?? 'failed', dashed: true, failed: true };
    case 'hello.sent':
      return { from: dev, to: P.sca, text: `hello v${String(d['version'])} (retry ${String(d['retryCount'])}, ${String(d['hashes'])} hashes)` };
    case 'hello.failed':
      return { from: dev, to: P.sca, text: `hello ✗ ${e.code ?? ''}`, failed: true };
    case 'pkich.accepted':
      return { from: P.sca, to: dev, text: `mutual TLS :16993 (${String(d['leafCn'] ?? d['certificateCn'] ?? 'Client Setup cert')})` };
    case 'pkich.rejected':
      return { from: P.sca, to: dev, text: `mutual TLS refused: ${e.code ?? ''}`, failed: true };
    case 'host.StartConfiguration':
    case 'host.StartConfigurationEx':
    case 'host.SetProvisioningServerOTP':
    case 'host.GetProvisioningState':
    case 'host.GetUUID':
      return { from: P.agent, to: dev, text: `${e.type.slice(5)} → ${String(d['status'])}` };
    case 'lifecycle.transition':
      return { note: `${String(d['from'])} → ${String(d['to'])} ${String(d['controlMode'])} (${String(d['reason'])})` };
    case 'window.opened':
      return { note: `window opened (${String(d['kind'])}, ${Math.round(Number(d['lengthMs']) / 3600_000)} h)` };
    case 'window.closed':
      return { note: `window closed (${String(d['reason'])})` };
    default:
      if (e.type.startsWith('wsman.') && e.type.split('.').length === 3) {
        const [, cls, method] = e.type.split('.');
        return { from: P.sca, to: dev, text: `${cls}.${method}${d['returnValue'] !== undefined ? ` → ${String(d['returnValue'])}` : ''}` };
      }
      return undefined;
  }
}

export interface MermaidOptions {
  title?: string;
  /** Display names per device id (e.g. "pc1 (bare-metal)"). */
  labels?: Record<string, string>;
  /** Devices drawn, in order of first appearance (default 16): a diagram is for reading. */
  maxDevices?: number;
  /** Arrows and notes drawn (default 1,500; Mermaid renderers give up far beyond that). */
  maxMessages?: number;
}

/** A scale scenario (thousands of PCs × a week) must still give a diagram someone can open. */
const DEFAULT_MAX_DEVICES = 16;
const DEFAULT_MAX_MESSAGES = 1500;

export function toMermaidSequence(events: readonly TimelineEvent[], opts: MermaidOptions = {}): string {
  const allIds = [...new Set(events.map((e) => e.deviceId))];
  const deviceIds = allIds.slice(0, opts.maxDevices ?? DEFAULT_MAX_DEVICES);
  const maxMessages = opts.maxMessages ?? DEFAULT_MAX_MESSAGES;
  let drawn = 0;
  let leftOut = 0;
  const alias = new Map(deviceIds.map((id, i) => [id, `D${i + 1}`]));
  const lines: string[] = ['sequenceDiagram'];
  if (opts.title) lines.push(`    title ${opts.title}`);
  lines.push(`    participant ${P.agent} as OS agent`);
  for (const id of deviceIds) lines.push(`    participant ${alias.get(id)} as ${sanitize(opts.labels?.[id] ?? id)}`);
  lines.push(`    participant ${P.dhcp} as DHCP server`, `    participant ${P.dns} as DNS server`, `    participant ${P.sca} as Provisioning server`);
  let lastDhcp = '';
  const push = (line: string): void => {
    if (drawn >= maxMessages) leftOut++;
    else {
      drawn++;
      lines.push(line);
    }
  };
  for (const e of events) {
    const dev = alias.get(e.deviceId);
    if (!dev) continue;
    const a = arrowFor(e, dev);
    if (!a) continue;
    if ('note' in a) {
      push(`    Note over ${dev}: ${sanitize(`${formatVirtualTime(e.t)} ${a.note}`)}`);
      continue;
    }
    // DHCP renewals repeat the same exchange; show each distinct one once in a row.
    const key = `${e.deviceId}|${a.text}`;
    if (e.type.startsWith('dhcp.') && key === lastDhcp) continue;
    if (e.type.startsWith('dhcp.')) lastDhcp = key;
    const arrow = a.failed ? '-x' : a.dashed ? '-->>' : '->>';
    push(`    ${a.from}${arrow}${a.to}: ${sanitize(a.text)}`);
  }
  const more = allIds.length - deviceIds.length;
  if (more > 0 || leftOut > 0) {
    const parts = [...(more > 0 ? [`${more} more device${more === 1 ? '' : 's'}`] : []), ...(leftOut > 0 ? [`${leftOut} more message${leftOut === 1 ? '' : 's'}`] : [])];
    lines.push(`    Note over ${P.dhcp},${P.sca}: ${sanitize(`${parts.join(' and ')} not drawn (the JSON report has the whole timeline)`)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Mermaid breaks on ';', '#' and ':' in some positions; keep the text readable and safe. */
function sanitize(s: string): string {
  return s.replace(/[;#]/g, ' ').replace(/:/g, '∶').replace(/\s+/g, ' ').trim();
}
