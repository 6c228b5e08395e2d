/**
 * SSE event ids: `{epoch}-{seq}`. `seq` is the event's place in the log;
 * `epoch` is made once per database, so an id from another database (or
 * one wiped and made again) is recognised as foreign instead of resuming
 * at a wrong place. Short and ASCII, as EventSource wants them.
 */
export function formatEventId(epoch: string, seq: number): string {
  return `${epoch}-${seq}`;
}

/** The seq of an id made by this database, or undefined for anything else. */
export function parseEventId(epoch: string, id: string | undefined): number | undefined {
  if (!id || id.length > 64) return undefined;
  const dash = id.lastIndexOf('-');
  if (dash <= 0 || id.slice(0, dash) !== epoch) return undefined;
  const digits = id.slice(dash + 1);
  if (!/^\d{1,15}$/.test(digits)) return undefined;
  return Number(digits);
}
