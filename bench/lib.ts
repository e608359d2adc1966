/**
 * Shared pieces of the benchmarks: scale presets, the figure record every bench returns, time
 * and count bounds for loops, and small loopback helpers. Human notes go to stderr; stdout is
 * reserved for the one JSON object bench/run.ts prints.
 */
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';

export type ScaleName = 'tiny' | 'small' | 'full';

export interface Scale {
  name: ScaleName;
  /** (a) devices started. */
  startDevices: number;
  /** (b) devices and virtual days of discovery with the server down, real sockets. */
  weekDevices: number;
  weekDays: number;
  /** (b) wall-time budget for the real-socket run; past it the run stops and says so. */
  weekBudgetMs: number;
  /** (b) in-memory variant (always the full device count at full scale). */
  weekMemoryDevices: number;
  /** (c) hellos per side, (d) activations / handshakes per side, (e) Gets per side. */
  hellos: number;
  activations: number;
  gets: number;
  /** Wall-time bound of each measured loop (c, d, e). */
  loopBudgetMs: number;
}

export const SCALES: Record<ScaleName, Scale> = {
  tiny: { name: 'tiny', startDevices: 50, weekDevices: 10, weekDays: 7, weekBudgetMs: 20_000, weekMemoryDevices: 50, hellos: 200, activations: 4, gets: 100, loopBudgetMs: 5_000 },
  small: { name: 'small', startDevices: 1_000, weekDevices: 500, weekDays: 7, weekBudgetMs: 60_000, weekMemoryDevices: 1_000, hellos: 2_000, activations: 20, gets: 2_000, loopBudgetMs: 15_000 },
  full: { name: 'full', startDevices: 10_000, weekDevices: 10_000, weekDays: 7, weekBudgetMs: 120_000, weekMemoryDevices: 10_000, hellos: 8_000, activations: 60, gets: 10_000, loopBudgetMs: 30_000 },
};

/** One reported figure. `ratio` is value / baseline when a baseline ran side by side. */
export interface Figure {
  id: string;
  title: string;
  value: number;
  unit: string;
  baseline?: { value: number; unit: string; what: string };
  ratio?: number;
  /** The number compared to the target (value or ratio). */
  target: { of: string; op: '<' | '>='; value: number };
  met: boolean;
  /** Anything else measured (counts, per-phase times, variants). */
  detail: Record<string, unknown>;
  notes: string[];
}

export function judge(measured: number, op: '<' | '>=', target: number): boolean {
  return op === '<' ? measured < target : measured >= target;
}

export function note(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

/** Force a full GC when possible (the benchmark child runs with --expose-gc; else via V8 flags). */
export function collectGarbage(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    return;
  }
  try {
    v8.setFlagsFromString('--expose-gc');
    (vm.runInNewContext('gc') as () => void)();
  } catch {
    /* no GC hook: RSS figures include garbage */
  }
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** A loopback port nothing listens on (bind, read the port, close): connecting is refused. */
export async function refusedPort(host = '127.0.0.1'): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, host, resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/**
 * Run `one` `count` times with at most `concurrency` in flight, stopping early when `budgetMs`
 * of wall time has passed. Returns how many completed, how many failed and the elapsed time.
 */
export async function boundedLoop(
  count: number,
  concurrency: number,
  budgetMs: number,
  one: (i: number) => Promise<void>,
): Promise<{ done: number; failed: number; ms: number; firstError?: string }> {
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < count && performance.now() - t0 < budgetMs) {
      const i = next++;
      try {
        await one(i);
        done++;
      } catch (e) {
        failed++;
        firstError ??= (e as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return { done, failed, ms: performance.now() - t0, ...(firstError ? { firstError } : {}) };
}

/** Sources for client connections: spreading them keeps each source's TIME_WAIT ports well inside its range. */
export function sourceAddress(prefix: string, i: number, spread: number): string {
  const k = i % spread;
  return `${prefix}.${Math.floor(k / 250)}.${(k % 250) + 1}`;
}
