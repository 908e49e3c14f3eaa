// The server check against real loopback servers: a scripted canbridge server built from the
// protocol package (TCP and a Unix socket), and raw servers that answer wrongly. (Against the
// workstation's TCPBus itself: packages/e2e.)
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeControl, encodePreamble, ROLE } from '@canbridge/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { ScriptedServer } from '../../test/helpers/scripted-server.ts'
import type { ServerAddress } from '../config.ts'
import { checkServer, doctorEdgeId } from './server.ts'

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const options = { edgeId: 'pi-garage', software: 'canbridge-edge-doctor/test', timeoutMs: 3000 }

async function rawServer(onConnection: (socket: Socket) => void): Promise<ServerAddress> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    onConnection(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(
    () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(resolve)
      }),
  )
  return { kind: 'tcp', host: '127.0.0.1', port: (server.address() as { port: number }).port }
}

describe('server check', () => {
  it('OK against a canbridge server: WELCOME, as edge <edgeId>.doctor, which then leaves', async () => {
    const server = new ScriptedServer()
    cleanups.push(() => server.close())
    const port = await server.listen()
    const r = await checkServer({ kind: 'tcp', host: '127.0.0.1', port }, options)
    expect(r.status).toBe('OK')
    expect(r.summary).toMatch(
      new RegExp(
        `^127\\.0\\.0\\.1:${port}: canbridge protocol 1, server "scripted" answered HELLO with WELCOME \\(connect \\d+ ms, handshake \\d+ ms, heartbeat 1000 ms\\)$`,
      ),
    )
    expect(server.state.hellos.map((h) => [h.edgeId, h.software])).toEqual([
      ['pi-garage.doctor', 'canbridge-edge-doctor/test'],
    ])
    await expect.poll(() => server.connected).toBe(false)
  })

  it('OK over a Unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'doctor-unix-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const path = join(dir, 'bus.sock')
    const server = new ScriptedServer()
    cleanups.push(() => server.close())
    await server.listenUnix(path)
    const r = await checkServer({ kind: 'unix', path }, options)
    expect(r).toMatchObject({
      status: 'OK',
      summary: expect.stringMatching(/^unix:.*bus\.sock: canbridge protocol 1/),
    })
  })

  it('keeps the doctor id within 64 characters', () => {
    expect(doctorEdgeId('x'.repeat(64))).toBe(`${'x'.repeat(57)}.doctor`)
  })

  it('FAIL when nothing listens, saying how to start the server', async () => {
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const { port } = probe.address() as { port: number }
    await new Promise((resolve) => probe.close(resolve))
    const address: ServerAddress = { kind: 'tcp', host: '127.0.0.1', port }
    const r = await checkServer(address, options)
    expect(r).toMatchObject({
      status: 'FAIL',
      summary: expect.stringMatching(/: cannot connect: connect ECONNREFUSED/),
    })
    expect(r.fix![0]).toMatch(/TCPBus\.listen\(\{ port: \d+ \}\)/)
    const unix = await checkServer({ kind: 'unix', path: '/nonexistent/bus.sock' }, options)
    expect(unix).toMatchObject({ status: 'FAIL', summary: expect.stringMatching(/ENOENT/) })
    expect(unix.fix![0]).toMatch(/^no socket file \/nonexistent\/bus\.sock/)
  })

  it('FAIL for a server that is not canbridge, showing what it sent', async () => {
    const address = await rawServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'))
    const r = await checkServer(address, options)
    expect(r.status).toBe('FAIL')
    expect(r.summary).toMatch(
      /is not a canbridge server \(.*; it sent "HTTP\/1\.1 400 Bad Request\\r\\n\\r\\n"\)$/,
    )
  })

  it('FAIL for another protocol version', async () => {
    const address = await rawServer((socket) => {
      const preamble = Buffer.from(encodePreamble(ROLE.SERVER))
      preamble.writeUInt16LE(2, 4)
      socket.write(preamble)
    })
    const r = await checkServer(address, options)
    expect(r).toMatchObject({
      status: 'FAIL',
      summary: expect.stringMatching(/speaks another canbridge protocol version/),
    })
  })

  it('FAIL with the code and message when the server refuses the HELLO', async () => {
    const address = await rawServer((socket) => {
      socket.write(encodePreamble(ROLE.SERVER))
      socket.end(
        encodeControl('ERROR', { code: 'BAD_HELLO', message: 'no edges from here', fatal: true }),
      )
    })
    const r = await checkServer(address, options)
    expect(r).toMatchObject({
      status: 'FAIL',
      summary: expect.stringMatching(/refused the HELLO: BAD_HELLO: no edges from here$/),
    })
  })

  it('FAIL when the server closes before WELCOME or stays silent', async () => {
    const closing = await rawServer((socket) => socket.destroy())
    expect(await checkServer(closing, options)).toMatchObject({
      status: 'FAIL',
      summary: expect.stringMatching(
        /the server closed the connection|connection lost during the handshake/,
      ),
    })
    const silent = await rawServer(() => {})
    const r = await checkServer(silent, { ...options, timeoutMs: 300 })
    expect(r).toMatchObject({
      status: 'FAIL',
      summary: expect.stringMatching(/connected, but no canbridge preamble within 0\.3 s$/),
    })
  })

  it('WARN without a server to check', async () => {
    expect(await checkServer(undefined, options)).toMatchObject({
      status: 'WARN',
      summary: 'not checked: no server given',
    })
  })
})
