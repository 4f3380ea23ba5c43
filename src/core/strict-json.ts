/**
 * JSON as sculpt reads it from model files: `JSON.parse`, plus a refusal of what JSON.parse lets
 * through silently — a byte-order mark and an object with the same key twice (the last one would
 * win, so two readers could see different tensors).
 */

/** Parses `text`; throws a one-line Error (callers wrap it in their file's SculptError) on bad JSON. */
export function parseStrictJson(text: string): unknown {
  if (text.charCodeAt(0) === 0xfeff) throw new Error('starts with a byte-order mark, which JSON does not allow');
  const value: unknown = JSON.parse(text);
  const key = duplicateKey(text);
  if (key !== undefined) throw new Error(`key ${JSON.stringify(key)} appears twice in one object`);
  return value;
}

/** The first key that repeats within one object of a valid JSON text, or undefined. */
export function duplicateKey(text: string): string | undefined {
  // Iterative scan of an already valid text: a stack of key sets (null for arrays).
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (; j < text.length; j++) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) { j++; escaped = true; } else if (d === 0x22) break;
      }
      if (expectKey) {
        const raw = text.slice(i, j + 1);
        const k = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        const keys = stack[stack.length - 1]!;
        if (keys.has(k)) return k;
        keys.add(k);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] != null;
    }
  }
  return undefined;
}
