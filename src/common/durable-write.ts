/**
 * Write a file so that a reader after a crash sees the old content or the new, never half of
 * either (DESIGN "Crash-safe NVRAM"): a temp file in the same directory, fsync, rename over the
 * target (atomic on POSIX). The temp file is removed when anything fails and the error is thrown
 * as node gave it, for the caller to name in its own words. Syncing the directory afterwards is
 * the caller's choice (the NVRAM store does it once per save).
 */
import fs from 'node:fs';

export function writeFileDurably(file: string, text: string, temp: string, mode = 0o600): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(temp, 'w', mode);
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, file);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw e;
  }
}
