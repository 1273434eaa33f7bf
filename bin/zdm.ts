#!/usr/bin/env node
import { main } from '../cli/main';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // main() reports expected failures itself; this is the last resort for a bug, without a stack dump.
    process.stderr.write(`zdm: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
