import type { JsonObject } from '@iot/protocol';
import type { DeviceModel, ModelCommand } from './device-model';
import { clamp, round, type Rng } from './rng';

/** Initial state of an {@link AirQualitySensor}. */
export interface AirQualityState {
  /** CO2, ppm. */
  co2: number;
  /** Fine particles, µg/m³. */
  pm2_5: number;
  /** VOC index (100 = the room's usual air, up to 500). */
  voc: number;
}

/** One reading of an {@link AirQualitySensor}. */
export type AirQualityReading = {
  /** ppm. */
  co2: number;
  /** µg/m³. */
  pm2_5: number;
  /** VOC index, 1-500. */
  voc: number;
};

/** Outdoor CO2, ppm: a room never goes below it. */
const OUTDOOR_CO2 = 420;

/**
 * An indoor air-quality sensor: mean-reverting random walks (Ornstein-Uhlenbeck)
 * for CO2, PM2.5 (in log space, so it stays positive and spikes upwards) and a VOC
 * index. The room is occupied now and then, which pulls CO2 up.
 */
export class AirQualitySensor implements DeviceModel {
  readonly type = 'air';
  readonly commands: Readonly<Record<string, ModelCommand>> = {};
  private co2: number;
  private logPm: number;
  private voc: number;
  private occupied = false;

  constructor(state: AirQualityState) {
    this.co2 = state.co2;
    this.logPm = Math.log(state.pm2_5);
    this.voc = state.voc;
  }

  /** A sensor in a believable random starting state. */
  static random(rng: Rng): AirQualitySensor {
    return new AirQualitySensor({ co2: rng.uniform(450, 900), pm2_5: rng.uniform(3, 15), voc: rng.uniform(80, 140) });
  }

  step(dtMs: number, rng: Rng): AirQualityReading {
    const dt = Math.max(0, dtMs) / 1000;
    // People come and go about every 20 minutes.
    if (rng.chance(1 - Math.exp(-dt / 1200))) this.occupied = !this.occupied;

    const co2Target = this.occupied ? 1100 : 550;
    this.co2 += (co2Target - this.co2) * (1 - Math.exp(-dt / 900)) + rng.normal(0, 6 * Math.sqrt(dt));
    this.co2 = clamp(this.co2, OUTDOOR_CO2, 5000);

    this.logPm += (Math.log(8) - this.logPm) * (1 - Math.exp(-dt / 1800)) + rng.normal(0, 0.03 * Math.sqrt(dt));
    this.logPm = clamp(this.logPm, Math.log(0.5), Math.log(500));

    const vocTarget = this.occupied ? 150 : 100;
    this.voc += (vocTarget - this.voc) * (1 - Math.exp(-dt / 600)) + rng.normal(0, 1.5 * Math.sqrt(dt));
    this.voc = clamp(this.voc, 1, 500);

    return { co2: Math.round(this.co2), pm2_5: round(Math.exp(this.logPm), 1), voc: Math.round(this.voc) };
  }

  reportedState(): JsonObject {
    return {};
  }

  applyDesired(): JsonObject {
    return {};
  }
}
