import { HttpClient, HttpErrorResponse } from '@angular/common/http';
import { DestroyRef, inject, Injectable } from '@angular/core';
import {
  type ClientFrameName,
  type CommandAccepted,
  type CommandEvent,
  type CommandView,
  type CommandWithHistoryView,
  errorCodeForStatus,
  type ServerFrameMap,
  type StateVersion,
  TERMINAL_COMMAND_STATUSES,
} from '@iot/protocol';
import { firstValueFrom, type Observable, Subject, timeout, TimeoutError } from 'rxjs';
import { apiUrl } from '../api-url';
import { describeHttpError } from '../http-error';
import { StreamService } from '../stream/stream.service';
import { CONTROL_REPLY_TIMEOUT_MS, ControlError, type ReplyMap, type RequestData } from './control-socket.service';

/** How many commands sent over HTTP this tab follows on the stream at once (oldest forgotten first). */
export const HTTP_FOLLOWED_COMMANDS = 200;

/** A failed HTTP call as the {@link ControlError} the socket would have given. */
export function toControlError(error: unknown): ControlError {
  if (error instanceof ControlError) return error;
  if (error instanceof TimeoutError) return new ControlError('timeout', 'The platform did not answer in time.');
  if (error instanceof HttpErrorResponse) {
    if (error.status === 0) return new ControlError('disconnected', describeHttpError(error));
    return new ControlError(errorCodeForStatus(error.status), describeHttpError(error));
  }
  return new ControlError('internal', error instanceof Error ? error.message : 'The request failed.');
}

/**
 * The control requests over REST, for when the WebSocket cannot be used:
 * `POST /devices/{id}/commands`, `POST /commands/{id}/cancel` and
 * `PATCH /devices/{id}/state/desired` with `If-Match`. Answers have the
 * socket's reply shapes; the later transitions of the commands it sent come
 * from the stream's `command` events and are published on `commandStatus`,
 * as the socket publishes its `command.status` frames.
 */
@Injectable({ providedIn: 'root' })
export class HttpControlTransport {
  private readonly http = inject(HttpClient);
  private readonly replyTimeoutMs = inject(CONTROL_REPLY_TIMEOUT_MS);
  private readonly commandStatus$ = new Subject<ServerFrameMap['command.status']>();
  /** Commands sent over HTTP by this tab: their stream events are ours to report. Insertion-ordered, bounded. */
  private readonly followed = new Set<string>();

  readonly commandStatus: Observable<ServerFrameMap['command.status']> = this.commandStatus$.asObservable();

  constructor() {
    const subscription = inject(StreamService)
      .on('command')
      .subscribe((event) => this.onCommandEvent(event));
    inject(DestroyRef).onDestroy(() => {
      subscription.unsubscribe();
      this.commandStatus$.complete();
    });
  }

  send<K extends ClientFrameName>(event: K, data: RequestData<K>): Promise<ReplyMap[K]> {
    const requestId = crypto.randomUUID();
    switch (event) {
      case 'command.send':
        return this.sendCommand(requestId, data as RequestData<'command.send'>) as Promise<ReplyMap[K]>;
      case 'command.cancel':
        return this.cancel(requestId, data as RequestData<'command.cancel'>) as Promise<ReplyMap[K]>;
      default:
        return this.setDesired(requestId, data as RequestData<'state.desired.set'>) as Promise<ReplyMap[K]>;
    }
  }

  private async sendCommand(
    requestId: string,
    { deviceId, ...body }: RequestData<'command.send'>,
  ): Promise<ServerFrameMap['command.status']> {
    const url = apiUrl(`/devices/${encodeURIComponent(deviceId)}/commands`);
    const accepted = await this.call(this.http.post<CommandAccepted>(url, body));
    this.follow(accepted.commandId);
    // The 202 has neither name nor time; the command has the real transitions, so the
    // history shows each once (the stream's copies carry the same times).
    let record: CommandWithHistoryView | undefined;
    try {
      record = await this.call(
        this.http.get<CommandWithHistoryView>(apiUrl(`/commands/${encodeURIComponent(accepted.commandId)}`)),
      );
    } catch {
      record = undefined;
    }
    const transitions = record?.transitions.length ? record.transitions : [{ status: accepted.status, ts: Date.now() }];
    const [first, ...later] = transitions;
    const base = { commandId: accepted.commandId, deviceId, name: record?.name ?? body.name };
    later.forEach((transition, index) => {
      const last = index === later.length - 1;
      this.commandStatus$.next({
        ...base,
        status: transition.status,
        ts: transition.ts,
        ...(last && record?.result !== undefined ? { result: record.result } : {}),
        ...(last && record?.error !== undefined ? { error: record.error } : {}),
      });
    });
    return { requestId, ...base, status: first.status, ts: first.ts };
  }

  private async cancel(
    requestId: string,
    { commandId }: RequestData<'command.cancel'>,
  ): Promise<ServerFrameMap['command.status']> {
    const url = apiUrl(`/commands/${encodeURIComponent(commandId)}/cancel`);
    const command = await this.call(this.http.post<CommandView>(url, {}));
    return {
      requestId,
      commandId: command.commandId,
      deviceId: command.deviceId,
      name: command.name,
      status: command.status,
      ts: command.updatedAt,
    };
  }

  private async setDesired(
    requestId: string,
    { deviceId, patch, expectedVersion }: RequestData<'state.desired.set'>,
  ): Promise<ServerFrameMap['state.result']> {
    const url = apiUrl(`/devices/${encodeURIComponent(deviceId)}/state/desired`);
    const headers: Record<string, string> = expectedVersion === undefined ? {} : { 'If-Match': `"${expectedVersion}"` };
    const { version } = await this.call(this.http.patch<StateVersion>(url, patch, { headers }));
    return { requestId, deviceId, version };
  }

  private async call<T>(request: Observable<T>): Promise<T> {
    try {
      return await firstValueFrom(request.pipe(timeout(this.replyTimeoutMs)));
    } catch (error) {
      throw toControlError(error);
    }
  }

  private follow(commandId: string): void {
    this.followed.add(commandId);
    if (this.followed.size > HTTP_FOLLOWED_COMMANDS) {
      const [oldest] = this.followed;
      this.followed.delete(oldest);
    }
  }

  private onCommandEvent(event: CommandEvent): void {
    if (!this.followed.has(event.commandId)) return;
    this.commandStatus$.next(event);
    if (TERMINAL_COMMAND_STATUSES.has(event.status)) this.followed.delete(event.commandId);
  }
}
