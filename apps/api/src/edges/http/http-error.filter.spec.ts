import { type ArgumentsHost, Logger, NotFoundException } from '@nestjs/common';
import type { Response } from 'express';
import { DomainError, type DomainErrorCode } from '../../domain/errors';
import { HttpErrorFilter, statusForDomainError } from './http-error.filter';

/** Just what the filter uses of a response; records the answer. */
interface FakeResponse {
  headersSent: boolean;
  status: jest.Mock<FakeResponse, [number]>;
  json: jest.Mock<FakeResponse, [unknown]>;
  destroy: jest.Mock;
}

function response(headersSent = false): FakeResponse {
  const res: FakeResponse = {
    headersSent,
    status: jest.fn<FakeResponse, [number]>(() => res),
    json: jest.fn<FakeResponse, [unknown]>(() => res),
    destroy: jest.fn(),
  };
  return res;
}

function host(res: FakeResponse): ArgumentsHost {
  return { switchToHttp: () => ({ getResponse: () => res as unknown as Response }) } as unknown as ArgumentsHost;
}

describe('HttpErrorFilter', () => {
  let sut: HttpErrorFilter;
  let logged: jest.SpyInstance;

  beforeEach(() => {
    sut = new HttpErrorFilter();
    logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  /** Each code's status and `error` text; a Record, so a new code does not compile until it is added here. */
  const expected: Record<DomainErrorCode, [status: number, error: string]> = {
    bad_request: [400, 'Bad Request'],
    not_found: [404, 'Not Found'],
    conflict: [409, 'Conflict'],
    precondition_failed: [412, 'Precondition Failed'],
    too_large: [413, 'Payload Too Large'],
    unavailable: [503, 'Service Unavailable'],
  };
  const rows = Object.entries(expected).map(
    ([code, [status, error]]): [DomainErrorCode, number, string] => [code as DomainErrorCode, status, error],
  );

  it.each(rows)('answers %s with %i %s and the message, unlogged', (code, status, error) => {
    const res = response();
    sut.catch(new DomainError(code, `refused: ${code}`), host(res));
    expect(statusForDomainError(code)).toBe(status);
    expect(res.status).toHaveBeenCalledWith(status);
    expect(res.json).toHaveBeenCalledWith({ statusCode: status, error, message: `refused: ${code}` });
    expect(logged).not.toHaveBeenCalled();
  });

  it('answers an HttpException of an edge with its own status and message', () => {
    const res = response();
    sut.catch(new NotFoundException('no route'), host(res));
    expect(res.json).toHaveBeenCalledWith({ statusCode: 404, error: 'Not Found', message: 'no route' });
  });

  it('answers anything else 500 without its message, and logs it', () => {
    const res = response();
    sut.catch(new Error('database gone'), host(res));
    expect(res.json).toHaveBeenCalledWith({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
    expect(logged).toHaveBeenCalledWith(expect.stringContaining('database gone'));
  });

  it('drops a response whose head already went out', () => {
    const res = response(true);
    sut.catch(new DomainError('not_found', 'gone'), host(res));
    expect(res.destroy).toHaveBeenCalled();
    expect(res.status).not.toHaveBeenCalled();
  });
});
