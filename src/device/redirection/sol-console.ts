/**
 * The managed PC's virtual serial port as the ME sees it. Whatever the "host" writes (a test, a
 * scenario, the API) goes to the attached SOL console as 0x2A frames and into a bounded
 * scrollback; whatever the console types (0x28 frames) is kept in a bounded input buffer for the
 * host to read. One console per device, found through `solConsoleFor`.
 */

export interface SolSink {
  /** Deliver host serial output to the redirection session. */
  deliver(data: Buffer): void;
}

export type SolInputListener = (data: Buffer) => void;

export interface SolConsoleOptions {
  /** Bytes of host output kept for late joiners and the API. */
  scrollbackBytes?: number;
  /** Bytes of console input kept until the host reads them. */
  inputBytes?: number;
}

export class SolConsole {
  private scroll: Buffer = Buffer.alloc(0);
  private input: Buffer = Buffer.alloc(0);
  private totalTyped = 0;
  private sink: SolSink | undefined;
  private readonly listeners = new Set<SolInputListener>();
  private readonly scrollbackBytes: number;
  private readonly inputBytes: number;

  constructor(opts: SolConsoleOptions = {}) {
    this.scrollbackBytes = opts.scrollbackBytes ?? 64 * 1024;
    this.inputBytes = opts.inputBytes ?? 64 * 1024;
  }

  /** The PC writes to its serial port: the attached console receives it. */
  write(data: string | Buffer): void {
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    if (b.length === 0) return;
    this.scroll = keepTail(Buffer.concat([this.scroll, b]), this.scrollbackBytes);
    this.sink?.deliver(b);
  }

  /** Host output so far (the last `scrollbackBytes`). */
  scrollback(): string {
    return this.scroll.toString('utf8');
  }

  /** Read and remove what the console has typed (oldest bytes are dropped past the bound). */
  read(): string {
    const s = this.input.toString('latin1');
    this.input = Buffer.alloc(0);
    return s;
  }

  /** What is waiting to be read, without consuming it. */
  peek(): string {
    return this.input.toString('latin1');
  }

  /** Total bytes ever typed by consoles (not bounded; for counters and tests). */
  get typedBytes(): number {
    return this.totalTyped;
  }

  onInput(l: SolInputListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get attached(): boolean {
    return this.sink !== undefined;
  }

  // ---- used by the redirection session ----

  /** Only one SOL console at a time, as on the firmware. */
  attach(sink: SolSink): boolean {
    if (this.sink) return false;
    this.sink = sink;
    return true;
  }

  detach(sink: SolSink): void {
    if (this.sink === sink) this.sink = undefined;
  }

  /** Keystrokes from the console (0x28 payload). */
  typed(data: Buffer): void {
    if (data.length === 0) return;
    this.totalTyped += data.length;
    this.input = keepTail(Buffer.concat([this.input, data]), this.inputBytes);
    for (const l of this.listeners) {
      try {
        l(data);
      } catch {
        // A broken listener must not break the session.
      }
    }
  }
}

function keepTail(b: Buffer, max: number): Buffer {
  return b.length > max ? Buffer.from(b.subarray(b.length - max)) : b;
}

const consoles = new WeakMap<object, SolConsole>();

/** The serial console of a device (created on first use, lives as long as the device object). */
export function solConsoleFor(device: object): SolConsole {
  let c = consoles.get(device);
  if (!c) {
    c = new SolConsole();
    consoles.set(device, c);
  }
  return c;
}
