import type { JsonObject } from '@iot/protocol';
import type { DeviceModel, ModelCommand } from './device-model';
import { clamp, round, type Rng } from './rng';

/** The setpoints a thermostat accepts, in °C. */
export const SETPOINT_RANGE = { min: 5, max: 30 } as const;

/** Initial state of a {@link Thermostat}. */
export interface ThermostatState {
  /** Room temperature, °C. */
  temperature: number;
  /** Target temperature, °C. */
  setpoint: number;
  /** Relative humidity, %. */
  humidity: number;
  /** What the room cools towards with the heating off, °C. */
  ambient: number;
}

/** One reading of a {@link Thermostat}. */
export type ThermostatReading = {
  /** °C, as the sensor reads it (with noise). */
  temperature: number;
  /** Relative humidity, %. */
  humidity: number;
  /** Whether the heating is on. */
  heating: boolean;
  /** Target temperature, °C. */
  setpoint: number;
};

/** Heating adds this much per second, °C (a radiator warms a room by about 1 °C a minute here). */
const HEAT_RATE = 0.02;
/** Time constant of the room losing heat to `ambient`, in seconds. */
const LOSS_TAU_S = 1800;
/** Heating switches on below setpoint - band and off above setpoint + band, °C. */
const HYSTERESIS = 0.3;

/**
 * A room thermostat: heating with hysteresis pulls the temperature up to the
 * setpoint, heat loss pulls it down towards the ambient temperature, and the
 * sensor adds noise. Humidity wanders around 45 % and drops while heating.
 */
export class Thermostat implements DeviceModel {
  readonly type = 'thermostat';
  readonly commands: Readonly<Record<string, ModelCommand>> = {
    'setpoint.set': (params) => ({ setpoint: this.setSetpoint(params['value']) }),
  };
  private temperature: number;
  private setpoint: number;
  private humidity: number;
  private readonly ambient: number;
  private heating = false;

  constructor(state: ThermostatState) {
    this.temperature = state.temperature;
    this.setpoint = state.setpoint;
    this.humidity = state.humidity;
    this.ambient = state.ambient;
  }

  /** A thermostat in a believable random starting state. */
  static random(rng: Rng): Thermostat {
    const setpoint = round(rng.uniform(19, 22.5), 1);
    return new Thermostat({
      setpoint,
      temperature: setpoint + rng.uniform(-3, 1),
      humidity: rng.uniform(35, 55),
      ambient: rng.uniform(12, 17),
    });
  }

  step(dtMs: number, rng: Rng): ThermostatReading {
    const dt = Math.max(0, dtMs) / 1000;
    if (this.temperature < this.setpoint - HYSTERESIS) this.heating = true;
    else if (this.temperature > this.setpoint + HYSTERESIS) this.heating = false;
    const loss = (this.ambient - this.temperature) * (1 - Math.exp(-dt / LOSS_TAU_S));
    const gain = this.heating ? HEAT_RATE * dt : 0;
    this.temperature = clamp(this.temperature + gain + loss + rng.normal(0, 0.004 * Math.sqrt(dt)), -10, 45);

    const humidityTarget = this.heating ? 40 : 46;
    this.humidity += (humidityTarget - this.humidity) * (1 - Math.exp(-dt / 900)) + rng.normal(0, 0.05 * Math.sqrt(dt));
    this.humidity = clamp(this.humidity, 15, 85);

    return {
      temperature: round(this.temperature + rng.normal(0, 0.03), 2),
      humidity: round(this.humidity, 1),
      heating: this.heating,
      setpoint: this.setpoint,
    };
  }

  reportedState(): JsonObject {
    return { setpoint: this.setpoint };
  }

  applyDesired(state: JsonObject): JsonObject {
    if (!('setpoint' in state) || !isSetpoint(state['setpoint'])) return {};
    return { setpoint: this.setSetpoint(state['setpoint']) };
  }

  private setSetpoint(value: unknown): number {
    if (!isSetpoint(value)) {
      throw new Error(`value must be a number from ${SETPOINT_RANGE.min} to ${SETPOINT_RANGE.max} (°C)`);
    }
    this.setpoint = round(value, 1);
    return this.setpoint;
  }
}

function isSetpoint(value: unknown): value is number {
  return typeof value === 'number' && value >= SETPOINT_RANGE.min && value <= SETPOINT_RANGE.max;
}
