/** Text outputs of commands (reports, JSON results) written the way every model output is: atomically. */
import { writeFileAtomic } from '../formats/fsutil.js';

/** Writes `text` to `path` through a swept, fsynced temporary renamed into place. */
export function writeTextAtomic(path: string, text: string): void {
  writeFileAtomic(path, new TextEncoder().encode(text));
}
