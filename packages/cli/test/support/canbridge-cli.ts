// bin/canbridge.js for the tests: the same entry over the TypeScript sources (no build).
import { main } from '../../src/main.ts'

const exit = (code: number) => process.stdout.write('', () => process.exit(code))

main(process.argv.slice(2)).then(exit, (error: unknown) => {
  process.stderr.write(
    `canbridge: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  )
  exit(3)
})
