import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { PinoLogger } from 'nestjs-pino';
import { AppLogger, PINO_LEVELS, createRootLogger, requestId } from './logger';

/** A destination that keeps what is written. */
function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('createRootLogger', () => {
  it('maps LOG_LEVEL onto pino levels', () => {
    expect(PINO_LEVELS).toEqual({ error: 'error', warn: 'warn', log: 'info', debug: 'debug' });
    const { stream } = sink();
    expect(createRootLogger({ logLevel: 'log', logFormat: 'json' }, stream).level).toBe('info');
    expect(createRootLogger({ logLevel: 'error', logFormat: 'pretty' }, stream).level).toBe('error');
  });

  it('writes one JSON object a line, level by name, with secrets redacted', () => {
    const out = sink();
    const logger = createRootLogger({ logLevel: 'log', logFormat: 'json' }, out.stream);

    logger.info({ req: { headers: { authorization: 'Bearer abc.def', cookie: 'iot_session=xyz' } } }, 'first');
    logger.warn({ password: 'hunter2-hunter2', username: 'bob' }, 'second');

    const lines = out
      .text()
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'first' });
    expect(lines[1]).toMatchObject({ level: 'warn', msg: 'second', username: 'bob', password: '[redacted]' });
    expect(out.text()).not.toMatch(/abc\.def|xyz|hunter2/);
  });

  it('writes readable lines without colour codes when not on a terminal', () => {
    const out = sink();
    const logger = createRootLogger({ logLevel: 'log', logFormat: 'pretty' }, out.stream);

    logger.warn({ context: 'AuthService', username: 'bob' }, 'failed login');

    expect(out.text()).toMatch(/WARN: \[AuthService\] failed login \{"username":"bob"\}\n$/);
    expect(out.text()).not.toContain('\x1b');
  });
});

describe('requestId', () => {
  function ids(sent: string | undefined): { id: string; header: unknown } {
    const headers: Record<string, unknown> = {};
    const req = { headers: sent === undefined ? {} : { 'x-request-id': sent } } as IncomingMessage;
    const res = { setHeader: (name: string, value: unknown) => (headers[name] = value) } as unknown as ServerResponse;
    const id = requestId(req, res);
    return { id, header: headers['X-Request-Id'] };
  }

  it('keeps a short, safe X-Request-Id and echoes it', () => {
    expect(ids('abc-123.x:y_z')).toEqual({ id: 'abc-123.x:y_z', header: 'abc-123.x:y_z' });
  });

  it.each([undefined, '', 'a'.repeat(65), 'with space', 'line\nbreak', '{"json":1}'])(
    'makes a new one for %p',
    (sent) => {
      const { id, header } = ids(sent);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(header).toBe(id);
    },
  );
});

describe('AppLogger', () => {
  it("drops Nest's start chatter below warn and keeps everything else", () => {
    const calls: Array<[string, unknown]> = [];
    const pino = {
      info: (fields: unknown) => calls.push(['info', fields]),
      warn: (fields: unknown) => calls.push(['warn', fields]),
      debug: (fields: unknown) => calls.push(['debug', fields]),
    };
    const logger = new AppLogger(pino as unknown as PinoLogger, {});

    logger.log('Mapped {/api/v1/devices, GET} route', 'RouterExplorer');
    logger.log('AppModule dependencies initialized', 'InstanceLoader');
    logger.debug('DevicesController {/api/v1/devices}:', 'RoutesResolver');
    logger.warn('Unsupported route path', 'RoutesResolver');
    logger.log('api listening', 'main');

    expect(calls).toEqual([
      ['warn', { context: 'RoutesResolver' }],
      ['info', { context: 'main' }],
    ]);
  });
});
