import type { JsonObject } from '@iot/protocol';
import type { DeviceModel, ModelCommand } from './device-model';
import { clamp, round, type Rng } from './rng';

/** Initial state of a {@link PowerMeter}. */
export interface PowerMeterState {
  /** Simulated wall-clock time, epoch ms: the load curve follows its hour of day. */
  time: number;
  /** Meter reading, kWh. */
  energy: number;
  /** Whether the relay lets power through. */
  relay: boolean;
  /** Scales the household's load curve (1 = an average home). */
  scale: number;
}

/** One reading of a {@link PowerMeter}. */
export type PowerMeterReading = {
  /** Active power, W. */
  power: number;
  /** V. */
  voltage: number;
  /** A. */
  current: number;
  /** Cumulative energy, kWh. */
  energy: number;
  /** Whether the relay is closed (power on). */
  relay: boolean;
};

/** Mean time between appliance spikes (a kettle, an oven), in seconds. */
const SPIKE_EVERY_S = 900;

/**
 * A household power meter with a relay: power follows a daily load curve (night
 * base load, morning and evening peaks) with noise and short appliance spikes;
 * voltage wanders around 230 V and sags a little under load; energy accumulates.
 * With the relay open the draw falls to (almost) zero.
 */
export class PowerMeter implements DeviceModel {
  readonly type = 'meter';
  readonly commands: Readonly<Record<string, ModelCommand>> = {
    'relay.set': (params) => ({ relay: this.setRelay(params['value']) }),
  };
  private time: number;
  private energy: number;
  private relay: boolean;
  private readonly scale: number;
  private voltage = 230;
  private spikeW = 0;
  private spikeLeftMs = 0;

  constructor(state: PowerMeterState) {
    this.time = state.time;
    this.energy = state.energy;
    this.relay = state.relay;
    this.scale = state.scale;
  }

  /** A meter in a believable random starting state. */
  static random(rng: Rng, time: number): PowerMeter {
    return new PowerMeter({ time, energy: rng.uniform(500, 20_000), relay: true, scale: rng.uniform(0.6, 1.6) });
  }

  step(dtMs: number, rng: Rng): PowerMeterReading {
    const dt = Math.max(0, dtMs);
    this.time += dt;

    if (this.spikeLeftMs > 0) {
      this.spikeLeftMs -= dt;
    } else if (rng.chance(1 - Math.exp(-dt / 1000 / SPIKE_EVERY_S))) {
      this.spikeW = rng.uniform(1200, 2600);
      this.spikeLeftMs = rng.uniform(30_000, 240_000);
    }
    const spike = this.spikeLeftMs > 0 ? this.spikeW : 0;

    const power = this.relay
      ? Math.max(20, loadCurve(this.time) * this.scale * (1 + rng.normal(0, 0.05)) + spike)
      : Math.max(0, rng.normal(0.2, 0.1)); // the meter's own noise floor

    // Mean-reverting around 230 V, minus a small sag under load.
    const sag = (power / 1000) * 0.8;
    this.voltage +=
      (230 - sag - this.voltage) * (1 - Math.exp(-dt / 20_000)) + rng.normal(0, 0.3 * Math.sqrt(dt / 1000));
    this.voltage = clamp(this.voltage, 207, 253);

    this.energy += (power * dt) / 3_600_000 / 1000;

    return {
      power: round(power, 1),
      voltage: round(this.voltage, 1),
      current: round(power / this.voltage, 2),
      energy: round(this.energy, 4),
      relay: this.relay,
    };
  }

  reportedState(): JsonObject {
    return { relay: this.relay };
  }

  applyDesired(state: JsonObject): JsonObject {
    if (typeof state['relay'] !== 'boolean') return {};
    return { relay: this.setRelay(state['relay']) };
  }

  private setRelay(value: unknown): boolean {
    if (typeof value !== 'boolean') throw new Error('value must be true (closed, power on) or false (open, power off)');
    this.relay = value;
    return value;
  }
}

/** An average home's draw in watts at the local hour of `time`: base load plus morning, noon and evening bumps. */
export function loadCurve(time: number): number {
  const date = new Date(time);
  const hour = date.getHours() + date.getMinutes() / 60;
  const bump = (centre: number, width: number): number => {
    const d = Math.min(Math.abs(hour - centre), 24 - Math.abs(hour - centre));
    return Math.exp(-((d / width) ** 2));
  };
  return 180 + 700 * bump(7.5, 1.2) + 250 * bump(13, 2.5) + 1400 * bump(19.5, 1.8);
}
