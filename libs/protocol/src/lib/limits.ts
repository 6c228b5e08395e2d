/**
 * Identifier rules and size limits of the platform contract.
 * Devices, the api, the console and the SDK all read them from here.
 */

/** A device id: also its MQTT username and client id. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** A telemetry key, such as `temperature` or `power.l1`. */
export const TELEMETRY_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
/** A command name, such as `reboot` or `setpoint.set`. */
export const COMMAND_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

export const LIMITS = {
  /** Longest string telemetry value, in characters. */
  maxStringValueLength: 256,
  /** Default cap on one MQTT payload the platform will parse, in bytes (configurable). */
  maxPayloadBytes: 256 * 1024,
  /** Default cap on entries in one telemetry batch (configurable). */
  maxBatchEntries: 1000,
  /** Default cap on the distinct telemetry keys one device may have (configurable). */
  maxKeysPerDevice: 1000,
  /** Most points one history answer holds over all its keys: a raw read stops there, an aggregate past it is refused. */
  maxHistoryPoints: 1_000_000,
  /** Packets above this are refused by the broker with a disconnect. */
  maxPacketBytes: 1024 * 1024,
  /** Largest WebSocket frame and largest command `params`, in bytes. */
  maxWsFrameBytes: 64 * 1024,
  /** A timed telemetry entry may be at most this far ahead of the platform clock. */
  maxClockSkewMs: 5 * 60 * 1000,
  /** Default cap on a reported or desired state document, as JSON, in bytes (configurable). */
  maxStateBytes: 64 * 1024,
  /** Deepest nesting of objects and arrays in a state patch or document (`{}` is 1). */
  maxStateDepth: 32,
} as const;

export function isDeviceId(value: string): boolean {
  return DEVICE_ID_PATTERN.test(value);
}

/** The UTF-8 size of a string in bytes, without encoding it (works in browsers and Node). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}
