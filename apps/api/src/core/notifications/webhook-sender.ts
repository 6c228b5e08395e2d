import { Injectable } from '@nestjs/common';

/** How much of a receiver's answer is read (and discarded), at most. */
const MAX_ANSWER_BYTES = 4 * 1024;
/** An error message stored in the delivery log, characters at most. */
const MAX_ERROR = 200;

/** How one request to a receiver went: 2xx is `ok`; otherwise its status or why there was none. */
export interface SendResult {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
}

/**
 * Posts a webhook request: no redirect is followed (a 3xx is a failure), the
 * answer must come within `timeoutMs`, and at most a few KiB of its body are
 * read, then it is dropped. Never throws.
 */
@Injectable()
export class WebhookSender {
  async send(
    url: string,
    body: string,
    headers: Record<string, string>,
    timeoutMs: number,
    cancel?: AbortSignal,
  ): Promise<SendResult> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = cancel ? AbortSignal.any([timeout, cancel]) : timeout;
    try {
      const res = await fetch(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'user-agent': 'iot-platform-webhooks', ...headers },
        redirect: 'manual',
        signal,
      });
      await discard(res.body);
      const ok = res.status >= 200 && res.status < 300;
      return { ok, statusCode: res.status, error: ok ? null : `HTTP ${res.status}` };
    } catch (error) {
      if (timeout.aborted) return { ok: false, statusCode: null, error: `no answer within ${timeoutMs} ms` };
      return { ok: false, statusCode: null, error: describe(error) };
    }
  }
}

/** Reads up to MAX_ANSWER_BYTES of a body and cancels the rest. */
async function discard(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (body === null) return;
  const reader = body.getReader();
  let read = 0;
  try {
    while (read < MAX_ANSWER_BYTES) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** A network error's reason, such as `connect ECONNREFUSED 127.0.0.1:9`, without a stack. */
function describe(error: unknown): string {
  // Duck-typed: fetch's errors may come from another realm than this module's Error.
  const messageOf = (value: unknown) =>
    typeof value === 'object' && value !== null && typeof (value as Error).message === 'string'
      ? (value as Error).message
      : undefined;
  const cause = typeof error === 'object' && error !== null ? (error as { cause?: unknown }).cause : undefined;
  return (messageOf(cause) ?? messageOf(error) ?? String(error)).slice(0, MAX_ERROR);
}
