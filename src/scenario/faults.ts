/**
 * Fault rules in the spirit of toxiproxy toxics and LocalStack chaos rules: "on this device,
 * port or WS-Man action, do this — for the first N calls, or with this probability". The
 * registry only decides; whoever handles the traffic applies the decision:
 *
 *   const effect = faults.decide({ deviceId, port: 16993, action: 'AdminSetup' });
 *   if (effect?.kind === 'reset') socket.resetAndDestroy();
 *   else if (effect?.kind === 'delay') await clock-based sleep(effect.ms) …
 *
 * The WS-Man listeners (src/network/listeners.ts) consult it per request once they accept a
 * `faults` option; the scenario runner owns one registry per run and fills it from `fault: {rule}`
 * steps. Every decision that fires is recorded on the timeline as `fault.<kind>` so a report
 * shows which request was hit. Probability draws come from a seeded generator: a scenario run
 * twice makes the same choices.
 */
import type { Timeline } from '../common/timeline.js';

export type FaultKind = 'delay' | 'drop' | 'reset' | 'hang' | 'empty' | 'fail';

/**
 * What a listener does when a rule fires:
 * - delay: answer normally after `ms` of the run's clock;
 * - drop: read the request, never answer, close after the client gives up (like toxiproxy timeout);
 * - reset: TCP RST at once;
 * - hang: keep the connection open and silent until the client closes it;
 * - empty: HTTP 200 with an empty body (a firmware bug seen in the field);
 * - fail: a WS-Man fault / non-zero ReturnValue as the firmware would send it.
 */
export type FaultEffect =
  | { kind: 'delay'; ms: number }
  | { kind: 'drop' }
  | { kind: 'reset' }
  | { kind: 'hang' }
  | { kind: 'empty' }
  | { kind: 'fail'; returnValue?: number };

export interface FaultMatch {
  deviceId?: string;
  port?: number;
  /** Full WS-Man action URI, or its last path segment / method name (AdminSetup, CommitChanges). */
  action?: string;
}

export interface FaultRule extends FaultMatch {
  name?: string;
  effect: FaultEffect;
  /** Fire on the first N matching calls only, then step aside (e.g. AdminSetup fails once). */
  firstN?: number;
  /** Fire with this probability (0–1) on each matching call. */
  probability?: number;
}

export interface FaultContext {
  deviceId: string;
  port: number;
  /** The request's WS-Man action URI when the port speaks WS-Man. */
  action?: string;
}

interface ActiveRule extends FaultRule {
  id: number;
  matched: number;
  fired: number;
}

/** mulberry32: tiny, seedable, good enough to decide "fail 30 % of the time". */
function seededRandom(seed: string): () => number {
  let a = 0x9e3779b9;
  for (let i = 0; i < seed.length; i++) a = Math.imul(a ^ seed.charCodeAt(i), 0x85ebca6b) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function actionMatches(want: string, actual: string | undefined): boolean {
  if (!actual) return false;
  if (want === actual) return true;
  const last = actual.split(/[/#]/).pop() ?? actual;
  return want.toLowerCase() === last.toLowerCase();
}

export class FaultRules {
  private readonly rules: ActiveRule[] = [];
  private nextId = 1;
  private readonly random: () => number;

  constructor(private readonly opts: { seed?: string; timeline?: Timeline } = {}) {
    this.random = seededRandom(opts.seed ?? 'amtemu');
  }

  add(rule: FaultRule): number {
    if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) throw new RangeError(`fault probability must be 0–1, got ${rule.probability}`);
    if (rule.firstN !== undefined && !(Number.isInteger(rule.firstN) && rule.firstN >= 1)) throw new RangeError(`fault firstN must be an integer ≥ 1, got ${rule.firstN}`);
    const id = this.nextId++;
    this.rules.push({ ...rule, id, matched: 0, fired: 0 });
    return id;
  }

  remove(id: number): boolean {
    const i = this.rules.findIndex((r) => r.id === id);
    if (i < 0) return false;
    this.rules.splice(i, 1);
    return true;
  }

  clear(): void {
    this.rules.length = 0;
  }

  get size(): number {
    return this.rules.length;
  }

  /** Rules with their hit counters (for reports and the control API). */
  list(): Array<FaultRule & { id: number; matched: number; fired: number }> {
    return this.rules.map((r) => ({ ...r }));
  }

  /**
   * The effect to apply to this call, or undefined to behave normally. The first rule that
   * matches and fires wins; a firstN rule that has used its N calls no longer matches.
   */
  decide(ctx: FaultContext): FaultEffect | undefined {
    for (const r of this.rules) {
      if (r.deviceId !== undefined && r.deviceId !== ctx.deviceId) continue;
      if (r.port !== undefined && r.port !== ctx.port) continue;
      if (r.action !== undefined && !actionMatches(r.action, ctx.action)) continue;
      if (r.firstN !== undefined && r.fired >= r.firstN) continue;
      r.matched++;
      if (r.probability !== undefined && this.random() >= r.probability) continue;
      r.fired++;
      this.opts.timeline?.record(ctx.deviceId, `fault.${r.effect.kind}`, {
        rule: r.name ?? `rule ${r.id}`,
        port: ctx.port,
        ...(ctx.action ? { action: ctx.action.split(/[/#]/).pop() } : {}),
        ...(r.effect.kind === 'delay' ? { ms: r.effect.ms } : {}),
      });
      return r.effect;
    }
    return undefined;
  }
}
