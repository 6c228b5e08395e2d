import { createHash } from 'node:crypto';

/**
 * Recognises a QoS 1 message the broker delivers again (DUP set, after a
 * broker restart lost the api's PUBACK) that the api already took: same
 * packet id, topic and payload as the last message under that id. Packet ids
 * are 16 bits, so at most 65,535 digests are kept.
 */
export class RedeliveryFilter {
  private readonly lastById = new Map<number, string>();

  /** Whether this message is a redelivery of one already taken; records it otherwise. */
  seen(messageId: number | undefined, dup: boolean, topic: string, payload: Buffer): boolean {
    if (messageId === undefined) return false;
    const digest = createHash('sha1').update(topic).update('\0').update(payload).digest('base64');
    if (dup && this.lastById.get(messageId) === digest) return true;
    this.lastById.set(messageId, digest);
    return false;
  }

  /** A new session: the broker has nothing to deliver again. */
  clear(): void {
    this.lastById.clear();
  }
}
