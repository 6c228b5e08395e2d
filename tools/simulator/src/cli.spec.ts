import { CliError, parseCli, type CliOptions } from './cli';

function run(argv: string[]): CliOptions {
  const command = parseCli(argv);
  if (command.kind !== 'run') throw new Error('expected options');
  return command.options;
}

describe('parseCli', () => {
  it('reads every flag', () => {
    const sut = run([
      '--devices',
      '50',
      '--rate',
      '2',
      '--api',
      'http://10.0.0.5:3000',
      '--mqtt',
      'mqtts://broker:8883',
      '--username',
      'ops',
      '--password',
      'pw',
      '--prefix',
      'lab',
      '--types',
      'meter,air',
      '--flaky',
      '0',
      '--seed',
      '7',
      '--qos',
      '1',
    ]);

    expect(sut).toEqual({
      devices: 50,
      rate: 2,
      apiUrl: 'http://10.0.0.5:3000',
      mqttUrl: 'mqtts://broker:8883',
      username: 'ops',
      password: 'pw',
      prefix: 'lab',
      types: ['meter', 'air'],
      flaky: 0,
      seed: 7,
      qos: 1,
    });
  });

  it('has defaults, with the broker on the api host', () => {
    expect(run(['--api', 'http://iot.local:8080'])).toEqual({
      devices: 10,
      rate: 1,
      apiUrl: 'http://iot.local:8080',
      mqttUrl: 'mqtt://iot.local:1883',
      username: undefined,
      password: undefined,
      prefix: 'sim',
      types: ['thermostat', 'meter', 'air'],
      flaky: 0.02,
      seed: undefined,
      qos: 0,
    });
  });

  it('asks for help', () => {
    expect(parseCli(['-h'])).toEqual({ kind: 'help' });
  });

  it.each([
    [['--devices', '0'], /--devices must be an integer from 1/],
    [['--devices', '2.5'], /--devices must be an integer/],
    [['--rate', 'fast'], /--rate must be a number/],
    [['--rate', ''], /--rate must be a number/],
    [['--flaky', '2'], /--flaky must be a number from 0 to 1/],
    [['--qos', '2'], /--qos/],
    [['--types', 'thermostat,fridge'], /unknown: fridge/],
    [['--api', 'ftp://x'], /--api must be a http, https URL/],
    [['--mqtt', 'not a url'], /--mqtt must be a URL/],
    [['--prefix', 'a/b'], /--prefix/],
    [['--devices'], /argument missing/],
    [['--frobnicate'], /Unknown option/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCli(argv)).toThrow(CliError);
    expect(() => parseCli(argv)).toThrow(message);
  });
});
