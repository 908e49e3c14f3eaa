// Entry of the canbridge-edge single executable: runs the edge's own command line
// (packages/edge-client/dist/main.js, `main(argv, env)`). --version prints this build's
// details through the edge's BUILD_INFO (dist/build-info.js, replaced by build.ts).
import * as edge from 'canbridge-edge-main'

edge.main(process.argv.slice(2), process.env).then(
  (code: number) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `canbridge-edge: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exit(1)
  },
)
