import type { IncomingMessage } from 'node:http';
import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { LIMITS } from '@iot/protocol';

/** Decides on an upgrade before it completes: a status to refuse it with, or the request's user. */
export type UpgradeCheck = (req: IncomingMessage) => Promise<{ ok: true } | { ok: false; status: 401 | 403; message: string }>;

/**
 * The plain `ws` adapter, with the checks a browser-facing socket needs
 * before the upgrade completes (Origin allow-list, authentication) and the
 * frame size cap. Oversized frames close with 1009; ws emits 'error' on the
 * socket first, which the adapter already listens to.
 */
export class PlatformWsAdapter extends WsAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly check: UpgradeCheck,
  ) {
    super(app);
  }

  override create(port: number, options: Record<string, unknown> = {}): ReturnType<WsAdapter['create']> {
    return super.create(port, {
      ...options,
      maxPayload: LIMITS.maxWsFrameBytes,
      verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, status?: number, message?: string) => void) => {
        this.check(info.req).then(
          (result) => (result.ok ? done(true) : done(false, result.status, result.message)),
          () => done(false, 401, 'Unauthorized'),
        );
      },
    });
  }
}
