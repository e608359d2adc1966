/**
 * How scenario results are shown: a readable console report (✓/✗ per scenario, failure detail
 * with expected vs actual and the timeline around it), JUnit XML for CI (Jenkins, GitLab,
 * GitHub test reporters read testsuites/testsuite/testcase/failure), and JSON.
 */
import { randomUUID } from 'node:crypto';
import { formatDuration } from './duration.js';
import type { ScenarioResult } from './runner.js';
import type { TimelineEvent } from '../common/timeline.js';

export interface TextOptions {
  colour?: boolean;
}

const paint = (on: boolean, code: string, s: string): string => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

export function formatResult(r: ScenarioResult, opts: TextOptions = {}): string {
  const c = opts.colour ?? false;
  const mark = r.passed ? paint(c, '32', '✓') : paint(c, '31', '✗');
  const head = `${mark} ${r.name}  ${paint(c, '2', `(${r.file}, ${formatDuration(r.durationVirtualMs)} virtual, ${r.wallMs} ms)`)}`;
  if (r.passed) return head;
  const lines = [head];
  for (const f of r.failures) {
    const where = f.step < 0 ? 'setup' : `step ${f.step + 1}${f.line ? ` (${r.file}:${f.line})` : ''}`;
    lines.push(`    ${paint(c, '31', `${where}: ${f.step < 0 ? f.message : (r.steps[f.step]?.kind ?? '')}`)}`);
    if (f.checks.length > 0) {
      for (const ch of f.checks) {
        lines.push(`      ${ch.deviceId ? `${ch.deviceId} ` : ''}${ch.what}`);
        lines.push(`        expected: ${paint(c, '32', ch.expected)}`);
        lines.push(`        actual:   ${paint(c, '31', ch.actual)}`);
      }
    } else if (f.step >= 0) lines.push(`      ${f.message}`);
    if (f.excerpt.length > 0) {
      lines.push(`      timeline${f.deviceId ? ` of ${f.deviceId}` : ''} around +${formatDuration(f.t)}:`);
      for (const e of f.excerpt) lines.push(`        ${paint(c, '2', e)}`);
    }
  }
  return lines.join('\n');
}

export function formatSummary(results: ScenarioResult[], opts: TextOptions = {}): string {
  const failed = results.filter((r) => !r.passed).length;
  const passed = results.length - failed;
  const c = opts.colour ?? false;
  return `${paint(c, failed ? '31' : '32', `${passed} passed`)}${failed ? `, ${paint(c, '31', `${failed} failed`)}` : ''} (${results.length} scenario${results.length === 1 ? '' : 's'})`;
}

/** XML 1.0 text: escape markup and drop characters XML cannot carry (ANSI escapes, NUL). */
export function xmlText(s: string): string {
  return s
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;]*m/g, '')
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** A scenario file that did not load (YAML, schema or semantic problems): it never ran. */
export interface NotLoaded {
  file: string;
  /** One line each, `file:line:column: message`. */
  problems: string[];
}

/**
 * JUnit XML: one testsuite per run, one testcase per scenario (classname = file). A failed
 * expectation is a <failure>; a scenario that could not start (bad file, setup error) is an
 * <error>, and so is a file that did not load at all (`notLoaded`): a CI page must not show
 * green for a run that exited 2.
 */
