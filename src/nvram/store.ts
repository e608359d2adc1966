import { writeFileDurably } from '../common/durable-write.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AmtError } from '../common/errors.js';
import type { NvramImage } from './image.js';
import { DEVICE_ID_PATTERN, parseImage, validateNvramImage } from './schema.js';

/**
 * One JSON file per device: `<dataDir>/<deviceId>.nvram.json`.
 *
 * Crash safety (DESIGN "Crash-safe NVRAM"): a save writes a temp file in the same directory,
 * fsyncs it, renames it over the target (atomic on POSIX), then fsyncs the directory so the
 * rename itself survives power loss. A reader therefore sees the old image or the new one,
 * never a mix. A damaged file is reported (NVRAM_CORRUPT / NVRAM_INVALID naming the file);
 * it is never replaced by defaults.
 *
 * Synchronous fs on purpose: images are a few KB, and a save that cannot interleave with other
 * work in the same process keeps the crash semantics simple to reason about.
 */

const SUFFIX = '.nvram.json';
const TEMP_MARK = '.tmp-';

export function checkDeviceId(id: string): string {
  if (typeof id !== 'string' || !DEVICE_ID_PATTERN.test(id)) {
    throw new AmtError('BAD_INPUT', `invalid device id '${String(id)}' (1-64 of A-Z a-z 0-9 . _ -, not '.' or '..')`, { deviceId: id });
  }
  return id;
}

function ioError(op: string, file: string, e: unknown): AmtError {
  const err = e as NodeJS.ErrnoException;
  return new AmtError('NVRAM_IO', `${file}: cannot ${op}: ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' '), { file, errno: err.code });
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class NvramStore {
  private tempCounter = 0;

  constructor(readonly dataDir: string) {}

  path(deviceId: string): string {
    return path.join(this.dataDir, checkDeviceId(deviceId) + SUFFIX);
  }

  exists(deviceId: string): boolean {
    return fs.existsSync(this.path(deviceId));
  }

  /** Reads and validates an image. Missing → NVRAM_NOT_FOUND; damaged → NVRAM_CORRUPT/NVRAM_INVALID. */
  load(deviceId: string): NvramImage {
    const file = this.path(deviceId);
    this.removeStaleTemps(deviceId);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new AmtError('NVRAM_NOT_FOUND', `${file}: no NVRAM image for device '${deviceId}' (create one with 'amtemu nvram init ${deviceId}')`, {
          file,
          deviceId,
        });
      }
      throw ioError('read', file, e);
    }
    const image = parseImage(text, file);
    if (image.deviceId !== deviceId) {
      throw new AmtError('NVRAM_INVALID', `${file}: field /deviceId is '${image.deviceId}' but the file belongs to '${deviceId}'`, {
        file,
        pointer: '/deviceId',
      });
    }
    return image;
  }

  /**
   * Persists an image crash-safely and returns what was written: the same image with
   * `generation` bumped by one. The image is validated first, so a bug elsewhere can never
   * persist something the next load would refuse.
   */
  save(image: NvramImage): NvramImage {
    const file = this.path(image.deviceId);
    const next: NvramImage = { ...image, generation: image.generation + 1 };
    validateNvramImage(next, file);
    const text = JSON.stringify(next, null, 2) + '\n';
    try {
      fs.mkdirSync(this.dataDir, { recursive: true });
    } catch (e) {
      throw ioError('create directory', this.dataDir, e);
    }
    try {
      writeFileDurably(file, text, `${file}${TEMP_MARK}${process.pid}-${++this.tempCounter}`);
    } catch (e) {
      throw ioError('write', file, e);
    }
    this.fsyncDir();
    return next;
  }

  /** Device ids with an image in the data directory (temp files and other files ignored), sorted. */
  list(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dataDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw ioError('list', this.dataDir, e);
    }
    return names
      .filter((n) => n.endsWith(SUFFIX))
      .map((n) => n.slice(0, -SUFFIX.length))
      .filter((id) => DEVICE_ID_PATTERN.test(id))
      .sort();
  }

  /** Deletes a device's image; NVRAM_NOT_FOUND when there is none. */
  remove(deviceId: string): void {
    const file = this.path(deviceId);
    try {
      fs.unlinkSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new AmtError('NVRAM_NOT_FOUND', `${file}: no NVRAM image for device '${deviceId}'`, { file, deviceId });
      }
      throw ioError('remove', file, e);
    }
    this.removeStaleTemps(deviceId);
    this.fsyncDir();
  }

  /**
   * A writer killed between open and rename leaves `<id>.nvram.json.tmp-<pid>-<n>`. Those of
   * dead processes are deleted; a live writer's temp file (another process saving right now)
   * is left alone. Failure to clean is not an error: the temp file is never read.
   */
  private removeStaleTemps(deviceId: string): void {
    const prefix = deviceId + SUFFIX + TEMP_MARK;
    let names: string[];
    try {
      names = fs.readdirSync(this.dataDir);
    } catch {
      return;
    }
    for (const n of names) {
      if (!n.startsWith(prefix)) continue;
      const pid = Number.parseInt(n.slice(prefix.length), 10);
      if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) continue;
      try {
        fs.rmSync(path.join(this.dataDir, n), { force: true });
      } catch {
        /* best effort */
      }
    }
  }

  private fsyncDir(): void {
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.dataDir, 'r');
      fs.fsyncSync(fd);
    } catch (e) {
      // Some filesystems refuse fsync on a directory (EINVAL/EISDIR); the rename is still atomic.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw ioError('sync directory', this.dataDir, e);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}
