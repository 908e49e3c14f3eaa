#!/usr/bin/env node
// canbridge: the workstation command line (dump, play, ...; see --help). Runs the built CLI.
import { main } from '../dist/main.js'

// exit once what was printed has left (stdout can be asynchronous, e.g. a pipe on macOS)
const exit = (code) => process.stdout.write('', () => process.exit(code))

main(process.argv.slice(2)).then(exit, (error) => {
  process.stderr.write(
    `canbridge: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  )
  exit(3)
})
