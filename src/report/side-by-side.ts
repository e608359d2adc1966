/**
 * Two flows in two columns, in virtual-time order, so a presenter can show bare-metal and
 * agent-initiated configuration next to each other on one screen.
 */
import { formatVirtualTime, type TimelineEvent } from '../common/timeline.js';

export interface Column {
  title: string;
  deviceId: string;
}

const KEEP = /^(power\.|dhcp\.(lease|no-domain|failed)|dns\.(query|answer|failed)|hello\.|window\.|host\.|pkich\.|tls\.|wsman\.|lifecycle\.|mebx\.|provisioning\.)/;

function describe(e: TimelineEvent): string {
  const d = e.data;
  const pick = (k: string): string => (d[k] === undefined ? '' : String(d[k]));
  switch (e.type) {
    case 'dhcp.lease':
      return `DHCP lease ${pick('address')}${d['domain'] ? ` domain ${pick('domain')}` : ' (no option 15)'}`;
    case 'dns.query':
      return `DNS ? ${pick('name')}`;
    case 'dns.answer':
      return `DNS = ${(d['addresses'] as string[] | undefined)?.join(',') ?? ''}`;
    case 'hello.sent':
      return `hello → ${pick('to')} (retry ${pick('retryCount')})`;
    case 'lifecycle.transition':
      return `★ ${pick('from')} → ${pick('to')} ${pick('controlMode')} (${pick('reason')})`;
    case 'window.opened':
      return `window open ${pick('kind')} ${Math.round(Number(d['lengthMs']) / 3600_000)}h`;
    case 'window.closed':
      return `window closed (${pick('reason')})`;
    case 'pkich.accepted':
      return `mutual TLS ok: ${pick('leafCn') || pick('certificateCn')}`;
    case 'pkich.rejected':
      return `mutual TLS refused`;
    case 'tls.handshake':
      return `TLS handshake ${pick('protocol')} ${pick('cipher')}`;
    case 'host.GetProvisioningState':
    case 'host.GetUUID':
    case 'host.SetProvisioningServerOTP':
    case 'host.StartConfiguration':
    case 'host.StartConfigurationEx':
    case 'host.StopConfiguration':
      return `agent → MEI ${e.type.slice(5)}: ${pick('status')}`;
    default: {
      const wsman = /^wsman\.(?:AMT_|IPS_|CIM_)?([A-Za-z]+)\.([A-Za-z]+)$/.exec(e.type);
      if (wsman) return `WS-Man ${wsman[2]}${d['returnValue'] !== undefined ? ` → ${pick('returnValue')}` : ''}`;
      const extra = d['returnValue'] !== undefined ? ` → ${pick('returnValue')}` : d['status'] !== undefined ? ` → ${pick('status')}` : '';
      return `${e.type}${extra}`;
    }
  }
}

export function sideBySide(events: readonly TimelineEvent[], columns: [Column, Column], width = 58, colour = false): string {
  const cell = (s: string): string => (s.length > width ? `${s.slice(0, width - 1)}…` : s.padEnd(width));
  const out: string[] = [];
  const bold = (s: string): string => (colour ? `\x1b[1m${s}\x1b[0m` : s);
  out.push(bold(`${'time'.padEnd(15)} ${cell(columns[0].title)} │ ${cell(columns[1].title)}`));
  out.push(`${'─'.repeat(15)} ${'─'.repeat(width)}─┼─${'─'.repeat(width)}`);
  for (const e of events) {
    if (!KEEP.test(e.type)) continue;
    const idx = columns.findIndex((c) => c.deviceId === e.deviceId);
    if (idx < 0) continue;
    let text = describe(e);
    if (e.code) text += ` [${e.code}]`;
    let c = cell(text);
    if (colour) {
      if (e.code) c = `\x1b[31m${c}\x1b[0m`;
      else if (e.type === 'lifecycle.transition') c = `\x1b[1;32m${c}\x1b[0m`;
      else if (e.type.startsWith('hello.')) c = `\x1b[33m${c}\x1b[0m`;
    }
    const blank = ' '.repeat(width);
    out.push(`${formatVirtualTime(e.t).padEnd(15)} ${idx === 0 ? c : blank} │ ${idx === 1 ? c : blank}`);
  }
  return out.join('\n');
}
