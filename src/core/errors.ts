/**
 * The one error type users see. Its message is a single line naming the file, tensor or flag
 * that is wrong and what would fix it; the CLI prints it as it is and exits non-zero.
 */
export class SculptError extends Error {
  /** Process exit code the CLI uses for this error (2: bad usage or input, 1: anything else). */
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'SculptError';
    this.exitCode = exitCode;
  }
}
