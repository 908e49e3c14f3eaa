// Entry of the canbridge-edge single executable: runs the edge's own command line
// (packages/edge-client/dist/main.js, `main(argv, env)`), and answers --version with the
// build's details as well (runtime, addon ABI, target).
import { BUILD } from 'canbridge-sea:embedded'
import * as edge from 'canbridge-edge-main'

function buildLines(): string[] {
  return [
    `addon socketcan ${BUILD.socketcan} n-api ${BUILD.addonNapi} (${BUILD.target}, glibc >= ${BUILD.glibc})`,
    `build ${BUILD.commit} ${BUILD.date} single-executable`,
  ]
}

const argv = process.argv.slice(2)
// Until the edge prints the build's lines itself (its BUILD_INFO hook), add them here.
const wantsVersion = argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')
if (
  wantsVersion &&
  !(typeof edge.versionText === 'function' && edge.versionText().includes('single-executable'))
) {
  const base =
    typeof edge.versionText === 'function'
      ? edge.versionText()
      : [
          `canbridge-edge ${BUILD.version}`,
          `node ${process.version}`,
          `n-api ${process.versions.napi ?? 'unknown'}`,
        ].join('\n')
  process.stdout.write(`${base}\n${buildLines().join('\n')}\n`)
  process.exit(0)
}

edge.main(argv, process.env).then(
  (code: number) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `canbridge-edge: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exit(1)
  },
)
