/** High-resolution wall-clock time in epoch ms, comparable across processes on one machine. */
export function nowEpochMs(): number {
  return performance.timeOrigin + performance.now();
}
