#!/usr/bin/env node
/** The `obs` executable. */
import { main, mainDev } from './main.js';

const argv = process.argv.slice(2);
// `obs dev` runs until stopped; every other command writes its output and returns.
process.exitCode = argv[0] === 'dev' ? await mainDev(argv.slice(1)) : main(argv);
