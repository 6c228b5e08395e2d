import { defineModel, type DefinedModel } from '@iot/device-sdk';
import * as z from 'zod';
import type { DeviceType } from './device-model';
import { SETPOINT_RANGE } from './thermostat';

const firmware = z.string().max(32).meta({ title: 'Firmware' });
const setpoint = z
  .number()
  .min(SETPOINT_RANGE.min)
  .max(SETPOINT_RANGE.max)
  .meta({ title: 'Setpoint', unit: '°C' });
const relay = z.boolean().meta({ title: 'Relay closed (power on)' });

/** What a simulated thermostat announces (docs/protocol.md §2.8). */
export const THERMOSTAT_MODEL = defineModel({
  id: 'sim.thermostat',
  version: 1,
  title: 'Thermostat',
  description: 'A room thermostat: heating with hysteresis towards a setpoint.',
  telemetry: {
    temperature: { type: 'number', title: 'Temperature', unit: '°C', precision: 1, minimum: -10, maximum: 45 },
    humidity: { type: 'number', title: 'Humidity', unit: '%', precision: 0, minimum: 0, maximum: 100 },
    heating: { type: 'boolean', title: 'Heating', chart: 'step' },
    setpoint: { type: 'number', title: 'Setpoint', unit: '°C', precision: 1, chart: 'step' },
  },
  commands: {
    'setpoint.set': {
      title: 'Set the setpoint',
      params: z.strictObject({ value: setpoint.default(21) }),
      timeoutMs: 10_000,
    },
  },
  desired: { setpoint },
  reported: { setpoint: z.number(), firmware },
});

/** What a simulated power meter announces. */
export const POWER_METER_MODEL = defineModel({
  id: 'sim.power-meter',
  version: 1,
  title: 'Power meter',
  description: "A home's power meter with a relay that cuts the supply.",
  telemetry: {
    power: { type: 'number', title: 'Power', unit: 'W', precision: 1, minimum: 0 },
    voltage: { type: 'number', title: 'Voltage', unit: 'V', precision: 1 },
    current: { type: 'number', title: 'Current', unit: 'A', precision: 2, minimum: 0 },
    energy: { type: 'number', title: 'Energy', unit: 'kWh', precision: 3, minimum: 0 },
    relay: { type: 'boolean', title: 'Relay', chart: 'step' },
  },
  commands: {
    'relay.set': { title: 'Switch the relay', params: z.strictObject({ value: relay }), timeoutMs: 10_000 },
  },
  desired: { relay },
  reported: { relay: z.boolean(), firmware },
});

/** What a simulated air-quality sensor announces. */
export const AIR_QUALITY_MODEL = defineModel({
  id: 'sim.air-quality',
  version: 1,
  title: 'Air-quality sensor',
  telemetry: {
    co2: { type: 'integer', title: 'CO₂', unit: 'ppm', precision: 0, minimum: 0 },
    pm2_5: { type: 'number', title: 'PM2.5', unit: 'µg/m³', precision: 1, minimum: 0 },
    voc: { type: 'integer', title: 'VOC index', precision: 0, minimum: 1, maximum: 500 },
  },
  reported: { firmware },
});

/** Each simulated type's model. */
export const MODEL_DEFINITIONS: Readonly<Record<DeviceType, DefinedModel>> = {
  thermostat: THERMOSTAT_MODEL,
  meter: POWER_METER_MODEL,
  air: AIR_QUALITY_MODEL,
};
