/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// `canbridge monitor` as a person uses it: the real command, a real canbridge-edge
// streaming its virtual counter channel, and the page in Debian's headless Chromium driven
// through puppeteer-core. The signal values the page shows are checked against values this
// test computes itself from the payload bytes the page shows beside them.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CliProcess } from '@canbridge/cli/testing'
import { EdgeProcess } from '@canbridge/edge-client/testing'
import puppeteer, { type Browser, type Page } from 'puppeteer-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

function chromium(): string | undefined {
  for (const name of [process.env['CHROMIUM'], '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (!name) continue
    try {
      execFileSync(name, ['--version'], { stdio: 'ignore' })
      return name
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
  return undefined
}

// Number: bytes 0..3 little-endian × 0.5 + 10; Be16: bytes 0..1 big-endian (Motorola from
// bit 7); Mode: 2 bits at bit 32 with choices. The edge's counter pattern puts the frame's
// number, little-endian, in the first bytes of ids 0x100.. .
const DBC = `VERSION ""
BU_: EDGE
BO_ 256 Counter0: 8 EDGE
 SG_ Number : 0|32@1+ (0.5,10) [0|0] "rpm" Vector__XXX
 SG_ Be16 : 7|16@0+ (1,0) [0|65535] "" Vector__XXX
 SG_ Mode : 32|2@1+ (1,0) [0|3] "" Vector__XXX
VAL_ 256 Mode 0 "off" 1 "on" 2 "error" 3 "n/a" ;
`

const browserPath = chromium()

// Skipped only where no Chromium exists: setup.sh installs Debian's when it runs as root (CI).
describe.skipIf(browserPath === undefined)('canbridge monitor in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'monitor-e2e-'))
  const dbc = join(dir, 'counter.dbc')
  writeFileSync(dbc, DBC)
  let monitor: CliProcess
  let edge: EdgeProcess | undefined
  let browser: Browser
  let page: Page
  let edgePort = 0

  const startEdge = () =>
    new EdgeProcess([
      '--server',
      `127.0.0.1:${edgePort}`,
      '--channel',
      'virtual:demo?rate=200&pattern=counter',
      '--edge-id',
      'pi-monitor',
    ])

  beforeAll(async () => {
    monitor = new CliProcess(
      [
        'monitor',
        '--port',
        '0',
        '--http',
        '127.0.0.1:0',
        '--dbc',
        dbc,
        '--plot',
        'Counter0.Number',
        '--record-dir',
        dir,
      ],
      { cwd: dir },
    )
    edgePort = await monitor.port()
    const url = (await monitor.waitForStderr(/open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/))[1]!
    edge = startEdge()
    browser = await puppeteer.launch({
      executablePath: browserPath!,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    })
    page = await browser.newPage()
    await page.setViewport({ width: 1100, height: 1300 })
    await page.goto(url)
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await edge?.stop()
    monitor?.kill()
  })

  it('shows the live edge, its frames by id, and decodes signals to the values the bytes hold', async () => {
    await page.waitForFunction(
      () => document.querySelector('#edges')?.textContent === 'pi-monitor',
      { timeout: 30_000 },
    )
    await page.waitForSelector('#ids tbody tr[data-id="100"]', { timeout: 30_000 })
    await page.waitForSelector('#signals tbody tr[data-signal="Counter0.Number"]')
    // read the row's bytes and the decoded values from one and the same snapshot
    const seen = await page.evaluate(() => {
      const row = document.querySelector('#ids tbody tr[data-id="100"]')!
      const value = (key: string) =>
        document.querySelector(`#signals tr[data-signal="${key}"] td.value`)!.textContent
      return {
        channel: row.querySelector('td')!.textContent,
        bytes: [...row.querySelectorAll('td.data span')].map((s) =>
          Number.parseInt(s.textContent!, 16),
        ),
        number: value('Counter0.Number'),
        be16: value('Counter0.Be16'),
        mode: value('Counter0.Mode'),
        state: document.querySelector('#link-state')!.textContent,
      }
    })
    expect(seen.channel).toBe('pi-monitor/virtual:demo')
    expect(seen.state).toBe('active')
    expect(seen.bytes).toHaveLength(8)
    const [b0, b1, b2, b3, b4] = seen.bytes as [number, number, number, number, number]
    const little = b0 + b1 * 0x100 + b2 * 0x10000 + b3 * 0x1000000
    expect(Number(seen.number)).toBe(little * 0.5 + 10)
    expect(Number(seen.be16)).toBe(b0 * 0x100 + b1)
    const mode = b4 & 3
    expect(seen.mode).toBe(`${mode} (${['off', 'on', 'error', 'n/a'][mode]})`)
  }, 60_000)

  it('plots a signal with points, and a second one when its box is ticked', async () => {
    await page.waitForFunction(
      () =>
        Number(
          document
            .querySelector('.plot[data-signal="Counter0.Number"]')
            ?.getAttribute('data-points') ?? 0,
        ) >= 5,
      { timeout: 30_000 },
    )
    // the chart's canvas gets ink on it, not just a blank box (uPlot paints on the next frame)
    await page.waitForFunction(
      () => {
        const canvas = document.querySelector(
          '.plot[data-signal="Counter0.Number"] canvas',
        ) as HTMLCanvasElement | null
        if (canvas === null) return false
        const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data
        let ink = 0
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) ink++
        return ink > 100
      },
      { timeout: 30_000 },
    )
    await page.click('#signals tr[data-signal="Counter0.Be16"] input[type=checkbox]')
    await page.waitForFunction(
      () =>
        Number(
          document
            .querySelector('.plot[data-signal="Counter0.Be16"]')
            ?.getAttribute('data-points') ?? 0,
        ) >= 2,
      { timeout: 30_000 },
    )
  }, 60_000)

  it('updates the table rows in place, so a click between two snapshots lands', async () => {
    const signalRow = (await page.$('#signals tr[data-signal="Counter0.Number"]'))!
    const idRow = (await page.$('#ids tr[data-id]'))!
    const count = () =>
      signalRow.evaluate((tr) => (tr as HTMLTableRowElement).cells[4]!.textContent)
    const countBefore = await count()
    const snapshots = await page.evaluate(() => Number(document.body.dataset['snapshots']))
    await page.waitForFunction(
      (seen) => Number(document.body.dataset['snapshots']) >= seen + 3,
      { timeout: 30_000 },
      snapshots,
    )
    expect(await signalRow.evaluate((tr) => tr.isConnected)).toBe(true)
    expect(await idRow.evaluate((tr) => tr.isConnected)).toBe(true)
    expect(Number(await count())).toBeGreaterThan(Number(countBefore))
  }, 60_000)

  it('records what arrives into a candump log while the button is on', async () => {
    await page.click('#record-button')
    await page.waitForFunction(
      () =>
        /recording \d+ frames/.test(document.querySelector('#record-state')!.textContent!) &&
        Number(/recording (\d+)/.exec(document.querySelector('#record-state')!.textContent!)![1]) >=
          20,
      { timeout: 30_000 },
    )
    await page.click('#record-button')
    await page.waitForFunction(
      () => /^recorded \d+ frames/.test(document.querySelector('#record-state')!.textContent!),
      { timeout: 30_000 },
    )
    const file = readdirSync(dir).find(
      (name) => name.startsWith('canbridge-') && name.endsWith('.log'),
    )
    expect(file).toBeDefined()
    const lines = readFileSync(join(dir, file!), 'utf8').trim().split('\n')
    expect(lines.length).toBeGreaterThanOrEqual(20)
    for (const line of lines)
      expect(line).toMatch(/^\(\d+\.\d{6}\) virtual:demo 10[0-9A-F]#[0-9A-F]{16}$/)
  }, 60_000)

  it('survives the edge restarting: frames count on once it is back', async () => {
    await edge!.stop()
    await page.waitForFunction(() => document.querySelector('#edges')?.textContent === '0', {
      timeout: 30_000,
    })
    const before = await page.$eval('#ids tbody tr[data-id="100"] td:nth-child(3)', (td) =>
      Number(td.textContent),
    )
    edge = startEdge()
    await page.waitForFunction(
      () => document.querySelector('#edges')?.textContent === 'pi-monitor',
      { timeout: 30_000 },
    )
    await page.waitForFunction(
      (count) =>
        Number(
          document.querySelector('#ids tbody tr[data-id="100"] td:nth-child(3)')?.textContent,
        ) > count,
      { timeout: 30_000 },
      before,
    )
    await page.screenshot({ path: join(dir, 'monitor.png') })
  }, 90_000)
})
