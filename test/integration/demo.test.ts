/**
 * The demo `npm start` runs: both flows end to end on real loopback sockets in scaled time,
 * with the timeline and the Mermaid diagram written to files.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TimelineEvent } from '../../src/common/timeline.js';
import { runDemo } from '../../src/cli/demo.js';

describe('amtemu demo', () => {
  it('configures the bare-metal PC and the agent-initiated PC, and writes a JSON timeline and a Mermaid diagram', async () => {
    const outDir = mkdtempSync(path.join(tmpdir(), 'amtemu-demo-'));
    const lines: string[] = [];
    const result = await runDemo({ flows: ['bare-metal', 'agent-initiated'], timeScale: 20, outDir, colour: false, limitMs: 90_000, out: (l) => lines.push(l) });
    expect(result.devices, lines.join('\n')).toEqual([
      { flow: 'bare-metal', deviceId: 'pc1', state: 'Post', controlMode: 'ACM' },
      { flow: 'agent-initiated', deviceId: 'pc2', state: 'Post', controlMode: 'ACM' },
    ]);
    expect(result.ok).toBe(true);

    const json = JSON.parse(readFileSync(result.files.timeline, 'utf8')) as { events: TimelineEvent[] };
    const order = (id: string): string[] => json.events.filter((e) => e.deviceId === id).map((e) => e.type);
    for (const id of ['pc1', 'pc2']) {
      const types = order(id);
      // DHCP → DNS → hello → mutual TLS → configuration → configured, in that order.
      const idx = ['dhcp.lease', 'dns.answer', 'hello.sent', 'pkich.accepted', 'wsman.AMT_SetupAndConfigurationService.SetMEBxPassword', 'lifecycle.transition'].map((t) => types.lastIndexOf(t));
      expect(idx.every((i) => i >= 0), `${id}: ${types.join(', ')}`).toBe(true);
      expect([...idx].sort((a, b) => a - b)).toEqual(idx);
    }
    // Only the agent-initiated PC was opened by StartConfiguration.
    expect(order('pc2')).toContain('host.StartConfigurationEx');
    expect(order('pc1')).not.toContain('host.StartConfigurationEx');

    const mermaid = readFileSync(result.files.mermaid, 'utf8');
    expect(mermaid.startsWith('sequenceDiagram\n')).toBe(true);
    expect(mermaid).toMatch(/D1->>ProvServer: hello v3/);
    expect(mermaid).toMatch(/OSAgent->>D2: StartConfigurationEx/);
    expect(lines.join('\n')).toMatch(/✓ bare-metal\s+pc1: configured ACM/);
  }, 120_000);
});
