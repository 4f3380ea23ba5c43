/**
 * The `sculpt` command line: one file per command, each a thin layer over the library.
 * Every failure a user can cause ends as one line on stderr and a non-zero exit code.
 */
import { Command, CommanderError } from 'commander';
import { SculptError } from '../core/errors.js';
import { CASE_INSENSITIVE_OPTIONS, withFlagNames, withSuggestion } from './option-flags.js';
import { relaunchTuned } from './relaunch.js';
/** Each command file exports one of these; `main` calls it to add the command to the program. */
export type CommandRegistrar = (program: Command) => void;

/**
 * The commands, in help order, each loaded on demand: a command's file imports what it needs
 * (TensorFlow.js, vega, onnxruntime), and `sculpt prune` should not pay a second of start-up
 * for libraries it never calls. Only `--help` and unknown commands load them all.
 */
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<CommandRegistrar>]> = [
  ['demo', async () => (await import('./demo.js')).registerDemo],
  ['prune', async () => (await import('./prune.js')).registerPrune],
  ['inspect', async () => (await import('./inspect.js')).registerInspect],
  ['train', async () => (await import('./train.js')).registerTrain],
  ['imp', async () => (await import('./imp.js')).registerImp],
  ['gmp', async () => (await import('./gmp.js')).registerGmp],
  ['experiment', async () => (await import('./experiment.js')).registerExperiment],
  ['analyze', async () => (await import('./analyze.js')).registerAnalyze],
  ['export', async () => (await import('./export.js')).registerExport],
  ['pack', async () => (await import('./pack.js')).registerPack],
  ['run', async () => (await import('./run.js')).registerRun],
  ['bench', async () => (await import('./bench.js')).registerBench],
  ['eval', async () => (await import('./eval.js')).registerEval],
  ['sweep', async () => (await import('./sweep.js')).registerSweep],
  ['worker', async () => (await import('./worker.js')).registerWorker],
];

/** The registrars `argv` needs: the named command's alone when there is one, else all. */
async function registrarsFor(argv: readonly string[]): Promise<CommandRegistrar[]> {
  const args = argv.slice(2);
  const name = args[0] === 'help' ? args[1] : args[0];
  const one = COMMANDS.find(([n]) => n === name);
  // --version alone needs no command: loading them all took ~1 s (TensorFlow.js among them).
  const chosen = one ? [one] : args.length === 1 && (args[0] === '--version' || args[0] === '-V') ? [] : COMMANDS;
  return Promise.all(chosen.map(([, load]) => load()));
}

export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command();
  program
    .name('sculpt')
    .description('Magnitude pruning for neural networks: ONNX, safetensors and TensorFlow.js.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(commanderLine(s, 'sculpt')) })
    .hook('preAction', (_program, action) => lowerCaseChoices(action));
  for (const register of await registrarsFor(argv)) register(program);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    cmd.configureOutput({ ...program.configureOutput(), outputError: (s, write) => write(commanderLine(s, `sculpt ${cmd.name()}`)) });
    markRequired(cmd);
  }
  return program;
}

/**
 * commander's own errors (unknown option, missing argument, required option) in sculpt's form:
 * one line, `sculpt: ` first like every other error, its "Did you mean" kept, and where to look.
 */
function commanderLine(text: string, usage: string): string {
  const message = text.replace(/^error: /, '').trim().split('\n').map((l) => l.trim()).filter((l) => l.length > 0)
    .map((l) => l.replace(/^\(Did you mean (.*)\)$/, '(did you mean $1)')).join(' ');
  return `sculpt: ${message}; see ${usage} --help\n`;
}

/** `(required)` after every mandatory option's description, so `--help` shows what must be given. */
function markRequired(cmd: Command): void {
  for (const o of cmd.options) {
    if (o.mandatory && !/\(required/.test(o.description)) o.description = `${o.description} (required)`;
  }
}

/** Values of the options in CASE_INSENSITIVE_OPTIONS lower-cased before the action reads them. */
function lowerCaseChoices(cmd: Command): void {
  for (const [key, value] of Object.entries(cmd.opts())) {
    if (!CASE_INSENSITIVE_OPTIONS.has(key)) continue;
    const lower = typeof value === 'string' ? value.toLowerCase()
      : Array.isArray(value) ? value.map((v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v)) : value;
    cmd.setOptionValueWithSource(key, lower, cmd.getOptionValueSource(key) ?? 'cli');
  }
}

/** Runs the CLI on `argv` (as in `process.argv`) and resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  // `sculpt ... | head` closes the pipe early: stop quietly instead of throwing EPIPE.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const relaunched = await relaunchTuned(argv);
  if (relaunched !== undefined) return relaunched;
  try {
    const program = await buildProgram(argv);
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
    process.stderr.write(`sculpt: ${withSuggestion(withFlagNames(err.message))}\n`);
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
