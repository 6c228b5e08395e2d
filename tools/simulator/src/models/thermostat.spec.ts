import { Rng } from './rng';
import { SETPOINT_RANGE, Thermostat } from './thermostat';

/** Steps `model` for `seconds` of simulated time at 2 Hz, returning every reading. */
function run(model: Thermostat, seconds: number, rng = new Rng(1)): ReturnType<Thermostat['step']>[] {
  return Array.from({ length: seconds * 2 }, () => model.step(500, rng));
}

describe('Thermostat', () => {
  const cold = (): Thermostat => new Thermostat({ temperature: 16, setpoint: 21, humidity: 45, ambient: 14 });

  it('heats a cold room up to the setpoint and then holds it within a small band', () => {
    const sut = cold();

    const readings = run(sut, 30 * 60);

    expect(readings[0]).toMatchObject({ heating: true, setpoint: 21 });
    const lastTenMinutes = readings.slice(-1200).map((r) => r.temperature);
    expect(Math.min(...lastTenMinutes)).toBeGreaterThan(20.3);
    expect(Math.max(...lastTenMinutes)).toBeLessThan(21.7);
    // The heating cycles on and off around the setpoint rather than staying on.
    expect(new Set(readings.slice(-1200).map((r) => r.heating)).size).toBe(2);
  });

  it('drifts towards the ambient temperature with the heating off', () => {
    const sut = new Thermostat({ temperature: 22, setpoint: 10, humidity: 45, ambient: 14 });

    const readings = run(sut, 60 * 60);

    expect(readings.every((r) => r.heating === false)).toBe(true);
    const final = readings[readings.length - 1].temperature;
    expect(final).toBeLessThan(18);
    expect(final).toBeGreaterThan(13.5);
  });

  it('keeps every reading in physical ranges', () => {
    const rng = new Rng(99);
    const sut = Thermostat.random(rng);

    const readings = run(sut, 2 * 3600, rng);

    const temperatures = readings.map((r) => r.temperature);
    const humidities = readings.map((r) => r.humidity);
    expect(temperatures.every(Number.isFinite)).toBe(true);
    expect(Math.min(...temperatures)).toBeGreaterThan(5);
    expect(Math.max(...temperatures)).toBeLessThan(35);
    expect(Math.min(...humidities)).toBeGreaterThanOrEqual(15);
    expect(Math.max(...humidities)).toBeLessThanOrEqual(85);
    expect(readings.every((r) => typeof r.heating === 'boolean')).toBe(true);
  });

  it('is reproducible for a seed', () => {
    expect(run(Thermostat.random(new Rng(5)), 60, new Rng(5))).toEqual(
      run(Thermostat.random(new Rng(5)), 60, new Rng(5)),
    );
  });

  it('changes the setpoint by command and by desired state, and then approaches it', () => {
    const sut = cold();

    expect(sut.commands['setpoint.set']({ value: 23.04 })).toEqual({ setpoint: 23 });
    expect(sut.reportedState()).toEqual({ setpoint: 23 });
    expect(sut.applyDesired({ setpoint: 24, other: 'ignored' })).toEqual({ setpoint: 24 });

    const readings = run(sut, 30 * 60);
    expect(readings[readings.length - 1].setpoint).toBe(24);
    expect(readings[readings.length - 1].temperature).toBeGreaterThan(23);
  });

  it('refuses a setpoint out of range or not a number', () => {
    const sut = cold();

    expect(() => sut.commands['setpoint.set']({ value: SETPOINT_RANGE.max + 1 })).toThrow(/from 5 to 30/);
    expect(() => sut.commands['setpoint.set']({ value: '22' })).toThrow(/number/);
    expect(sut.applyDesired({ setpoint: 'warm' })).toEqual({});
    expect(sut.applyDesired({ relay: false })).toEqual({});
    expect(sut.reportedState()).toEqual({ setpoint: 21 });
  });
});
