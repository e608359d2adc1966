/**
 * Files a scenario step names (a USB key's setup.bin). Paths are relative to the scenario file,
 * so a library of scenarios and their fixtures can move together; a scenario given as an object
 * resolves against the working directory. The loader checks each file exists and is a small
 * regular file, so a wrong path is reported as file:line:column before anything runs.
 */
import { statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { JsonPath, SemanticProblem } from './semantics.js';
import type { Scenario } from './types.js';

/** Largest setup.bin a step reads: 2047 records of 512 bytes, far more than any USB key holds. */
export const MAX_SETUP_BIN_BYTES = 1024 * 1024;

export function baseDirOf(file: string): string {
  return file === '<inline>' ? process.cwd() : dirname(resolve(file));
}

export function resolveStepFile(baseDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

/** The file a usbSetup step names and where it is written in the step. */
export function usbSetupFile(spec: NonNullable<Scenario['steps'][number]['usbSetup']>): { file: string; at: JsonPath } {
  return typeof spec === 'string' ? { file: spec, at: [] } : { file: spec.file, at: ['file'] };
}

export function checkStepFiles(s: Scenario, baseDir: string): SemanticProblem[] {
  const out: SemanticProblem[] = [];
  s.steps.forEach((step, i) => {
    if (step.usbSetup === undefined) return;
    const { file, at } = usbSetupFile(step.usbSetup);
    const path: JsonPath = ['steps', i, 'usbSetup', ...at];
    const full = resolveStepFile(baseDir, file);
    let why: string | undefined;
    try {
      const st = statSync(full);
      if (!st.isFile()) why = 'is not a regular file';
      else if (st.size > MAX_SETUP_BIN_BYTES) why = `is ${st.size} bytes; a setup.bin is at most ${MAX_SETUP_BIN_BYTES}`;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be read (${code ?? (e as Error).message})`;
    }
    if (why) out.push({ path, message: `setup.bin "${file}" ${why} (looked for ${full}; paths are relative to the scenario file)` });
  });
  return out;
}
