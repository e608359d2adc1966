/**
 * Watches the timeline for what the API shows without re-scanning a million events: each
 * device's last event, and the counters behind /metrics (hellos, PKI-CH verdicts by code,
 * events per area, failures per code). Counting starts from the events already recorded.
 */
import type { Timeline, TimelineEvent } from '../common/timeline.js';

export class FleetObserver {
  readonly lastEvent = new Map<string, TimelineEvent>();
  readonly hellos = { sent: 0, failed: 0 };
  readonly pkich = { accepted: 0, rejected: new Map<string, number>() };
  readonly byArea = new Map<string, number>();
  readonly failures = new Map<string, number>();
  private readonly unsubscribe: () => void;

  constructor(timeline: Timeline) {
    for (const e of timeline.all()) this.see(e);
    this.unsubscribe = timeline.subscribe((e) => this.see(e));
  }

  private see(e: TimelineEvent): void {
    this.lastEvent.set(e.deviceId, e);
    const area = e.type.split('.')[0] ?? e.type;
    // Areas are a fixed vocabulary (timeline.ts); anything odd is folded so labels stay bounded.
    const label = /^[a-z]{1,16}$/.test(area) ? area : 'other';
    this.byArea.set(label, (this.byArea.get(label) ?? 0) + 1);
    if (e.code) this.failures.set(e.code, (this.failures.get(e.code) ?? 0) + 1);
    if (e.type === 'hello.sent') this.hellos.sent++;
    else if (e.type === 'hello.failed') this.hellos.failed++;
    else if (e.type === 'pkich.accepted') this.pkich.accepted++;
    else if (e.type === 'pkich.rejected') {
      const code = e.code ?? 'UNKNOWN';
      this.pkich.rejected.set(code, (this.pkich.rejected.get(code) ?? 0) + 1);
    }
  }

  close(): void {
    this.unsubscribe();
  }
}
