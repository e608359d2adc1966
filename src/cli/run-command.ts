/**
 * `amtemu run <files or dirs...> [--junit FILE] [--json FILE [--json-timeline all|failed|none]] [--mermaid DIR]`: run scenario
 * files in virtual time, print ✓/✗ per scenario with failure detail, write CI reports. The exit
 * code is the verdict: 0 all passed, 1 a scenario failed, 2 a file could not be read or parsed.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { Command } from 'commander';
import { AmtError } from '../common/errors.js';
import { toMermaidSequence } from '../report/mermaid.js';
import { loadScenarioFile, ScenarioLoadError } from '../scenario/loader.js';
import { formatResult, formatSummary, JSON_TIMELINE_CHOICES, toJsonReport, toJUnit, type JsonTimeline, type NotLoaded } from '../scenario/report.js';
import { runLoaded, type ScenarioResult } from '../scenario/runner.js';
import type { LoadedScenario } from '../scenario/types.js';
import { checkReportFile, prepareReportDir, writeReport } from './output-paths.js';

export interface RunCommandOptions {
  junit?: string;
  json?: string;
  /** Whose timelines the JSON report carries (default all). */
  jsonTimeline?: JsonTimeline;
  mermaid?: string;
  jobs: number;
  colour?: boolean;
  /** Where output goes (tests capture it). */
  write?: (s: string) => void;
  writeErr?: (s: string) => void;
}

const SCENARIO_EXT = new Set(['.yaml', '.yml']);

/** Files named on the command line, and every *.yaml / *.yml under named directories (sorted). */
export function collectScenarioFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 20) return;
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p, depth + 1);
      else if (SCENARIO_EXT.has(extname(name))) out.push(p);
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new AmtError('BAD_INPUT', `${p}: no such file or directory`);
    }
    if (st.isDirectory()) walk(p, 0);
    else out.push(p);
  }
  if (out.length === 0) throw new AmtError('BAD_INPUT', `no scenario files (*.yaml, *.yml) in ${paths.join(', ')}`);
  return [...new Set(out)];
}

function parseJsonTimeline(v: string): JsonTimeline {
  const choice = JSON_TIMELINE_CHOICES.find((c) => c === v);
  if (!choice) throw new AmtError('BAD_INPUT', `--json-timeline must be one of ${JSON_TIMELINE_CHOICES.join(', ')}, got "${v}"`);
  return choice;
}

function parseJobs(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 64) throw new AmtError('BAD_INPUT', `--jobs must be a whole number from 1 to 64, got "${v}"`);
  return n;
}

/** Run the command; returns the exit code (0 pass, 1 a scenario failed, 2 a file did not load). */
export async function runCommand(paths: string[], opts: RunCommandOptions): Promise<number> {
  const write = opts.write ?? ((s: string) => process.stdout.write(s));
  const writeErr = opts.writeErr ?? ((s: string) => process.stderr.write(s));
  const files = collectScenarioFiles(paths);
  // Before any scenario runs: a report that cannot be written must not cost the whole run.
  if (opts.junit) checkReportFile('--junit', opts.junit);
  if (opts.json) checkReportFile('--json', opts.json);
  if (opts.mermaid) prepareReportDir('--mermaid', opts.mermaid);
  const loaded: LoadedScenario[] = [];
  const notLoaded: NotLoaded[] = [];
  for (const f of files) {
    try {
      loaded.push(loadScenarioFile(f));
    } catch (e) {
      if (!(e instanceof ScenarioLoadError)) throw e;
      writeErr(`${e.message}\n`);
      notLoaded.push({ file: f, problems: e.message.split('\n') });
    }
  }
  const loadFailed = notLoaded.length;
  const results: ScenarioResult[] = new Array<ScenarioResult>(loaded.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= loaded.length) return;
      const r = await runLoaded(loaded[i]!);
      results[i] = r;
      write(`${formatResult(r, { colour: opts.colour ?? false })}\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.jobs, Math.max(1, loaded.length)) }, () => worker()));
  write(`\n${formatSummary(results, { colour: opts.colour ?? false })}${loadFailed ? `, ${loadFailed} file${loadFailed === 1 ? '' : 's'} did not load` : ''}\n`);
  if (opts.junit) writeReport('--junit', opts.junit, toJUnit(results, undefined, notLoaded));
  if (opts.json) writeReport('--json', opts.json, toJsonReport(results, { timeline: opts.jsonTimeline ?? 'all', notLoaded }));
  if (opts.mermaid) {
    for (const r of results) {
      const stem = basename(r.file, extname(r.file));
      writeReport('--mermaid', join(opts.mermaid, `${stem}.mmd`), toMermaidSequence(r.timeline, { title: r.name }));
    }
  }
  if (loadFailed > 0) return 2;
  return results.every((r) => r.passed) ? 0 : 1;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run scenario files (virtual time); exit code 0 when every scenario passes')
    .argument('<paths...>', 'scenario files or directories of *.yaml files')
    .option('--junit <file>', 'write a JUnit XML report')
    .option('--json <file>', 'write a JSON report (results with timelines)')
    .option('--json-timeline <which>', 'timelines in the JSON report: all | failed (only failed scenarios) | none', parseJsonTimeline, 'all' as JsonTimeline)
    .option('--mermaid <dir>', 'write one Mermaid sequence diagram per scenario')
    .option('-j, --jobs <n>', 'scenarios run at once', parseJobs, 4)
    .action(async (paths: string[], o: { junit?: string; json?: string; jsonTimeline: JsonTimeline; mermaid?: string; jobs: number }) => {
      const code = await runCommand(paths, { ...o, colour: Boolean(process.stdout.isTTY) });
      process.exitCode = code;
    });
}
