// A stand-in for the canbridge CLI in tests: mounts "keys" as the lead's CLI will, parses
// argv, and exits as commander says. Run by cli-process.test.ts with Node's type stripping.
import { Command } from 'commander'
import { createKeysCommand } from '../../src/keys/index.ts'

await new Command('canbridge').addCommand(createKeysCommand()).parseAsync(process.argv)
