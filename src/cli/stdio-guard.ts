/**
 * `amtemu serve | grep -m1 configured`, `amtemu run scenarios/ | head -1`: when the reader of
 * stdout (or stderr) goes away, the next write fails with EPIPE and node emits an 'error' event
 * on the stream; without a listener that is an uncaught exception (stack trace, exit 1: `run`
 * would read as "a scenario failed" and `serve` would take the fleet down with it).
 *
 * An EPIPE only means nobody is listening any more: from then on that stream's writes are
 * dropped and the command keeps working (serve keeps serving, run still returns its verdict as
 * the exit code). Any other stream error (EIO, ENOSPC on a redirected file, …) is still an
 * error: one line on whichever stream is still usable, exit 1.
 */
import type { Writable } from 'node:stream';

export interface GuardedStream {
  /** The stream to guard (process.stdout, process.stderr). */
  stream: Writable;
  /** Name used in the one-line error ("stdout"). */
  name: string;
}

export interface StdioGuardOptions {
  /** A non-EPIPE stream error: report it (one line) and end the process. */
  onFatal: (line: string) => void;
}

/** True once the reader of this stream has gone (EPIPE); its writes are dropped from then on. */
const gone = new WeakSet<Writable>();
const guarded = new WeakSet<Writable>();

export function readerGone(stream: Writable): boolean {
  return gone.has(stream);
}

/**
 * Install the guard. Idempotent per stream. Writes after an EPIPE are swallowed before they
 * reach the (destroyed) stream, so no ERR_STREAM_DESTROYED follows either; the write callback,
 * if any, still runs so a caller waiting on it is not left hanging.
 */
export function guardStdio(streams: GuardedStream[], opts: StdioGuardOptions): void {
  for (const { stream, name } of streams) {
    if (guarded.has(stream)) continue;
    guarded.add(stream);
    const write = stream.write.bind(stream);
    stream.write = ((chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
      if (gone.has(stream)) {
        const done = typeof encoding === 'function' ? encoding : cb;
        if (typeof done === 'function') process.nextTick(done as () => void);
        return true;
      }
      return (write as (c: unknown, e?: unknown, f?: unknown) => boolean)(chunk, encoding, cb);
    }) as Writable['write'];
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') {
        gone.add(stream);
        return;
      }
      if (gone.has(stream)) return;
      // Stop writing to the broken stream before reporting, so the report cannot loop back here.
      gone.add(stream);
      const code = e.code && !e.message.includes(e.code) ? ` (${e.code})` : '';
      opts.onFatal(`cannot write to ${name}: ${e.message}${code}`);
    });
  }
}
