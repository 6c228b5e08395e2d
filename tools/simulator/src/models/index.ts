import { AirQualitySensor } from './air-quality';
import type { DeviceModel, DeviceType } from './device-model';
import { PowerMeter } from './power-meter';
import type { Rng } from './rng';
import { Thermostat } from './thermostat';

export * from './device-model';
export { AIR_QUALITY_MODEL, MODEL_DEFINITIONS, POWER_METER_MODEL, THERMOSTAT_MODEL } from './definitions';
export { AirQualitySensor, type AirQualityReading } from './air-quality';
export { PowerMeter, loadCurve, type PowerMeterReading } from './power-meter';
export { Thermostat, SETPOINT_RANGE, type ThermostatReading } from './thermostat';
export { Rng, chanceWithin, clamp, round } from './rng';

/** Human names of the device types, for device names in the console. */
export const DEVICE_TYPE_NAMES: Readonly<Record<DeviceType, string>> = {
  thermostat: 'thermostat',
  meter: 'power meter',
  air: 'air-quality sensor',
};

/** A model of `type` in a random starting state; `now` (epoch ms) starts the meter's clock. */
export function createModel(type: DeviceType, rng: Rng, now: number): DeviceModel {
  switch (type) {
    case 'thermostat':
      return Thermostat.random(rng);
    case 'meter':
      return PowerMeter.random(rng, now);
    case 'air':
      return AirQualitySensor.random(rng);
  }
}
