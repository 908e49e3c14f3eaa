#!/usr/bin/env node
// canbridge-soak: soak test of canbridge end to end (see --help). Runs the built CLI.
import { main } from '../dist/cli.js'

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(
      `canbridge-soak: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exit(3)
  },
)
