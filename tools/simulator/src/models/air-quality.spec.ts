import { AirQualitySensor } from './air-quality';
import type { DeviceModel } from './device-model';
import { Rng } from './rng';

describe('AirQualitySensor', () => {
  it('keeps CO2, PM2.5 and VOC in physical ranges over a day', () => {
    const rng = new Rng(11);
    const sut = AirQualitySensor.random(rng);

    const readings = Array.from({ length: 24 * 360 }, () => sut.step(10_000, rng));

    const co2 = readings.map((r) => r.co2);
    const pm = readings.map((r) => r.pm2_5);
    const voc = readings.map((r) => r.voc);
    expect(Math.min(...co2)).toBeGreaterThanOrEqual(420);
    expect(Math.max(...co2)).toBeLessThanOrEqual(5000);
    expect(Math.min(...pm)).toBeGreaterThan(0);
    expect(Math.max(...pm)).toBeLessThanOrEqual(500);
    expect(Math.min(...voc)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...voc)).toBeLessThanOrEqual(500);
    // It wanders: neither stuck nor white noise.
    expect(Math.max(...co2) - Math.min(...co2)).toBeGreaterThan(200);
    const steps = co2.slice(1).map((c, i) => Math.abs(c - co2[i]));
    expect(steps.reduce((s, d) => s + d, 0) / steps.length).toBeLessThan(60);
  });

  it('has no commands and ignores desired state', () => {
    const sut: DeviceModel = AirQualitySensor.random(new Rng(1));
    expect(Object.keys(sut.commands)).toEqual([]);
    expect(sut.applyDesired({ setpoint: 20 })).toEqual({});
  });
});
