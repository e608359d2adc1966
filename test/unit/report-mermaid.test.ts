/**
 * Mermaid sequence diagrams from a timeline: every drawn event becomes an arrow or a note, and a
 * scale run (thousands of PCs × days) is cut to a diagram a renderer can open, saying what was
 * left out instead of silently dropping it.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import { Timeline } from '../../src/common/timeline.js';
import { toMermaidSequence } from '../../src/report/mermaid.js';

function timeline(devices: number, hellosEach: number): Timeline {
  const t = new Timeline(new VirtualClock());
  for (let d = 1; d <= devices; d++) {
    t.record(`pc${d}`, 'window.opened', { kind: 'bareMetal', lengthMs: 86_400_000 });
    for (let h = 0; h < hellosEach; h++) t.record(`pc${d}`, 'hello.failed', { to: '127.0.0.1:9971', retryCount: h }, 'HELLO_CONNECT_FAILED');
  }
  return t;
}

describe('toMermaidSequence', () => {
  it('draws a small run whole, one participant per device, no "not drawn" note', () => {
    const m = toMermaidSequence(timeline(2, 3).query(), { title: 'two PCs' });
    expect(m.startsWith('sequenceDiagram\n    title two PCs\n')).toBe(true);
    expect(m.match(/participant D\d+ as pc\d/g)).toEqual(['participant D1 as pc1', 'participant D2 as pc2']);
    expect(m.split('\n').filter((l) => l.includes('-x'))).toHaveLength(6);
    expect(m).not.toContain('not drawn');
  });

  it('cuts a scale run to the first devices and a bounded number of messages, and says so', () => {
    const m = toMermaidSequence(timeline(2000, 39).query());
    expect(m.match(/participant D\d+ as /g)).toHaveLength(16);
    const drawn = m.split('\n').filter((l) => l.includes('-x') || /Note over D\d/.test(l));
    expect(drawn).toHaveLength(16 * 40); // 640 < 1,500: only devices were cut
    expect(m).toContain('1984 more devices not drawn');
    const tight = toMermaidSequence(timeline(3, 39).query(), { maxMessages: 50 });
    expect(tight.split('\n').filter((l) => l.includes('-x') || /Note over D\d/.test(l))).toHaveLength(50);
    expect(tight).toContain('70 more messages not drawn');
  });
});
