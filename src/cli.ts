#!/usr/bin/env node
import {runCli} from './adapters/cli/main.js'

const code = await runCli(process.argv.slice(2), {
  stdout: s => process.stdout.write(s),
  stderr: s => process.stderr.write(s),
  env: process.env
})
process.exitCode = code
