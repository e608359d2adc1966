import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import { Timeline } from '../../src/common/timeline.js';
import { FaultRules } from '../../src/scenario/faults.js';

const admin = 'http://intel.com/wbem/wscim/1/ips-schema/1/IPS_HostBasedSetupService/AdminSetup';

describe('FaultRules', () => {
  it('firstN: AdminSetup fails once, then calls go through; recorded on the timeline', () => {
    const tl = new Timeline(new VirtualClock());
    const f = new FaultRules({ timeline: tl });
    f.add({ action: 'AdminSetup', effect: { kind: 'fail' }, firstN: 1, name: 'admin-once' });
    expect(f.decide({ deviceId: 'pc1', port: 16992, action: admin })).toEqual({ kind: 'fail' });
    expect(f.decide({ deviceId: 'pc1', port: 16992, action: admin })).toBeUndefined();
    expect(tl.query({ type: 'fault.' })).toHaveLength(1);
    expect(tl.query({ type: 'fault.fail' })[0]!.data).toMatchObject({ rule: 'admin-once', port: 16992, action: 'AdminSetup' });
  });

  it('matches on device, port and action; others pass untouched', () => {
    const f = new FaultRules();
    f.add({ deviceId: 'pc2', port: 16993, effect: { kind: 'reset' } });
    expect(f.decide({ deviceId: 'pc1', port: 16993 })).toBeUndefined();
    expect(f.decide({ deviceId: 'pc2', port: 16992 })).toBeUndefined();
    expect(f.decide({ deviceId: 'pc2', port: 16993, action: admin })).toEqual({ kind: 'reset' });
  });

  it('probability is seeded: same seed, same choices; roughly the asked rate', () => {
    const run = (): boolean[] => {
      const f = new FaultRules({ seed: 's' });
      f.add({ effect: { kind: 'drop' }, probability: 0.3 });
      return Array.from({ length: 1000 }, () => f.decide({ deviceId: 'pc1', port: 16993 }) !== undefined);
    };
    const a = run();
    expect(run()).toEqual(a);
    const hits = a.filter(Boolean).length;
    expect(hits).toBeGreaterThan(220);
    expect(hits).toBeLessThan(380);
  });

  it('remove/clear and bad rules', () => {
    const f = new FaultRules();
    const id = f.add({ effect: { kind: 'hang' } });
    expect(f.size).toBe(1);
    expect(f.remove(id)).toBe(true);
    expect(f.decide({ deviceId: 'x', port: 1 })).toBeUndefined();
    expect(() => f.add({ effect: { kind: 'drop' }, probability: 2 })).toThrow(RangeError);
    expect(() => f.add({ effect: { kind: 'drop' }, firstN: 0 })).toThrow(RangeError);
    f.add({ effect: { kind: 'empty' } });
    f.clear();
    expect(f.size).toBe(0);
  });
});
