/**
 * Debian's amtterm (1.4: StartRedirectionSession → plain auth type 1 → StartSOL, kraxel/amtterm
 * redir.c) against the emulated device on a real loopback socket. The test writes to the
 * device's serial console and reads it on amtterm's stdout; it types into amtterm's stdin and
 * reads it from the console. Only the amtterm child this test spawned is stopped, by its pid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5hex } from '../../src/device/redirection/auth.js';
import { solConsoleFor } from '../../src/device/redirection/sol-console.js';
import { makeDevice } from '../helpers/device-fixture.js';
import { startAmttermRig, type AmttermRig } from '../helpers/amtterm-rig.js';
import { until } from '../helpers/until.js';

const PASS = 'Amt#Term1';
const ADDR = `127.${100 + (process.pid % 100)}.${((process.pid >> 8) % 250) + 1}.31`;

const f = makeDevice({
  deviceId: 'amtterm-pc',
  profile: 'amt11',
  image: (img) => {
    img.provisioning.state = 'Post';
    img.provisioning.controlMode = 'ACM';
    img.adminAcl = { username: 'admin', digestHash: md5hex(`admin:${img.digestRealm}:${PASS}`) };
  },
});
f.device.powerOn();
const con = solConsoleFor(f.device);
let rig: AmttermRig;

beforeAll(async () => {
  rig = await startAmttermRig(f.device, ADDR);
});
afterAll(async () => {
  await rig?.stop();
});

describe('amtterm (Debian) talks SOL to the emulated device', () => {
  it('authenticates with plain auth, shows device output, and sends keystrokes', async () => {
    const { child, io } = rig.run(PASS);
    await until(() => io.err.includes('serial-over-lan redirection ok') || io.exited, 'amtterm SOL start');
    expect(io.err).toContain('serial-over-lan redirection ok');
    expect(f.timeline.query({ type: 'redirection.auth' }).at(-1)?.data).toMatchObject({ ok: true, authType: 1, user: 'admin' });

    // amtterm takes its whole read as the 0x21 reply; the device holds output for the settle time.
    await f.clock.advance(250);
    con.write('hello from amt\r\n');
    await until(() => io.out.includes('hello from amt'), 'device output on amtterm stdout');

    child.stdin.write('typed in amtterm\n');
    // amtterm turns LF into CR "to meet BIOS expectations" (amtterm.c).
    await until(() => con.peek().includes('typed in amtterm\r'), 'keystrokes at the console');
    expect(con.read()).toBe('typed in amtterm\r');

    process.kill(child.pid!, 'SIGTERM');
    await until(() => io.exited, 'amtterm exit');
    await until(() => f.timeline.count({ type: 'redirection.closed' }) >= 1, 'session close');
    expect(con.attached).toBe(false);
  });

  it('reports a wrong password as a failed authentication and exits', async () => {
    const { io } = rig.run('not-the-password');
    await until(() => io.exited, 'amtterm exit');
    expect(io.err).toContain('session authentication failed');
    expect(f.timeline.query({ type: 'redirection.auth', code: 'REDIRECTION_AUTH_FAILED' }).length).toBeGreaterThanOrEqual(1);
  });
});
