import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ZodValidationException } from 'nestjs-zod';
import type { ZodError } from 'zod';
import type { ApiError } from '@iot/protocol';
import { DomainError, type DomainErrorCode, unmappedCode } from '../../domain/errors';

function describe(error: ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

export function statusText(status: number): string {
  const name: string | undefined = HttpStatus[status];
  return name ? name.split('_').map((w) => w[0] + w.slice(1).toLowerCase()).join(' ') : 'Error';
}

/** The status that answers a refusal by the core. */
export function statusForDomainError(code: DomainErrorCode): number {
  switch (code) {
    case 'bad_request':
      return HttpStatus.BAD_REQUEST;
    case 'not_found':
      return HttpStatus.NOT_FOUND;
    case 'conflict':
      return HttpStatus.CONFLICT;
    case 'precondition_failed':
      return HttpStatus.PRECONDITION_FAILED;
    case 'too_large':
      return HttpStatus.PAYLOAD_TOO_LARGE;
    case 'unavailable':
      return HttpStatus.SERVICE_UNAVAILABLE;
    default:
      return unmappedCode(code);
  }
}

/**
 * One shape for every error answer: `{statusCode, error, message}` with a
 * message a person can act on. Validation failures name the field. Counted
 * by the HTTP metrics (iot_http_requests_total), as every answer is.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(HttpErrorFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    let body: ApiError;
    if (exception instanceof DomainError) {
      const status = statusForDomainError(exception.code);
      body = { statusCode: status, error: statusText(status), message: exception.message };
    } else if (exception instanceof ZodValidationException) {
      body = { statusCode: 400, error: 'Bad Request', message: describe(exception.getZodError() as ZodError) };
    } else if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const message =
        typeof response === 'string'
          ? response
          : Array.isArray((response as { message?: unknown }).message)
            ? ((response as { message: string[] }).message).join('; ')
            : String((response as { message?: unknown }).message ?? exception.message);
      body = { statusCode: status, error: statusText(status), message };
    } else {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
      body = { statusCode: 500, error: 'Internal Server Error', message: 'internal error' };
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(body.statusCode).json(body);
  }
}
