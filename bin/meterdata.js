#!/usr/bin/env node
'use strict';
require('reflect-metadata');
require('../dist/src/cli/main.js')
  .main(process.argv)
  .catch((err) => {
    process.stderr.write(`meterdata: ${err && err.message ? err.message : String(err)}\n`);
    process.exit(typeof err?.exitCode === 'number' ? err.exitCode : 1);
  });
