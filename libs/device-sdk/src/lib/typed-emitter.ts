import { EventEmitter } from 'node:events';

/**
 * Listener signatures keyed by event name, such as
 * `{ connect: (connack: IConnackPacket) => void }`.
 */
export type EventMap = { [event: string]: (...args: never[]) => void };

/**
 * An `EventEmitter` whose event names and listener arguments come from an
 * {@link EventMap}, in the style of MQTT.js `src/lib/TypedEmitter.ts`: at run
 * time it is Node's `EventEmitter`; only the types are narrower.
 */
export interface TypedEventEmitter<TEvents extends EventMap> {
  /** Adds `listener` for `event`. */
  on<E extends keyof TEvents>(event: E, listener: TEvents[E]): this;
  /** Adds `listener` for the next `event` only. */
  once<E extends keyof TEvents>(event: E, listener: TEvents[E]): this;
  /** Removes `listener` from `event`. */
  off<E extends keyof TEvents>(event: E, listener: TEvents[E]): this;
  /** Removes `listener` from `event` (the same as {@link off}). */
  removeListener<E extends keyof TEvents>(event: E, listener: TEvents[E]): this;
  /** Removes every listener, or every listener of `event`. */
  removeAllListeners(event?: keyof TEvents): this;
  /** Calls the listeners of `event` with `args`; returns whether there were any. */
  emit<E extends keyof TEvents>(event: E, ...args: Parameters<TEvents[E]>): boolean;
  /** How many listeners `event` has. */
  listenerCount(event: keyof TEvents): number;
}

/** The constructor of {@link TypedEventEmitter}: Node's `EventEmitter`, typed. */
export const TypedEventEmitter = EventEmitter as unknown as new <
  TEvents extends EventMap,
>() => TypedEventEmitter<TEvents>;
