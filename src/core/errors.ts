/**
 * The one error type users see. Its message is a single line naming the file, tensor or flag
 * that is wrong and what would fix it; the CLI prints it as it is and exits non-zero.
 */
export class SculptError extends Error {
  /** Process exit code the CLI uses for this error (2: bad usage or input, 1: anything else). */
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    // Names in messages come from files: never let one carry a newline or a terminal escape.
    super(escapeUnprintable(message));
    this.name = 'SculptError';
    this.exitCode = exitCode;
  }
}

/** `s` with control, line-separator and bidirectional-override characters written as `\uXXXX`. */
export function escapeUnprintable(s: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Whether a message is one line of printable characters (what every SculptError holds). */
export function isPrintableLine(s: string): boolean {
  return escapeUnprintable(s) === s;
}
