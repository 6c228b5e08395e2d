import { createHash } from 'node:crypto';

/** A message taken under a packet id, and who waits for its outcome. */
interface Taken {
  digest: string;
  stored: boolean;
  /**
   * The acknowledgement of a redelivery that came while it was being stored.
   * One: the broker delivers a message again only on a new connection, and an
   * older connection's acknowledgement can no longer be sent.
   */
  waiting: ((error?: Error) => void) | undefined;
}

/**
 * Recognises a QoS 1 message the broker delivers again (DUP set, after the
 * connection or the broker restarted before the api's PUBACK got through)
 * that the api took already: same packet id, topic and payload as the last
 * message under that id. Such a copy is not taken twice; it is acknowledged
 * with the first copy's outcome. A message that could not be stored is
 * forgotten, so its next delivery is taken. Packet ids are 16 bits, so at most
 * 65,535 entries are kept.
 */
export class RedeliveryFilter {
  private readonly takenById = new Map<number, Taken>();

  /**
   * Takes a message: returns the callback to call once it is stored (or with
   * an error when it could not be), which then calls `acknowledge`. For a
   * redelivery of a message taken already, returns undefined and calls
   * `acknowledge` with that message's outcome (at once when it is known).
   */
  take(
    messageId: number,
    dup: boolean,
    topic: string,
    payload: Buffer,
    acknowledge: (error?: Error) => void,
  ): ((error?: Error) => void) | undefined {
    const digest = createHash('sha1').update(topic).update('\0').update(payload).digest('base64');
    const earlier = dup ? this.takenById.get(messageId) : undefined;
    if (earlier?.digest === digest) {
      if (earlier.stored) acknowledge();
      else earlier.waiting = acknowledge;
      return undefined;
    }
    const taken: Taken = { digest, stored: false, waiting: undefined };
    this.takenById.set(messageId, taken);
    return (error) => {
      if (error) {
        if (this.takenById.get(messageId) === taken) this.takenById.delete(messageId);
      } else {
        taken.stored = true;
      }
      taken.waiting?.(error);
      taken.waiting = undefined;
      acknowledge(error);
    };
  }

  /** A new session: the broker has nothing to deliver again. */
  clear(): void {
    this.takenById.clear();
  }
}
