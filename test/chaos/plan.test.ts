import { describe, expect, it } from 'vitest';
import { planFaults, type FaultRecord } from '../../scripts/chaos/faults.js';
import { seededRandom } from '../../scripts/chaos/random.js';
import { faultWindows } from '../../scripts/chaos/report.js';

/** npm run chaos's pure parts: the seeded fault plan, and how failed requests are put down to faults. */
describe('the chaos soak', () => {
  it('when planned from a seed, then the plan is the same for that seed, covers every fault kind and stays inside the load', () => {
    const loadMs = 150_000;
    const plan = planFaults(seededRandom(42), loadMs, 3, 4);
    expect(planFaults(seededRandom(42), loadMs, 3, 4)).toEqual(plan);
    expect(planFaults(seededRandom(43), loadMs, 3, 4).map((f) => f.kind)).not.toEqual(
      plan.map((f) => f.kind),
    );

    const counts = new Map<string, number>();
    for (const f of plan) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({
      'kill line-provider': 3,
      'kill api': 3,
      'kill worker': 3,
      'crash point': 4,
      'flush redis': 1,
      'restart redis': 1,
      'restart score-maker postgres': 1,
      'restart line-provider postgres': 1,
      'pause line-provider': 1,
    });
    const times = plan.map((f) => f.at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(loadMs * 0.08);
    expect(Math.max(...times)).toBeLessThanOrEqual(loadMs * 0.85);
    for (const f of plan) {
      expect([0, 1]).toContain(f.replica);
      expect(f.downMs).toBeGreaterThanOrEqual(300);
      expect(f.downMs).toBeLessThanOrEqual(2000);
      expect(f.crash !== undefined).toBe(f.kind === 'crash point');
    }
    // Four crash points: four different (point, process kind) pairs, each armed for an early hit.
    const crashes = plan.flatMap((f) => (f.crash ? [f.crash] : []));
    expect(new Set(crashes.map((c) => `${c.point} in ${c.kind}`)).size).toBe(4);
    for (const c of crashes) expect(c.hit).toBeGreaterThanOrEqual(1);
  });

  it('when requests fail, then each is put down to the fault that explains it, and the rest counted apart', () => {
    const fault = (
      kind: FaultRecord['kind'],
      started: number,
      ended: number,
      target?: string,
    ): FaultRecord => ({
      kind,
      at: 0,
      replica: 0,
      downMs: 0,
      started,
      ended,
      detail: '',
      target,
    });
    const faults = [
      fault('kill api', 10_000, 25_000, 'api-2'),
      fault('restart score-maker postgres', 12_000, 13_000),
    ];
    const { windows, unexplained } = faultWindows(faults, [
      // No answer from the killed replica, after the restart began: still the kill's.
      { at: 14_000, what: 'no answer', api: 1 },
      { at: 24_000, what: 'no answer', api: 1 },
      // 503s while PostgreSQL restarts (and a little after): the restart's.
      { at: 12_500, what: '503', api: 0 },
      { at: 15_500, what: '503', api: 1 },
      // Long after everything was back: nothing explains it.
      { at: 60_000, what: '503', api: 0 },
    ]);
    expect(windows.map((w) => [w.fault.kind, Object.fromEntries(w.failures), w.windowMs])).toEqual([
      ['kill api', { 'no answer': 2 }, 14_000],
      ['restart score-maker postgres', { 503: 2 }, 3_500],
    ]);
    expect(unexplained).toEqual([{ at: 60_000, what: '503', api: 0 }]);
  });
});
