/**
 * `s` with control characters and other unprintables escaped, for one-line messages, and cut to
 * `max` characters (a name a mutated file makes out of its payload can be megabytes long).
 * Node-free, so the ONNX decoder runs in a browser.
 */
export function printable(s: string, max = 200): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return cut.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
