// Test tooling shipped with the package (`@canbridge/cli/testing`): the canbridge command in a
// child process, used by this package's tests and by packages/e2e.
export { type CliOptions, CliProcess } from './cli-process.ts'
