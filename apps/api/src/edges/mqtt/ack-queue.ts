/**
 * A PUBACK with reason code 0: fixed header, remaining length 2, packet id.
 * MQTT 5 lets the reason code and properties be left out when the code is 0
 * (3.2.2.1), so the same four bytes serve 3.1.1 and 5.
 */
function puback(messageId: number, into: Buffer, at: number): void {
  into[at] = 0x40;
  into[at + 1] = 0x02;
  into.writeUInt16BE(messageId, at + 2);
}

/**
 * The acknowledgements owed on one connection to the broker. Each QoS 1
 * message is acknowledged once its outcome is known, and in the order the
 * messages came (MQTT-4.6.0-2): a message stored early waits behind an earlier
 * one still being stored. The first error ends the queue: nothing more is
 * acknowledged on this connection and `failed` is called, once.
 */
export class AckQueue {
  /** Owed packet ids in arrival order, and whether each is settled; `base` numbers the first. */
  private ids: number[] = [];
  private settled: boolean[] = [];
  private base = 0;
  private head = 0;
  private ended = false;

  constructor(
    /** Writes PUBACK packets (several at once when several are due). */
    private readonly send: (packets: Buffer) => void,
    private readonly failed: () => void,
  ) {}

  /** How many messages wait for their acknowledgement. */
  get pending(): number {
    return this.ids.length - this.head;
  }

  /** Queues a message's acknowledgement; returns what to call once it is stored, or with an error. */
  add(messageId: number): (error?: Error) => void {
    const number = this.base + this.ids.length;
    this.ids.push(messageId);
    this.settled.push(false);
    let called = false;
    return (error) => {
      if (called || this.ended) return;
      called = true;
      if (error) {
        this.end();
        this.failed();
        return;
      }
      this.settled[number - this.base] = true;
      this.flush();
    };
  }

  /** The connection is gone: whatever is still owed, the broker delivers again. */
  end(): void {
    this.ended = true;
    this.ids = [];
    this.settled = [];
  }

  private flush(): void {
    const from = this.head;
    while (this.head < this.ids.length && this.settled[this.head]) this.head++;
    const due = this.head - from;
    if (due === 0) return;
    const packets = Buffer.allocUnsafe(4 * due);
    for (let i = 0; i < due; i++) puback(this.ids[from + i], packets, 4 * i);
    // Drop what was sent when that is everything, or most of a long queue.
    if (this.head === this.ids.length || (this.head > 1024 && this.head * 2 > this.ids.length)) {
      this.ids = this.ids.slice(this.head);
      this.settled = this.settled.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
    this.send(packets);
  }
}
