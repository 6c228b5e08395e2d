import * as z from 'zod';
import { topics } from '@iot/protocol';
import { startRecorder, startTestBroker, type Recorder, type TestBroker } from '../testing/test-broker';
import { connectDevice, type DeviceClient } from './device-client';
import { defineModel, type DefinedModel } from './model';

const ID = 'thermo-1';
const SECRET = 'device-secret';

const thermostat = defineModel({
  id: 'acme.thermostat',
  version: 3,
  title: 'Thermostat',
  telemetry: { temperature: { type: 'number', unit: '°C', precision: 1 } },
  commands: {
    'setpoint.set': {
      title: 'Set the setpoint',
      params: z.strictObject({
        value: z.number().min(5).max(30).meta({ unit: '°C' }),
        boost: z.boolean().default(false),
      }),
      timeoutMs: 5000,
    },
    reboot: {},
  },
  desired: { setpoint: z.number().min(5).max(30) },
  reported: { setpoint: z.number(), mode: z.enum(['eco', 'comfort']) },
});

describe('defineModel', () => {
  it("turns the declaration's zod schemas into the model's JSON Schema", () => {
    expect(thermostat.model).toEqual({
      id: 'acme.thermostat',
      version: 3,
      title: 'Thermostat',
      telemetry: { temperature: { type: 'number', unit: '°C', precision: 1 } },
      commands: {
        'setpoint.set': {
          title: 'Set the setpoint',
          params: {
            type: 'object',
            properties: {
              value: { type: 'number', minimum: 5, maximum: 30, unit: '°C' },
              boost: { type: 'boolean', default: false },
            },
            required: ['value'],
            additionalProperties: false,
          },
          timeoutMs: 5000,
        },
        reboot: {},
      },
      desired: { setpoint: { type: 'number', minimum: 5, maximum: 30 } },
      reported: { setpoint: { type: 'number' }, mode: { type: 'string', enum: ['eco', 'comfort'] } },
    });
  });

  it('refuses a model the platform would refuse, such as a regular expression in a schema', () => {
    expect(() => defineModel({ id: 'a', version: 1, desired: { name: z.string().regex(/^(a+)+$/) } })).toThrow(
      /invalid device model "a": desired\.name: Unrecognized key: "pattern"/,
    );
    expect(() => defineModel({ id: 'Bad Id', version: 1 })).toThrow(/invalid device model "Bad Id": id:/);
  });
});

describe('a device with a model (against an in-process aedes broker)', () => {
  let broker: TestBroker;
  let platform: Recorder;
  const clients: Array<DeviceClient<DefinedModel | undefined>> = [];

  beforeEach(async () => {
    broker = await startTestBroker({ [ID]: SECRET });
    platform = await startRecorder(broker);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await platform.close();
    await broker.close();
  });

  function connect(): DeviceClient<typeof thermostat> {
    const client = connectDevice({
      url: broker.url,
      deviceId: ID,
      password: SECRET,
      reconnectPeriod: 100,
      model: thermostat,
    });
    clients.push(client);
    return client;
  }

  it('announces its model at connect, before online', async () => {
    const sut = connect();
    await sut.waitForConnect();
    const [announced] = await platform.waitFor((m) => m.topic === topics.model(ID));
    expect(JSON.parse(announced.text)).toEqual(thermostat.model);
    const order = platform.messages
      .map((m) => m.topic)
      .filter((t) => t === topics.model(ID) || t === topics.status(ID));
    expect(order).toEqual([topics.model(ID), topics.status(ID)]);
  });

  it("gives a handler its params as the model's schema parses them, and fails a command whose params do not fit", async () => {
    const sut = connect();
    const seen: Array<{ value: number; boost: boolean }> = [];
    sut.onCommand('setpoint.set', (params) => {
      seen.push(params);
      return { setpoint: params.value };
    });
    await sut.waitForConnect();
    const send = (commandId: string, params: unknown) =>
      platform.client.publishAsync(
        topics.command(ID, commandId),
        JSON.stringify({ name: 'setpoint.set', params, issuedAt: Date.now(), expiresAt: Date.now() + 60_000 }),
        { qos: 1 },
      );
    const last = (commandId: string) =>
      platform
        .waitFor((m) => m.topic === topics.commandResult(ID, commandId) && !m.text.includes('accepted'))
        .then((found) => JSON.parse(found[0].text) as unknown);

    await send('c1', { value: 21 });
    expect(await last('c1')).toEqual({ status: 'succeeded', result: { setpoint: 21 } });
    expect(seen).toEqual([{ value: 21, boost: false }]);
    await send('c2', { value: 99 });
    expect(await last('c2')).toEqual({
      status: 'failed',
      error: 'invalid command: params.value: Too big: expected number to be <=30',
    });
    expect(seen).toHaveLength(1);
  });

  it('types handlers and reports from the model: a command or a property it does not have does not compile', () => {
    const sut = connect();
    // @ts-expect-error: the model has no such command.
    expect(() => sut.onCommand('selfdestruct', () => undefined)).toThrow(
      'the model acme.thermostat has no command "selfdestruct"',
    );
    sut.onCommand('setpoint.set', (params) => {
      // @ts-expect-error: `value` is a number.
      const text: string = params.value;
      return text;
    });
    const reports = (patch: Parameters<typeof sut.reportState>[0]) => patch;
    expect(reports({ setpoint: 21, mode: 'eco' })).toEqual({ setpoint: 21, mode: 'eco' });
    // @ts-expect-error: `mode` is eco or comfort.
    reports({ mode: 'turbo' });
    // @ts-expect-error: the model reports no such property.
    reports({ colour: 'red' });
  });
});
