import { streamEventSchemas } from '@iot/protocol';
import { deviceEvents } from './events';

/** The event's data, parsed strictly with the protocol's schema for its type. */
function parsed(event: { type: keyof typeof streamEventSchemas; data: string }): unknown {
  return streamEventSchemas[event.type].strict().parse(JSON.parse(event.data));
}

describe('deviceEvents', () => {
  it('makes telemetry data from the values, or from their JSON as the device sent it', () => {
    const made = deviceEvents.telemetry('d"1', 5, { t: 1.5 });
    const spliced = deviceEvents.telemetry('d"1', 5, { t: 1.5 }, '{"t":1.5}');
    expect(made).toMatchObject({ type: 'telemetry', deviceId: 'd"1', ts: 5 });
    expect(parsed(made)).toEqual({ deviceId: 'd"1', ts: 5, values: { t: 1.5 } });
    expect(spliced.data).toBe(made.data);
  });

  it('makes status data and carries the presence for the device row', () => {
    const event = deviceEvents.status('d1', true, 7);
    expect(event).toMatchObject({ type: 'status', deviceId: 'd1', ts: 7, online: true });
    expect(parsed(event)).toEqual({ deviceId: 'd1', online: true, ts: 7 });
  });

  it('makes state data around the document JSON it is given, for either document', () => {
    const reported = deviceEvents.state('d1', 'reported', '{"on":true}', 3, 9);
    const desired = deviceEvents.state('d1', 'desired', '{"on":false}', 4, 10);
    expect(parsed(reported)).toEqual({ deviceId: 'd1', reported: { on: true }, version: 3, ts: 9 });
    expect(parsed(desired)).toEqual({ deviceId: 'd1', desired: { on: false }, version: 4, ts: 10 });
  });

  it('makes command data from a transition', () => {
    const update = { commandId: 'c1', deviceId: 'd1', name: 'reboot', status: 'failed' as const, error: 'no', ts: 11 };
    const event = deviceEvents.command(update);
    expect(event).toMatchObject({ type: 'command', deviceId: 'd1', ts: 11 });
    expect(parsed(event)).toEqual(update);
  });
});
