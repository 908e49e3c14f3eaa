// The workspace's socketcan addon is the patched build (pnpm patchedDependencies): it says so
// in `features` and decodes recvmsg() results into batch records as documented. The same
// check runs on every packaged architecture (packaging/edge/build.ts, armv7 and arm64 under
// qemu-user); the kernel tests (test/kernel/binding.test.ts) check it on real SocketCAN.
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'

const require = createRequire(import.meta.url)
const { check } = require('../../../packaging/edge/addon/check-addon.cjs') as {
  check: (file: string) => string
}

describe('patched socketcan addon', () => {
  it('loads with its features and decodes classic, FD, own, drop and timestamp control messages', () => {
    expect(check(require.resolve('socketcan/build/Release/can.node'))).toMatch(/^ok: /)
  })
})
