import type { IncomingMessage } from 'node:http';
import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { LIMITS } from '@iot/protocol';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config';
import { MetricsService } from '../../platform/metrics/metrics.service';

/** Decides on an upgrade before it completes: a status to refuse it with, or the request's user. */
export type UpgradeCheck = (req: IncomingMessage) => Promise<{ ok: true } | { ok: false; status: 401 | 403; message: string }>;

/**
 * The plain `ws` adapter, with the checks a browser-facing socket needs
 * before the upgrade completes (Origin allow-list, authentication, sockets
 * per user) and the frame size cap. Oversized frames close with 1009; ws
 * emits 'error' on the socket first, which the adapter already listens to.
 */
export class PlatformWsAdapter extends WsAdapter {
  /** username → sockets open or being opened; an entry goes when its count reaches 0. */
  private readonly socketsPerUser = new Map<string, number>();
  private readonly metrics: MetricsService;

  constructor(
    app: INestApplicationContext,
    private readonly check: UpgradeCheck,
    private readonly maxSocketsPerUser = app.get<AppConfig>(APP_CONFIG).wsMaxSocketsPerUser,
  ) {
    super(app);
    this.metrics = app.get(MetricsService);
  }

  override create(port: number, options: Record<string, unknown> = {}): ReturnType<WsAdapter['create']> {
    return super.create(port, {
      ...options,
      maxPayload: LIMITS.maxWsFrameBytes,
      verifyClient: (
        info: { req: IncomingMessage },
        done: (ok: boolean, status?: number, message?: string, headers?: Record<string, string>) => void,
      ) => {
        this.check(info.req).then(
          (result) => {
            if (!result.ok) {
              this.metrics.refuseWs(result.status === 403 ? 'forbidden_origin' : 'unauthorized');
              return done(false, result.status, result.message);
            }
            if (!this.reserve(info.req)) {
              this.metrics.refuseWs('too_many_sockets');
              return done(false, 429, `at most ${this.maxSocketsPerUser} WebSockets per user`);
            }
            done(true);
          },
          () => {
            this.metrics.refuseWs('unauthorized');
            done(false, 401, 'Unauthorized');
          },
        );
      },
    });
  }

  /** The gateway reads every frame itself (it answers each one), so Nest's own per-frame JSON parse is skipped. */
  override bindMessageHandlers(): void {
    // nothing to bind: the gateway has no @SubscribeMessage handlers
  }

  /**
   * Counts the socket against its user's cap, until its TCP connection
   * closes, whatever ends it (refused by ws after this, closed, or dropped):
   * sockets are counted from the upgrade, so parallel upgrades cannot pass
   * the cap together.
   */
  private reserve(req: IncomingMessage): boolean {
    const username = (req as IncomingMessage & { user?: { username: string } }).user?.username;
    // No user: the gateway closes the socket at once. Gone already: ws drops it, and 'close' has fired.
    if (username === undefined || req.socket.destroyed) return true;
    const open = this.socketsPerUser.get(username) ?? 0;
    if (open >= this.maxSocketsPerUser) return false;
    this.socketsPerUser.set(username, open + 1);
    req.socket.once('close', () => {
      const left = (this.socketsPerUser.get(username) ?? 1) - 1;
      if (left > 0) this.socketsPerUser.set(username, left);
      else this.socketsPerUser.delete(username);
    });
    return true;
  }
}
