// Development entry: runs the CLI from the TypeScript sources (node --import tsx src/cli/dev.ts ...).
import { main } from './main.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
