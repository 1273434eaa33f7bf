#!/usr/bin/env node
import { main } from '../lambda/cli/main';

main(process.argv.slice(2)).then((code) => process.exit(code));
