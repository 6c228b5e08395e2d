import { Injectable, Logger } from '@nestjs/common';
import type { CommandEvent } from '@iot/protocol';
import type { StoredEvent } from '../../domain/events';

/**
 * What happens inside the platform, by name, with the arguments each
 * listener gets. The edges (the SSE hub, the WebSocket gateway) react to
 * these; nothing in the core calls an edge.
 */
export interface PlatformEvents {
  /** A batch of device events committed to the log, in log order, with each one's receive time (epoch ms). */
  committed: [events: StoredEvent[], receivedAt: number[]];
  /** A command changed status (the same data as the `command` SSE event). */
  'command.transition': [update: CommandEvent];
  /** Sessions that ended: logout, a new password or role, or a deleted user. Their streams and sockets close. */
  'sessions.ended': [sessionIds: ReadonlySet<string>];
  /** A device was added, changed (labels, model) or deleted, through this replica or another. */
  'device.changed': [deviceId: string];
}

export type PlatformEventName = keyof PlatformEvents;
type Listener<K extends PlatformEventName> = (...args: PlatformEvents[K]) => void;

/**
 * The core's in-process event bus: typed by PlatformEvents, synchronous, and
 * a listener that throws is logged without keeping the event from the others
 * or from its emitter.
 */
@Injectable()
export class EventBus {
  private readonly logger = new Logger(EventBus.name);
  private readonly listeners: { [K in PlatformEventName]: Array<Listener<K>> } = {
    committed: [],
    'command.transition': [],
    'sessions.ended': [],
    'device.changed': [],
  };

  /** Calls `listener` on every `name` event from now on; returns the call that stops it. */
  on<K extends PlatformEventName>(name: K, listener: Listener<K>): () => void {
    const list = this.listeners[name] as Array<Listener<K>>;
    list.push(listener);
    return () => {
      const at = list.indexOf(listener);
      if (at !== -1) list.splice(at, 1);
    };
  }

  emit<K extends PlatformEventName>(name: K, ...args: PlatformEvents[K]): void {
    for (const listener of this.listeners[name] as Array<Listener<K>>) {
      try {
        listener(...args);
      } catch (error) {
        this.logger.error(`a ${name} listener failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
    }
  }
}
