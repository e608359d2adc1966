/**
 * `npm run bench [-- --scale tiny|small|full] [--only a,b,c,d,e]`
 *
 * Runs each benchmark in its own child process (clean RSS, its own file descriptors, a hard
 * wall-time limit) and prints ONE JSON object on stdout: every figure with its value, the
 * side-by-side baseline and ratio where one exists, the target and whether it was met. Notes
 * go to stderr. Targets are reported, never enforced: the exit code is 0 unless the harness
 * itself broke (bad flag: 2).
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchActivationRate } from './activation-rate.js';
import { benchDiscoveryWeekMemory, benchDiscoveryWeekReal } from './discovery-week.js';
import { benchFleetStart } from './fleet-start.js';
import { benchHelloRate } from './hello-rate.js';
import { note, SCALES, type Figure, type Scale, type ScaleName } from './lib.js';
import { benchWsmanGetRate } from './wsman-get-rate.js';

/** What one child process runs. */
const PARTS: Record<string, { run: (s: Scale) => Promise<Figure[]>; limitMs: (s: Scale) => number }> = {
  a: { run: benchFleetStart, limitMs: () => 180_000 },
  // Budgeted runs that may overshoot their budget by one virtual minute; b-real also measures its raw floor.
  'b-real': { run: benchDiscoveryWeekReal, limitMs: (s) => s.weekBudgetMs + s.loopBudgetMs + 180_000 },
  'b-memory': { run: benchDiscoveryWeekMemory, limitMs: (s) => s.weekBudgetMs + 120_000 },
  c: { run: benchHelloRate, limitMs: (s) => s.loopBudgetMs + 60_000 },
  d: { run: benchActivationRate, limitMs: (s) => s.loopBudgetMs + 120_000 },
  e: { run: benchWsmanGetRate, limitMs: (s) => s.loopBudgetMs + 60_000 },
};

/** The benchmarks a user names; (b)'s two transports run in separate children (each its own clean heap). */
const BENCHES: Record<string, { title: string; parts: string[] }> = {
  a: { title: 'start a fleet', parts: ['a'] },
  b: { title: 'a week of discovery, server down', parts: ['b-real', 'b-memory'] },
  c: { title: 'hellos per second', parts: ['c'] },
  d: { title: 'PKI-CH activations per second', parts: ['d'] },
  e: { title: 'digest WS-Man Gets per second', parts: ['e'] },
};

interface Args {
  scale: Scale;
  only: string[];
  child?: string;
}

function usage(msg: string): never {
  process.stderr.write(`bench: BAD_INPUT: ${msg}\nusage: node --import tsx bench/run.ts [--scale tiny|small|full] [--only a,b,c,d,e]\n`);
  process.exit(2);
}

export function parseArgs(argv: string[]): Args {
  let scale: Scale = SCALES.full;
  let only = Object.keys(BENCHES);
  let child: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') usage(`${flag} needs a value`);
      return v;
    };
    if (flag === '--scale') {
      const v = value();
      if (!(v in SCALES)) usage(`--scale must be one of ${Object.keys(SCALES).join(', ')}, got "${v}"`);
      scale = SCALES[v as ScaleName];
    } else if (flag === '--only') {
      only = value().split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
      const bad = only.filter((k) => !(k in BENCHES));
      if (bad.length > 0 || only.length === 0) usage(`--only takes a comma list of ${Object.keys(BENCHES).join(',')}, got "${bad.join(',') || '(empty)'}"`);
    } else if (flag === '--child') child = value();
    else if (flag === '--help' || flag === '-h') usage('help requested');
    else usage(`unknown argument "${a}"`);
  }
  return child !== undefined ? { scale, only, child } : { scale, only };
}

/** Run one benchmark in a child process; its stdout is a JSON Figure[]. */
function runChild(id: string, scale: Scale): Promise<{ figures?: Figure[]; error?: string; wallMs: number }> {
  const self = fileURLToPath(import.meta.url);
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, '--expose-gc', self, '--child', id, '--scale', scale.name], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    const limit = PARTS[id]!.limitMs(scale);
    const timer = setTimeout(() => {
      note(`(${id}) exceeded its ${limit / 1000} s limit: stopping child ${child.pid}`);
      child.kill('SIGKILL');
    }, limit);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      if (code !== 0) {
        resolve({ error: `child exited ${signal ?? code}${signal === 'SIGKILL' ? ` (over its ${limit / 1000} s limit)` : ''}`, wallMs });
        return;
      }
      try {
        resolve({ figures: JSON.parse(out) as Figure[], wallMs });
      } catch (e) {
        resolve({ error: `child output is not JSON: ${(e as Error).message}`, wallMs });
      }
    });
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child !== undefined) {
    const bench = PARTS[args.child];
    if (!bench) usage(`unknown benchmark part "${args.child}"`);
    let figures: Figure[];
    try {
      figures = await bench.run(args.scale);
    } catch (e) {
      process.stderr.write(`bench (${args.child}): ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    }
    process.stdout.write(JSON.stringify(figures));
    // Sockets are closed by each benchmark; do not wait for stray keep-alive timers.
    process.exit(0);
  }
  const startedAt = new Date().toISOString();
  const figures: Record<string, Figure> = {};
  const errors: Record<string, string> = {};
  const runs: Record<string, number> = {};
  for (const id of args.only) {
    note(`(${id}) ${BENCHES[id]!.title} — scale ${args.scale.name}`);
    for (const part of BENCHES[id]!.parts) {
      const r = await runChild(part, args.scale);
      runs[part] = Math.round(r.wallMs);
      if (r.error !== undefined) {
        errors[part] = r.error;
        note(`(${part}) FAILED: ${r.error}`);
        continue;
      }
      for (const f of r.figures ?? []) {
        figures[f.id] = f;
        const ratio = f.ratio !== undefined ? ` ratio ${f.ratio}` : '';
        note(`${f.id}: ${f.value} ${f.unit}${ratio} — target ${f.target.of} ${f.target.op} ${f.target.value}: met ${f.met}`);
      }
    }
  }
  const report = {
    tool: 'amtemu bench',
    scale: args.scale.name,
    startedAt,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
    figures,
    errors,
    benchWallMs: runs,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

await main();
