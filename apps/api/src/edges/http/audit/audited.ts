import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { type Observable, tap } from 'rxjs';
import type { AuditOutcome } from '../../../domain/audit';
import type { AuthUser } from '../../../core/auth/auth-user';
import { AuditService } from '../../../core/audit/audit.service';

/**
 * What an audited route records: its action, and what it was done to and a
 * note, read off the request and what the route answered (when it did).
 */
export interface AuditSpec {
  action: string;
  target?: (req: Request, answer: unknown) => string | undefined;
  /** Never a secret: a name, the fields changed. */
  detail?: (req: Request, answer: unknown) => string | undefined;
}

export const AUDIT_KEY = 'iot:audit';

/** Records every request to the route in the audit log, with its outcome, once the answer is sent. */
export const Audited = (spec: AuditSpec) => SetMetadata(AUDIT_KEY, spec);

/** A request's body field, if it is a string (a body is untrusted: anything else is left out). */
export function bodyText(req: Request, field: string): string | undefined {
  const body = req.body as Record<string, unknown> | undefined;
  const value = body !== null && typeof body === 'object' && Object.hasOwn(body, field) ? body[field] : undefined;
  return typeof value === 'string' ? value.slice(0, 256) : undefined;
}

/** The names of a JSON object body's fields (never their values), as a note. */
export function bodyFields(req: Request): string | undefined {
  const body = req.body as unknown;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const keys = Object.keys(body);
  return keys.length === 0 ? undefined : keys.slice(0, 32).join(',');
}

/** A path parameter of the request. */
export const param =
  (name: string) =>
  (req: Request): string | undefined => {
    const value: unknown = req.params[name];
    return typeof value === 'string' ? value.slice(0, 256) : undefined;
  };

/** A string field of what the route answered. */
export function answerText(answer: unknown, ...path: string[]): string | undefined {
  let value = answer;
  for (const key of path) {
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  }
  return typeof value === 'string' ? value : undefined;
}

export function outcomeOf(status: number): AuditOutcome {
  if (status < 400) return 'ok';
  return status < 500 ? 'refused' : 'failed';
}

/**
 * Records audited routes (`@Audited`). Requests refused before they reach
 * the route (no login, a role too low) are not recorded; a failed login is.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly audit: AuditService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const spec = this.reflector.get<AuditSpec | undefined>(AUDIT_KEY, context.getHandler());
    if (spec === undefined || context.getType() !== 'http') return next.handle();
    const req = context.switchToHttp().getRequest<Request & { user?: AuthUser }>();
    const res = context.switchToHttp().getResponse<Response>();
    let answer: unknown;
    res.once('finish', () => {
      const user = req.user?.username ?? (spec.action === 'auth.login' ? bodyText(req, 'username') : undefined);
      this.audit.record({
        actor: user ?? null,
        action: spec.action,
        target: spec.target?.(req, answer) ?? null,
        outcome: outcomeOf(res.statusCode),
        address: req.ip ?? null,
        detail: spec.detail?.(req, answer) ?? null,
      });
    });
    return next.handle().pipe(tap((value: unknown) => (answer = value)));
  }
}
