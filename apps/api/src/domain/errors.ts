import type { ErrorCode } from '@iot/protocol';

/**
 * What a refusal by the core means, whoever asked. Where the WebSocket
 * protocol has a code for it, the same name (so that edge maps it as is);
 * each edge maps the rest once (HTTP status, `error` frame code, MQTT notice).
 */
export type DomainErrorCode =
  | Extract<ErrorCode, 'bad_request' | 'not_found' | 'conflict'>
  /** A conditional change whose condition (an expected version) does not hold. */
  | 'precondition_failed'
  /** The result would outgrow a configured limit; nothing was changed. */
  | 'too_large'
  /** Refused for now (too busy); the same request may succeed later. */
  | 'unavailable';

/** A refusal the core throws; the message says why, to the person or device that asked. */
export class DomainError extends Error {
  override readonly name = 'DomainError';

  constructor(
    readonly code: DomainErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The `default` of each edge's switch over the codes: a new code does not compile until every edge maps it. */
export function unmappedCode(code: never): never {
  throw new Error(`no mapping for the domain error code ${String(code)}`);
}
