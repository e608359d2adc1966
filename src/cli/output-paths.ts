/**
 * Report destinations (`run --junit/--json/--mermaid`, `demo --out`) are checked before any
 * work starts: a typo in a CI path used to cost the whole run and then end in a bare
 * `amtemu: ENOENT …` with no code. Each problem is one BAD_INPUT line naming the flag.
 */
import { accessSync, closeSync, constants, mkdirSync, openSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AmtError } from '../common/errors.js';

function statOrUndefined(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EROFS') return 'read-only file system';
  if (code === 'ENOTDIR') return 'a part of the path is a file, not a directory';
  return code ?? (e as Error).message;
}

function bad(flag: string, path: string, problem: string): AmtError {
  return new AmtError('BAD_INPUT', `${flag} ${path}: ${problem}`, { flag, path });
}

/** The nearest existing ancestor of `abs` when it is a file (`/etc/passwd` for `/etc/passwd/x/y`). */
function fileInTheWay(abs: string): string | undefined {
  let up = abs;
  for (let i = 0; i < 256 && !statOrUndefined(up) && dirname(up) !== up; i++) up = dirname(up);
  const st = statOrUndefined(up);
  return st && !st.isDirectory() ? up : undefined;
}

/** A report file: its directory must exist and be writable; the file, if there, must be a writable file. */
export function checkReportFile(flag: string, path: string): void {
  const abs = resolve(path);
  const st = statOrUndefined(abs);
  if (st?.isDirectory()) throw bad(flag, path, 'is a directory (give a file name)');
  const parent = dirname(abs);
  const pst = statOrUndefined(parent);
  if (!pst) {
    // Say which part is wrong: a file standing where a directory should be, or a missing directory.
    const file = fileInTheWay(parent);
    throw bad(flag, path, file ? `${file} is not a directory` : `directory ${parent} does not exist`);
  }
  if (!pst.isDirectory()) throw bad(flag, path, `${parent} is not a directory`);
  // Open it for appending, as the real write will (access(2) says yes to root on /proc and the
  // like); a file that was not there is removed again so a failed run leaves no empty report.
  try {
    closeSync(openSync(abs, 'a'));
    if (!st) unlinkSync(abs);
  } catch (e) {
    throw bad(flag, path, `cannot write there (${why(e)})`);
  }
}

/** A report directory: created now (it would be anyway), and must be writable. */
export function prepareReportDir(flag: string, path: string): void {
  const abs = resolve(path);
  const st = statOrUndefined(abs);
  if (st && !st.isDirectory()) throw bad(flag, path, 'is a file, not a directory');
  const file = st ? undefined : fileInTheWay(abs);
  if (file) throw bad(flag, path, `${file} is not a directory`);
  try {
    mkdirSync(abs, { recursive: true });
    accessSync(abs, constants.W_OK);
  } catch (e) {
    throw bad(flag, path, `cannot create or write the directory (${why(e)})`);
  }
}

/** Write a report checked before the run; a late failure (disk full) is still one coded line. */
export function writeReport(flag: string, path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw bad(flag, path, `cannot write (${why(e)})`);
  }
}
