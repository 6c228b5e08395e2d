import type { JsonObject, TelemetryValues } from '@iot/protocol';
import type { Rng } from './rng';

/** The kinds of simulated device, as given to `--types`. */
export const DEVICE_TYPES = ['thermostat', 'meter', 'air'] as const;
/** One kind of simulated device. */
export type DeviceType = (typeof DEVICE_TYPES)[number];

/** Runs one command on a model; returns the state patch it applied (also the command result). */
export type ModelCommand = (params: JsonObject) => JsonObject;

/**
 * A simulated device's physics and controls, free of I/O: the virtual device
 * calls `step` on a timer and publishes what it returns.
 */
export interface DeviceModel {
  readonly type: DeviceType;
  /** Advances the model by `dtMs` of simulated time and returns a telemetry reading. */
  step(dtMs: number, rng: Rng): TelemetryValues;
  /** The state the device reports (its settings), such as `{setpoint: 21}`. */
  reportedState(): JsonObject;
  /**
   * Applies the keys of a desired state this model understands, ignoring others
   * (they stay in the platform's delta). Returns the patch it applied, possibly empty.
   */
  applyDesired(state: JsonObject): JsonObject;
  /** Command name → handler. */
  readonly commands: Readonly<Record<string, ModelCommand>>;
}
