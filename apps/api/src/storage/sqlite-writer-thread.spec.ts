import { decodeBatch, encodeBatch } from './sqlite-writer-thread';
import { type NewEvent, telemetryEvent, valuesJsonOf } from './storage';

describe('encodeBatch / decodeBatch', () => {
  it('carry every kind of event to the writer thread as it was queued, in order', () => {
    const events: NewEvent[] = [
      telemetryEvent('d1', 1_767_225_600_123, { temperature: 21.5, on: true, note: 'a "quoted" }, ☃ and "values":' }),
      { type: 'status', deviceId: 'd.2', ts: 5, online: false, data: '{"deviceId":"d.2","online":false}' },
      { type: 'status', deviceId: 'd_3', ts: 6, online: true, data: '{"deviceId":"d_3","online":true}' },
      { type: 'state', deviceId: 'd-4', ts: 7, data: '{"deviceId":"d-4","reported":{}}' },
      { type: 'command', deviceId: 'd5', ts: 8, data: '{"deviceId":"d5","status":"sent"}' },
      telemetryEvent('d1', 1_767_225_600_124, {}),
    ];
    expect(decodeBatch(encodeBatch(events))).toEqual(events);
    expect(decodeBatch(encodeBatch([]))).toEqual([]);
  });
});

describe('telemetryEvent', () => {
  it("is the contract's telemetry event, with its values' JSON found again in its data", () => {
    const values = { t: -1.5e-7, s: '}{"values":', b: false };
    const event = telemetryEvent('dev_1', 42, values);
    expect(JSON.parse(event.data)).toEqual({ deviceId: 'dev_1', ts: 42, values });
    expect(valuesJsonOf(event.data)).toBe(JSON.stringify(values));
  });
});
