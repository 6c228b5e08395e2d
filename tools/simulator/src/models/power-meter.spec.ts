import { loadCurve, PowerMeter } from './power-meter';
import { Rng } from './rng';

/** 2025-11-27 00:00 local time. */
const MIDNIGHT = new Date(2025, 10, 27, 0, 0, 0).getTime();

function run(model: PowerMeter, seconds: number, rng = new Rng(3), stepMs = 1000): ReturnType<PowerMeter['step']>[] {
  return Array.from({ length: Math.round((seconds * 1000) / stepMs) }, () => model.step(stepMs, rng));
}

describe('PowerMeter', () => {
  it('keeps readings in physical ranges over a day, with energy only going up', () => {
    const sut = new PowerMeter({ time: MIDNIGHT, energy: 1000, relay: true, scale: 1 });

    const readings = run(sut, 24 * 3600, new Rng(3), 10_000);

    const powers = readings.map((r) => r.power);
    const voltages = readings.map((r) => r.voltage);
    expect(Math.min(...powers)).toBeGreaterThan(0);
    expect(Math.max(...powers)).toBeLessThan(6000);
    expect(Math.min(...voltages)).toBeGreaterThanOrEqual(207);
    expect(Math.max(...voltages)).toBeLessThanOrEqual(253);
    expect(readings.every((r) => Math.abs(r.current - r.power / r.voltage) < 0.01)).toBe(true);
    expect(readings.every((r, i) => i === 0 || r.energy >= readings[i - 1].energy)).toBe(true);
    // An average home uses roughly 5-25 kWh a day.
    const used = readings[readings.length - 1].energy - 1000;
    expect(used).toBeGreaterThan(5);
    expect(used).toBeLessThan(25);
  });

  it('draws more in the evening than at night, and spikes now and then', () => {
    expect(loadCurve(MIDNIGHT + 19.5 * 3600_000)).toBeGreaterThan(3 * loadCurve(MIDNIGHT + 3 * 3600_000));

    const readings = run(new PowerMeter({ time: MIDNIGHT + 3 * 3600_000, energy: 0, relay: true, scale: 1 }), 3 * 3600);
    const powers = readings.map((r) => r.power);
    expect(Math.max(...powers)).toBeGreaterThan(1200);
    expect(powers.filter((p) => p < 400).length).toBeGreaterThan(powers.length / 2);
  });

  it('falls to about zero when the relay opens, by command or desired state, and back', () => {
    const sut = new PowerMeter({ time: MIDNIGHT + 19 * 3600_000, energy: 0, relay: true, scale: 1 });
    const rng = new Rng(8);

    expect(sut.commands['relay.set']({ value: false })).toEqual({ relay: false });
    const off = run(sut, 60, rng);
    expect(off.every((r) => r.power < 1 && r.relay === false)).toBe(true);
    expect(sut.reportedState()).toEqual({ relay: false });

    expect(sut.applyDesired({ relay: true })).toEqual({ relay: true });
    expect(run(sut, 10, rng).every((r) => r.power > 100)).toBe(true);
  });

  it('refuses a relay value that is not a boolean', () => {
    const sut = PowerMeter.random(new Rng(1), MIDNIGHT);

    expect(() => sut.commands['relay.set']({ value: 'off' })).toThrow(/true .* or false/);
    expect(sut.applyDesired({ relay: 0 })).toEqual({});
  });
});
