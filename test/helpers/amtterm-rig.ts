/**
 * Debian's amtterm against one emulated device on a real loopback socket: a plain (16994-style)
 * redirection listener on a free port routing `address` to the device, and amtterm children the
 * test starts. `stop()` ends only the children this rig spawned, by pid, then the listener.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { AmtDevice } from '../../src/device/device.js';
import { RedirectionListener } from '../../src/network/redirection-listener.js';

export interface AmttermRun {
  child: ChildProcessWithoutNullStreams;
  /** amtterm's stdout (the device's serial output), stderr (its status lines), and whether it exited. */
  io: { out: string; err: string; exited: boolean };
}

export interface AmttermRig {
  run(password: string): AmttermRun;
  stop(): Promise<void>;
}

export async function startAmttermRig(device: AmtDevice, address: string): Promise<AmttermRig> {
  const listener = new RedirectionListener({ plainPort: 0, tlsPort: null, deviceAt: (a) => (a === address ? device : undefined) });
  const port = (await listener.start()).plain;
  const children: ChildProcessWithoutNullStreams[] = [];
  return {
    run(password) {
      const child = spawn('amtterm', ['-u', 'admin', '-p', password, address, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(child);
      const io = { out: '', err: '', exited: false };
      child.stdout.on('data', (d: Buffer) => (io.out += d.toString('latin1')));
      child.stderr.on('data', (d: Buffer) => (io.err += d.toString('latin1')));
      child.on('exit', () => (io.exited = true));
      return { child, io };
    },
    async stop() {
      for (const c of children) {
        if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGTERM');
      }
      await listener.stop();
    },
  };
}
