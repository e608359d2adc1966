/**
 * One writer per data directory. A running fleet (`amtemu serve --data-dir D`) holds every
 * device's image in memory and writes it back on each firmware change, so an offline edit of
 * D (`amtemu nvram set …`) while it runs would be overwritten moments later and silently lost.
 * The fleet therefore holds `D/amtemu-serve.lock` (its pid, as JSON) while it runs; the offline
 * commands that write refuse while a live process holds it. A lock left by a process that is
 * gone (kill -9, power loss) is stale and taken over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AmtError } from '../common/errors.js';

export const LOCK_FILE = 'amtemu-serve.lock';

export interface LockHolder {
  pid: number;
  /** ISO time the holder started, for the message. */
  since?: string;
}

export interface DataDirLock {
  readonly file: string;
  /** Remove the lock file if it is still ours (idempotent). */
  release(): void;
}

/** How a live holder is named in messages: the pid, so the user can find it. */
function inUse(dataDir: string, h: LockHolder): string {
  return `${dataDir} is in use by amtemu serve (pid ${h.pid}${h.since ? `, since ${h.since}` : ''})`;
}

/** Lock files this process holds (resolved paths). */
const heldHere = new Set<string>();

/**
 * Whether the holder named in `file` is a live process. Our own pid counts only for a lock this
 * process took: in a container a restarted serve often gets the same pid (1, 7…) as the one that
 * was killed, and must not mistake that dead predecessor's lock for its own live one.
 */
function holderAlive(file: string, pid: number): boolean {
  if (pid === process.pid) return heldHere.has(path.resolve(file));
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else; it is alive.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): LockHolder | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AmtError('NVRAM_IO', `${file}: cannot read: ${(e as Error).message}`, { file });
  }
  try {
    const v = JSON.parse(text) as { pid?: unknown; since?: unknown };
    if (typeof v.pid === 'number' && Number.isInteger(v.pid) && v.pid > 0) {
      return { pid: v.pid, ...(typeof v.since === 'string' ? { since: v.since } : {}) };
    }
  } catch {
    /* not ours or cut short: no holder */
  }
  // Content that names no process cannot belong to a live holder (the lock is created with its
  // content in one step, below), so it is stale.
  return { pid: 0 };
}

/** The live process holding `dataDir`, or undefined when the directory is free (or the lock stale). */
export function dataDirHolder(dataDir: string): LockHolder | undefined {
  const h = readHolder(path.join(dataDir, LOCK_FILE));
  return h && h.pid > 0 && holderAlive(path.join(dataDir, LOCK_FILE), h.pid) ? h : undefined;
}

/**
 * For the offline commands that write NVRAM: refuse with one coded line while a fleet runs on
 * the directory (its next write would undo ours). Reads need no check: the store's files are
 * replaced atomically, so a reader always sees a whole image.
 */
export function refuseWhileServed(dataDir: string, api = 'PATCH /api/devices/:id/nvram'): void {
  const h = dataDirHolder(dataDir);
  if (!h) return;
  throw new AmtError('NVRAM_LOCKED', `${inUse(dataDir, h)}; change it through the control API: ${api}`, {
    dataDir,
    pid: h.pid,
  });
}

/**
 * Take the lock for a fleet. The file is written under a temp name and hard-linked into place,
 * so it appears with its content or not at all (link fails with EEXIST when another process
 * holds it). A stale lock is removed and the link tried again (bounded).
 */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  const file = path.join(dataDir, LOCK_FILE);
  try {
    fs.mkdirSync(dataDir, { recursive: true });
  } catch (e) {
    throw new AmtError('NVRAM_IO', `${dataDir}: cannot create directory: ${(e as Error).message}`, { dataDir });
  }
  const temp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(temp, JSON.stringify({ pid: process.pid, since: new Date().toISOString() }) + '\n');
  } catch (e) {
    throw new AmtError('NVRAM_IO', `${file}: cannot write: ${(e as Error).message}`, { file });
  }
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.linkSync(temp, file);
        return lockHandle(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new AmtError('NVRAM_IO', `${file}: cannot create: ${(e as Error).message}`, { file });
      }
      const h = readHolder(file);
      if (h && h.pid > 0 && holderAlive(file, h.pid)) {
        throw new AmtError('NVRAM_LOCKED', `${inUse(dataDir, h)}; stop it first or give another --data-dir`, { dataDir, pid: h.pid });
      }
      // Stale: its process is gone. Remove it and try again.
      fs.rmSync(file, { force: true });
    }
    throw new AmtError('NVRAM_LOCKED', `${file}: could not take the lock (another process keeps taking it)`, { dataDir });
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

function lockHandle(file: string): DataDirLock {
  let held = true;
  heldHere.add(path.resolve(file));
  const release = (): void => {
    if (!held) return;
    held = false;
    heldHere.delete(path.resolve(file));
    process.off('exit', release);
    // Only our own lock: never remove one a later process took over.
    try {
      if (readHolder(file)?.pid === process.pid) fs.rmSync(file, { force: true });
    } catch {
      /* best effort: a lock left behind is stale once this process is gone */
    }
  };
  // An exit without a clean stop (an error after start) still removes it.
  process.on('exit', release);
  return { file, release };
}
