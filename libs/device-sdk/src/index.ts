/**
 * @iot/device-sdk: a small typed facade over MQTT.js for devices of the platform.
 *
 * ```ts
 * const device = connectDevice({ url: 'mqtt://127.0.0.1:1883', deviceId: 'boiler-1', password });
 * device.onCommand('reboot', async () => ({ rebootedAt: Date.now() }));
 * await device.publishTelemetry({ temperature: 21.5 });
 * ```
 */
export {
  connectDevice,
  DeviceClient,
  type CommandContext,
  type CommandHandler,
  type ConnectDeviceOptions,
  type DesiredStateHandler,
  type DeviceClientEvents,
  type ErrorNoticeHandler,
  type PublishTelemetryOptions,
  type TelemetryPayload,
  type TimedTelemetry,
} from './lib/device-client';
export {
  defineModel,
  type CommandDeclaration,
  type CommandNameOf,
  type CommandParamsOf,
  type DefinedModel,
  type ModelDeclaration,
  type ReportedPatchOf,
} from './lib/model';
export { TypedEventEmitter, type EventMap } from './lib/typed-emitter';