export function toJUnit(results: ScenarioResult[], suiteName = 'amtemu scenarios', notLoaded: readonly NotLoaded[] = []): string {
  const failures = results.filter((r) => !r.passed && r.failures.every((f) => f.step >= 0)).length;
  const errors = results.filter((r) => r.failures.some((f) => f.step < 0)).length + notLoaded.length;
  const tests = results.length + notLoaded.length;
  const seconds = (ms: number): string => (ms / 1000).toFixed(3);
  const total = results.reduce((s, r) => s + r.wallMs, 0);
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(`<testsuites name="${xmlText(suiteName)}" tests="${tests}" failures="${failures}" errors="${errors}" time="${seconds(total)}">`);
  out.push(`  <testsuite name="${xmlText(suiteName)}" tests="${tests}" failures="${failures}" errors="${errors}" skipped="0" time="${seconds(total)}" timestamp="${new Date().toISOString().replace(/\.\d+Z$/, '')}">`);
  for (const r of results) {
    out.push(`    <testcase classname="${xmlText(r.file)}" name="${xmlText(r.name)}" time="${seconds(r.wallMs)}">`);
    const setup = r.failures.find((f) => f.step < 0);
    const detail = xmlText(formatResult(r));
    if (setup) out.push(`      <error message="${xmlText(setup.message)}" type="ScenarioError">${detail}</error>`);
    else if (!r.passed) {
      const first = r.failures[0]!;
      out.push(`      <failure message="${xmlText(`step ${first.step + 1}: ${first.message}`)}" type="ExpectationFailed">${detail}</failure>`);
    }
    out.push(`      <system-out>${xmlText(`virtual time: ${formatDuration(r.durationVirtualMs)}; ${r.steps.length} steps; ${r.timeline.length} timeline events`)}</system-out>`);
    out.push('    </testcase>');
  }
  for (const n of notLoaded) {
    // The scenario's name is in the file that did not load: the file stands for it.
    out.push(`    <testcase classname="${xmlText(n.file)}" name="${xmlText(n.file)}" time="0.000">`);
    const first = n.problems[0] ?? `${n.file}: did not load`;
    const count = n.problems.length > 1 ? ` (and ${n.problems.length - 1} more problem${n.problems.length === 2 ? '' : 's'})` : '';
    out.push(`      <error message="${xmlText(`${first}${count}`)}" type="ScenarioLoadError">${xmlText(n.problems.join('\n'))}</error>`);
    out.push('    </testcase>');
  }
  out.push('  </testsuite>', '</testsuites>', '');
  return out.join('\n');
}

/** Which scenarios' timelines a JSON report carries. */
export type JsonTimeline = 'all' | 'failed' | 'none';
export const JSON_TIMELINE_CHOICES: readonly JsonTimeline[] = ['all', 'failed', 'none'];

/**
 * JSON report: everything, the timeline included (what a dashboard or a diff tool wants).
 * Timeline events are written one per line: a scale scenario's hundreds of thousands of events
 * stay diffable line by line at ~60 % of the size of indented JSON (61 vs 104 MB for scale-week-server-down). `timeline: 'failed'`
 * or `'none'` leaves passing (or all) scenarios' events out and says how many were left out.
 */
export function toJsonReport(results: ScenarioResult[], opts: { timeline?: JsonTimeline; notLoaded?: readonly NotLoaded[] } = {}): string {
  const keep = opts.timeline ?? 'all';
  const events: string[] = [];
  // A NUL and a random nonce: no string a scenario carries can be mistaken for the placeholder.
  const nonce = randomUUID();
  const shaped = results.map((r) => {
    const included = keep === 'all' || (keep === 'failed' && !r.passed);
    // A placeholder string is swapped for the one-event-per-line array after stringify.
    const marker = `\u0000timeline:${nonce}:${events.length}`;
    events.push(included ? eventLines(r.timeline) : '[]');
    return { ...r, timeline: marker, ...(included ? {} : { timelineLeftOut: r.timeline.length }) };
  });
  // A file that did not load is a run that did not pass (exit 2), and says so with its problems.
  const notLoaded = opts.notLoaded ?? [];
  const text = JSON.stringify({ passed: results.every((r) => r.passed) && notLoaded.length === 0, results: shaped, ...(notLoaded.length ? { notLoaded } : {}) }, null, 2);
  // In the JSON text the NUL is the six characters \u0000; a UUID needs no regex escaping.
  const placeholder = new RegExp(`"\\\\u0000timeline:${nonce}:(\\d+)"`, 'g');
  return `${text.replace(placeholder, (_m, i: string) => events[Number(i)]!)}\n`;
}

function eventLines(timeline: readonly TimelineEvent[]): string {
  if (timeline.length === 0) return '[]';
  return `[\n${timeline.map((e) => `        ${JSON.stringify(e)}`).join(',\n')}\n      ]`;
}
