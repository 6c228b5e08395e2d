import { DEVICE_ID_PATTERN } from './limits';

/**
 * MQTT topics of the contract. Every topic lives under `devices/{id}/`.
 *
 * | kind             | topic                                      | direction          |
 * | ---------------- | ------------------------------------------ | ------------------ |
 * | telemetry        | devices/{id}/telemetry                     | device → platform  |
 * | state.reported   | devices/{id}/state/reported                | device → platform  |
 * | state.desired    | devices/{id}/state/desired                 | platform → device  |
 * | status           | devices/{id}/status                        | device → platform  |
 * | command          | devices/{id}/commands/{commandId}          | platform → device  |
 * | command.result   | devices/{id}/commands/{commandId}/result   | device → platform  |
 * | errors           | devices/{id}/errors                        | platform → device  |
 * | model            | devices/{id}/model                         | device → platform  |
 */
export const TOPIC_ROOT = 'devices';
const ROOT_PREFIX = `${TOPIC_ROOT}/`;
const COMMANDS_PREFIX = 'commands/';

export type TopicKind =
  | 'telemetry'
  | 'state.reported'
  | 'state.desired'
  | 'status'
  | 'command'
  | 'command.result'
  | 'errors'
  | 'model';

export interface ParsedTopic {
  deviceId: string;
  kind: TopicKind;
  /** Set for `command` and `command.result`. */
  commandId?: string;
}

/** Command ids are made by the platform; this only bounds what a topic may carry. */
const COMMAND_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

function assertDeviceId(deviceId: string): void {
  if (!DEVICE_ID_PATTERN.test(deviceId)) {
    throw new Error(`invalid device id: ${JSON.stringify(deviceId)}`);
  }
}

function assertCommandId(commandId: string): void {
  if (!COMMAND_ID_PATTERN.test(commandId)) {
    throw new Error(`invalid command id: ${JSON.stringify(commandId)}`);
  }
}

/** Topic builders. They refuse ids that would make a wildcard or a foreign topic. */
export const topics = {
  telemetry: (deviceId: string) => (assertDeviceId(deviceId), `devices/${deviceId}/telemetry`),
  stateReported: (deviceId: string) => (assertDeviceId(deviceId), `devices/${deviceId}/state/reported`),
  stateDesired: (deviceId: string) => (assertDeviceId(deviceId), `devices/${deviceId}/state/desired`),
  status: (deviceId: string) => (assertDeviceId(deviceId), `devices/${deviceId}/status`),
  command: (deviceId: string, commandId: string) => (
    assertDeviceId(deviceId), assertCommandId(commandId), `devices/${deviceId}/commands/${commandId}`
  ),
  commandResult: (deviceId: string, commandId: string) => (
    assertDeviceId(deviceId), assertCommandId(commandId), `devices/${deviceId}/commands/${commandId}/result`
  ),
  /** What a device subscribes to for its commands. */
  commandsFilter: (deviceId: string) => (assertDeviceId(deviceId), `devices/${deviceId}/commands/+`),
  errors: (deviceId: string) => (assertDeviceId(deviceId), `devices/${deviceId}/errors`),
  /** Where a device announces its model (retained, QoS 1). */
  model: (deviceId: string) => (assertDeviceId(deviceId), `devices/${deviceId}/model`),
} as const;

/** Filters the platform itself subscribes to on an external broker. */
export const PLATFORM_SUBSCRIPTIONS = [
  'devices/+/telemetry',
  'devices/+/state/reported',
  'devices/+/status',
  'devices/+/commands/+/result',
  'devices/+/model',
] as const;

/**
 * Parses a concrete topic (no wildcards) into its device and kind.
 * Returns `undefined` for anything that is not a topic of the contract.
 */
export function parseTopic(topic: string): ParsedTopic | undefined {
  // Called for every device message: slices, not a split and join.
  if (!topic.startsWith(ROOT_PREFIX)) return undefined;
  const idEnd = topic.indexOf('/', ROOT_PREFIX.length);
  if (idEnd < 0) return undefined;
  const deviceId = topic.slice(ROOT_PREFIX.length, idEnd);
  if (!DEVICE_ID_PATTERN.test(deviceId)) return undefined;
  const rest = topic.slice(idEnd + 1);
  switch (rest) {
    case 'telemetry':
      return { deviceId, kind: 'telemetry' };
    case 'state/reported':
      return { deviceId, kind: 'state.reported' };
    case 'state/desired':
      return { deviceId, kind: 'state.desired' };
    case 'status':
      return { deviceId, kind: 'status' };
    case 'errors':
      return { deviceId, kind: 'errors' };
    case 'model':
      return { deviceId, kind: 'model' };
  }
  if (!rest.startsWith(COMMANDS_PREFIX)) return undefined;
  const commandEnd = rest.indexOf('/', COMMANDS_PREFIX.length);
  const commandId = rest.slice(COMMANDS_PREFIX.length, commandEnd < 0 ? undefined : commandEnd);
  if (!COMMAND_ID_PATTERN.test(commandId)) return undefined;
  if (commandEnd < 0) return { deviceId, kind: 'command', commandId };
  return rest.slice(commandEnd + 1) === 'result' ? { deviceId, kind: 'command.result', commandId } : undefined;
}

/** Topic kinds a device may publish to, each only under its own id. */
export const DEVICE_PUBLISH_KINDS: ReadonlySet<TopicKind> = new Set<TopicKind>([
  'telemetry',
  'state.reported',
  'status',
  'command.result',
  'model',
]);

/**
 * Kinds only the platform reads: no filter a device may subscribe to
 * (`deviceSubscriptionAllowed`) matches them, so a broker whose only other
 * sessions are devices has nobody to route them to.
 */
export const PLATFORM_ONLY_KINDS: ReadonlySet<TopicKind> = new Set<TopicKind>([
  'telemetry',
  'state.reported',
  'status',
  'model',
]);

/**
 * Topic filters a device may subscribe to: exactly these, with its own id.
 * Anything else (`#`, `+/…`, other devices, `$SYS`) is refused.
 */
export function deviceSubscriptionAllowed(deviceId: string, filter: string): boolean {
  // An id outside the pattern (say `+` or `a/#`) would turn `own` into a wildcard.
  if (!DEVICE_ID_PATTERN.test(deviceId)) return false;
  const own = `devices/${deviceId}/`;
  if (!filter.startsWith(own)) return false;
  const rest = filter.slice(own.length);
  if (rest === 'commands/+' || rest === 'commands/#' || rest === 'state/desired' || rest === 'errors') return true;
  // A single command topic, as an MQTT 5 response-topic client might subscribe to.
  const m = /^commands\/([^/+#]+)(\/result)?$/.exec(rest);
  return m !== null && m[2] === undefined && COMMAND_ID_PATTERN.test(m[1]);
}

/** Whether a device may publish on this topic. */
export function devicePublishAllowed(deviceId: string, topic: string): boolean {
  const parsed = parseTopic(topic);
  return parsed !== undefined && parsed.deviceId === deviceId && DEVICE_PUBLISH_KINDS.has(parsed.kind);
}

export { COMMAND_ID_PATTERN };
