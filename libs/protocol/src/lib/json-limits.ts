/**
 * Checks on parsed, untrusted JSON that run without recursion, so a value
 * nested thousands deep is refused before recursive code (a merge patch,
 * `structuredClone`, `JSON.stringify`, a deep compare) overflows the stack
 * on it.
 */

/** What {@link jsonShapeProblem} found. */
export type JsonShapeProblem = 'too_deep' | 'proto_key';

/**
 * `too_deep` when objects and arrays nest more than `maxDepth` levels (`{}`
 * and `[]` are depth 1, `{"a":{}}` depth 2); `proto_key` when an object has
 * a `__proto__` key, which plain assignment would take as its prototype;
 * undefined when neither. Walks every node once, with an explicit stack.
 */
export function jsonShapeProblem(value: unknown, maxDepth: number): JsonShapeProblem | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const nodes: object[] = [value];
  const depths: number[] = [1];
  while (nodes.length > 0) {
    const node = nodes.pop() as object;
    const depth = depths.pop() as number;
    if (depth > maxDepth) return 'too_deep';
    const children = Array.isArray(node) ? (node as unknown[]) : Object.values(node);
    if (!Array.isArray(node) && Object.prototype.hasOwnProperty.call(node, '__proto__')) return 'proto_key';
    for (const child of children) {
      if (typeof child === 'object' && child !== null) {
        nodes.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return undefined;
}
