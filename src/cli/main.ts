/**
 * The `sculpt` command line: one file per command, each a thin layer over the library.
 * Every failure a user can cause ends as one line on stderr and a non-zero exit code.
 */
import { Command, CommanderError } from 'commander';
import { SculptError } from '../core/errors.js';
import { registerPrune } from './prune.js';
import { registerInspect } from './inspect.js';
import { registerExperiment } from './experiment.js';
import { registerAnalyze } from './analyze.js';
import { registerTrain } from './train.js';
import { registerImp } from './imp.js';
import { registerGmp } from './gmp.js';
import { registerDemo } from './demo.js';

/** Each command file exports one of these; `main` calls them in order to build the program. */
export type CommandRegistrar = (program: Command) => void;

const registrars: CommandRegistrar[] = [
  registerDemo, registerPrune, registerInspect, registerTrain, registerImp, registerGmp, registerExperiment, registerAnalyze,
];

/** Adds a command module (used by command files that load lazily or by embedding programs). */
export function addCommand(registrar: CommandRegistrar): void {
  registrars.push(registrar);
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('sculpt')
    .description('Magnitude pruning for neural networks: ONNX, safetensors and TensorFlow.js.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const register of registrars) register(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** Runs the CLI on `argv` (as in `process.argv`) and resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    return reportError(err);
  }
}

function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // commander has already printed its one-line message (or the help / version text).
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof SculptError) {
    process.stderr.write(`sculpt: ${err.message}\n`);
    return err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && e.path) {
    process.stderr.write(`sculpt: ${e.path}: ${describeErrno(e.code)}\n`);
    return 2;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`sculpt: internal error: ${message.split('\n')[0]} (set SCULPT_DEBUG=1 for details)\n`);
  if (process.env.SCULPT_DEBUG) console.error(err);
  return 1;
}

function describeErrno(code: string): string {
  switch (code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory, expected a file';
    case 'ENOSPC': return 'no space left on the device';
    default: return code;
  }
}
