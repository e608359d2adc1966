import { describe, expect, it } from 'vitest';
import { ScaledClock } from '../../src/clock/real-clock.js';
import { VirtualClock } from '../../src/clock/virtual-clock.js';

describe('VirtualClock', () => {
  it('fires timers in deadline order, and equal deadlines in the order they were set', async () => {
    const c = new VirtualClock();
    const fired: string[] = [];
    c.setTimer(300, () => fired.push('c'));
    c.setTimer(100, () => fired.push('a1'));
    c.setTimer(100, () => fired.push('a2'));
    c.setTimer(200, () => fired.push('b'));
    c.setTimer(100, () => fired.push('a3'));
    await c.advance(1000);
    expect(fired).toEqual(['a1', 'a2', 'a3', 'b', 'c']);
    expect(c.now()).toBe(1000);
  });

  it('sets now() to each timer deadline while it runs, and timers set inside timers are ordered too', async () => {
    const c = new VirtualClock();
    const seen: number[] = [];
    c.setTimer(50, () => {
      seen.push(c.now());
      c.setTimer(25, () => seen.push(c.now()));
      c.setTimer(0, () => seen.push(c.now()));
    });
    await c.advance(60);
    expect(seen).toEqual([50, 50]);
    await c.advance(40);
    expect(seen).toEqual([50, 50, 75]);
  });

  it('does not fire timers beyond the advance, and fires them on the next advance', async () => {
    const c = new VirtualClock();
    let n = 0;
    c.setTimer(24 * 3600_000, () => n++);
    await c.advance(24 * 3600_000 - 1);
    expect(n).toBe(0);
    await c.advance(1);
    expect(n).toBe(1);
  });

  it('cancels timers, including ones already due but not yet fired, and cancel is idempotent', async () => {
    const c = new VirtualClock();
    const fired: number[] = [];
    const a = c.setTimer(10, () => fired.push(1));
    const b = c.setTimer(10, () => fired.push(2));
    c.setTimer(10, () => c.cancel(b));
    c.cancel(a);
    c.cancel(a);
    expect(c.pendingTimers).toBe(2);
    await c.advance(10);
    // b was set before the canceller, so it had already fired when the canceller ran.
    expect(fired).toEqual([2]);
    expect(c.pendingTimers).toBe(0);
  });

  it('runUntil a predicate stops at the first timer that makes it true', async () => {
    const c = new VirtualClock();
    let count = 0;
    const tick = (): void => {
      count++;
      c.setTimer(1000, tick);
    };
    c.setTimer(1000, tick);
    const met = await c.runUntil(() => count === 5);
    expect(met).toBe(true);
    expect(c.now()).toBe(5000);
    const never = await c.runUntil(() => count === -1, 10_000);
    expect(never).toBe(false);
    expect(c.now()).toBe(15_000);
  });

  it('waits for tracked I/O before firing the next timer', async () => {
    const c = new VirtualClock();
    const order: string[] = [];
    c.setTimer(10, () => {
      void c.track(new Promise<void>((r) => setTimeout(() => { order.push('io done'); r(); }, 20)));
    });
    c.setTimer(11, () => order.push('next timer'));
    await c.advance(100);
    expect(order).toEqual(['io done', 'next timer']);
  });

  it('moves on when tracked work is itself waiting for a later virtual timer', async () => {
    const c = new VirtualClock();
    const order: string[] = [];
    c.setTimer(10, () => {
      // A session whose reply the device delays by a virtual timer: it can only end when time moves.
      void c.track(new Promise<void>((r) => c.setTimer(100, () => { order.push('delayed reply'); r(); })));
    });
    c.setTimer(50, () => order.push('timer at 50'));
    await c.advance(200);
    expect(order).toEqual(['timer at 50', 'delayed reply']);
  });

  it('rejects negative or non-finite delays', () => {
    const c = new VirtualClock();
    expect(() => c.setTimer(-1, () => {})).toThrow(/≥ 0/);
    expect(() => c.setTimer(Number.NaN, () => {})).toThrow(/finite/);
    return expect(c.advance(-5)).rejects.toThrow(/finite/);
  });

  it('maps virtual time to a wall-clock date from its epoch', async () => {
    const c = new VirtualClock({ epoch: Date.UTC(2026, 0, 1) });
    await c.advance(3600_000);
    expect(c.date().toISOString()).toBe('2026-01-01T01:00:00.000Z');
  });
});

describe('ScaledClock', () => {
  it('runs virtual time F times faster than real time (ordering only, no timing assertions)', async () => {
    const c = new ScaledClock(3600 * 1000);
    const fired: string[] = [];
    await new Promise<void>((resolve) => {
      c.setTimer(2 * 3600_000, () => { fired.push('2h'); resolve(); });
      c.setTimer(3600_000, () => fired.push('1h'));
    });
    expect(fired).toEqual(['1h', '2h']);
    expect(c.now()).toBeGreaterThanOrEqual(2 * 3600_000);
  });

  it('refuses a scale that is not a positive number', () => {
    expect(() => new ScaledClock(0)).toThrow(/> 0/);
  });
});
