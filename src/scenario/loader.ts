/**
 * Reads a scenario file: YAML syntax, then the JSON Schema (schemas/scenario.schema.json), then
 * the semantic checks. Every problem is reported as `file:line:column: message` — the position
 * of the offending key or value, found by walking the YAML document's source ranges along the
 * JSON path ajv reports. No stack traces: a QA engineer sees where and what, nothing else.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { AmtError } from '../common/errors.js';
import { describeAjvErrors as describeSchemaErrors, FileLoadError, formatFileProblem, parseYamlWithPositions, showPath as showPathFrom, type ParsedYaml } from '../common/yaml-location.js';
import { baseDirOf, checkStepFiles } from './files.js';
import { checkSemantics, type JsonPath } from './semantics.js';
import type { LoadedScenario, Scenario, SourcePos } from './types.js';

export interface ScenarioProblem {
  file: string;
  line: number;
  column: number;
  message: string;
}

export function formatProblem(p: ScenarioProblem): string {
  return formatFileProblem(p);
}

/** A scenario that cannot run. `message` is the first problem as file:line:column: …; `problems` has all. */
export class ScenarioLoadError extends AmtError {
  constructor(readonly problems: ScenarioProblem[]) {
    super('BAD_INPUT', problems.map(formatProblem).join('\n'), { problems });
    this.name = 'ScenarioLoadError';
  }
}

let validator: ReturnType<Ajv['compile']> | undefined;

export function scenarioSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL('../../schemas/scenario.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
}

function validate(): ReturnType<Ajv['compile']> {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
    validator = ajv.compile(scenarioSchema());
  }
  return validator;
}

/** Load and check a scenario file. Throws ScenarioLoadError (code BAD_INPUT). */
export function loadScenarioFile(file: string): LoadedScenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : ((e as Error).message ?? String(e));
    throw new ScenarioLoadError([{ file, line: 1, column: 1, message: `cannot read scenario: ${why}` }]);
  }
  return loadScenarioText(text, file);
}

export function loadScenarioText(text: string, file = '<inline>'): LoadedScenario {
  let parsed: ParsedYaml;
  try {
    // YAML syntax, duplicate keys, alias bombs: the shared parser locates them (src/common).
    parsed = parseYamlWithPositions(text, file);
  } catch (e) {
    if (e instanceof FileLoadError) throw new ScenarioLoadError(e.problems);
    throw e;
  }
  return checkScenario(parsed.data, file, parsed.locate);
}

/** Check an object (the API's runScenario({...})); positions are 1:1 since there is no file. */
export function loadScenarioObject(data: unknown, file = '<inline>'): LoadedScenario {
  return checkScenario(data, file, () => ({ line: 1, column: 1 }));
}

function checkScenario(data: unknown, file: string, locate: (path: JsonPath, atKey?: boolean) => SourcePos): LoadedScenario {
  if (data === null || data === undefined) throw new ScenarioLoadError([{ file, line: 1, column: 1, message: 'the scenario is empty (it needs name and steps)' }]);
  const v = validate();
  if (!v(data)) {
    const problems = describeAjvErrors(v.errors ?? [])
      .map((p) => ({ file, ...locate(p.path, p.atKey), message: p.message }))
      .sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ScenarioLoadError(problems);
  }
  const scenario = data as Scenario;
  const baseDir = baseDirOf(file);
  const semantic = checkSemantics(scenario);
  // Files are looked at only once the scenario is otherwise sound: a typo elsewhere is the first thing to fix.
  if (semantic.length === 0) semantic.push(...checkStepFiles(scenario, baseDir));
  if (semantic.length > 0) {
    throw new ScenarioLoadError(semantic.map((p) => ({ file, ...locate(p.path, p.atKey), message: p.message })));
  }
  const stepPos = scenario.steps.map((_, i) => locate(['steps', i]));
  return { file, scenario, stepPos, baseDir };
}

interface AjvProblem {
  path: JsonPath;
  message: string;
  atKey?: boolean;
}

/** Paths in scenario messages start from "the scenario". */
function showPath(path: JsonPath): string {
  return showPathFrom(path, 'the scenario');
}

/** ajv's errors in scenario words (the shared wording of src/common/yaml-location.ts, rooted at "the scenario"). */
export function describeAjvErrors(errors: ErrorObject[]): AjvProblem[] {
  return describeSchemaErrors(errors, 'the scenario');
}
