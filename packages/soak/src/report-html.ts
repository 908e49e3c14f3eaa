// The soak's HTML report: one self-contained file (inline CSS and SVG, no script, nothing
// fetched), with throughput and latency over time, the latency histogram, the edge's memory
// and spool, and every fault marked on the timelines with what it cost.
import type { SoakResult } from './analyze.ts'

interface Series {
  name: string
  color: string
  xs: readonly number[]
  ys: readonly number[]
  dash?: boolean
}

interface Band {
  x0: number
  x1: number
  label: string
}

interface PlotOptions {
  id: string
  title: string
  xLabel: string
  yLabel: string
  series: Series[]
  bands?: Band[]
  logY?: boolean
  width?: number
  height?: number
}

const W = 960
const H = 300
const M = { left: 64, right: 16, top: 28, bottom: 40 }
const FAULT_COLORS: Record<string, string> = {
  'server-restart': '#e4572e',
  partition: '#8e44ad',
  degrade: '#f1a208',
  'iface-bounce': '#17a398',
  'edge-restart': '#3366cc',
}

export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return '–'
  const a = Math.abs(x)
  if (a >= 1e6) return `${(x / 1e6).toFixed(1)}M`
  if (a >= 1e4) return `${(x / 1e3).toFixed(0)}k`
  if (a >= 100) return x.toFixed(0)
  if (a >= 1) return x.toFixed(1).replace(/\.0$/, '')
  if (a === 0) return '0'
  return x.toPrecision(2)
}

function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min]
  const step0 = (max - min) / count
  const mag = 10 ** Math.floor(Math.log10(step0))
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= step0) ?? step0
  const ticks: number[] = []
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(v)
  return ticks
}

/** An SVG line plot; each series is a polyline with `data-series` and `data-points`. */
export function linePlot(o: PlotOptions): string {
  const width = o.width ?? W
  const height = o.height ?? H
  const pw = width - M.left - M.right
  const ph = height - M.top - M.bottom
  const finite = (v: number) => Number.isFinite(v) && (!o.logY || v > 0)
  const allX = o.series.flatMap((s) => s.xs as number[])
  const allY = o.series.flatMap((s) => s.ys.filter(finite) as number[])
  const xMin = allX.length ? Math.min(...allX, ...(o.bands ?? []).map((b) => b.x0)) : 0
  const xMax = allX.length ? Math.max(...allX, ...(o.bands ?? []).map((b) => b.x1), xMin + 1) : 1
  let yMin = o.logY ? Math.min(...allY, 1) : 0
  let yMax = allY.length ? Math.max(...allY) : 1
  if (o.logY) {
    yMin = 10 ** Math.floor(Math.log10(Math.max(yMin, 1e-3)))
    yMax = 10 ** Math.ceil(Math.log10(Math.max(yMax, yMin * 10)))
  } else {
    yMax = yMax > 0 ? yMax * 1.08 : 1
  }
  const sx = (x: number) => M.left + ((x - xMin) / (xMax - xMin)) * pw
  const sy = (y: number) =>
    o.logY
      ? M.top +
        ph -
        ((Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph
      : M.top + ph - ((y - yMin) / (yMax - yMin)) * ph
  const parts: string[] = []
  parts.push(
    `<svg id="${esc(o.id)}" class="plot" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(o.title)}" xmlns="http://www.w3.org/2000/svg">`,
  )
  parts.push(`<text x="${M.left}" y="18" class="title">${esc(o.title)}</text>`)
  for (const [i, band] of (o.bands ?? []).entries()) {
    const labelY = M.top + 10 + (i % 3) * 11
    const x0 = sx(band.x0)
    const x1 = Math.max(sx(band.x1), x0 + 2)
    const kind = band.label.split(' ')[0] ?? ''
    const color = FAULT_COLORS[kind] ?? '#999'
    parts.push(
      `<g class="fault" data-fault="${esc(band.label)}"><rect x="${x0.toFixed(1)}" y="${M.top}" width="${(x1 - x0).toFixed(1)}" height="${ph}" fill="${color}" fill-opacity="0.18"><title>${esc(band.label)}</title></rect>` +
        `<text x="${(x0 + 2).toFixed(1)}" y="${labelY}" class="band" fill="${color}">${esc(band.label)}</text></g>`,
    )
  }
  const yTicks = o.logY
    ? Array.from({ length: Math.round(Math.log10(yMax / yMin)) + 1 }, (_, i) => yMin * 10 ** i)
    : niceTicks(yMin, yMax)
  for (const y of yTicks) {
    parts.push(
      `<line x1="${M.left}" x2="${M.left + pw}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" class="grid"/><text x="${M.left - 6}" y="${(sy(y) + 4).toFixed(1)}" class="tick" text-anchor="end">${fmt(y)}</text>`,
    )
  }
  for (const x of niceTicks(xMin, xMax, 10)) {
    parts.push(
      `<text x="${sx(x).toFixed(1)}" y="${M.top + ph + 16}" class="tick" text-anchor="middle">${fmt(x)}</text>`,
    )
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" class="frame"/>`)
  parts.push(
    `<text x="${M.left + pw / 2}" y="${height - 6}" class="axis" text-anchor="middle">${esc(o.xLabel)}</text>`,
  )
  parts.push(
    `<text x="14" y="${M.top + ph / 2}" class="axis" text-anchor="middle" transform="rotate(-90 14 ${M.top + ph / 2})">${esc(o.yLabel)}</text>`,
  )
  let legendX = M.left + pw
  for (const s of [...o.series].reverse()) {
    const points: string[] = []
    for (let i = 0; i < s.xs.length; i++) {
      const y = s.ys[i]!
      if (!finite(y)) continue
      points.push(`${sx(s.xs[i]!).toFixed(1)},${sy(y).toFixed(1)}`)
    }
    parts.push(
      `<polyline data-series="${esc(s.name)}" data-points="${points.length}" points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="1.5"${s.dash ? ' stroke-dasharray="4 3"' : ''}/>`,
    )
    const label = `${s.name}`
    legendX -= label.length * 7 + 28
    parts.push(
      `<line x1="${legendX}" x2="${legendX + 16}" y1="14" y2="14" stroke="${s.color}" stroke-width="2"/><text x="${legendX + 20}" y="18" class="legend">${esc(label)}</text>`,
    )
  }
  parts.push('</svg>')
  return parts.join('\n')
}

/** The latency histogram as SVG bars (log-spaced bins), `data-bars` = bins with counts. */
export function histogramPlot(result: SoakResult): string {
  const bins = result.histogram
  const width = W
  const height = H
  const pw = width - M.left - M.right
  const ph = height - M.top - M.bottom
  const max = Math.max(1, ...bins.map((b) => b.count))
  const bw = pw / Math.max(1, bins.length)
  const parts = [
    `<svg id="latency-histogram" class="plot" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="latency histogram" xmlns="http://www.w3.org/2000/svg">`,
    `<text x="${M.left}" y="18" class="title">Latency histogram (kernel timestamp on the edge's bus → receipt by TCPBus), log-spaced bins</text>`,
  ]
  let nonEmpty = 0
  bins.forEach((b, i) => {
    if (b.count === 0) return
    nonEmpty++
    const h = (Math.log10(b.count + 1) / Math.log10(max + 1)) * ph
    parts.push(
      `<rect class="bar" x="${(M.left + i * bw + 0.5).toFixed(1)}" y="${(M.top + ph - h).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="#3366cc"><title>${fmt(b.from)}–${fmt(b.to)} ms: ${b.count}</title></rect>`,
    )
  })
  bins.forEach((b, i) => {
    if (i % 10 === 0) {
      parts.push(
        `<text x="${(M.left + i * bw).toFixed(1)}" y="${M.top + ph + 16}" class="tick" text-anchor="middle">${fmt(b.from)}</text>`,
      )
    }
  })
  const percentiles: [string, number][] = [
    ['p50', result.latency.all.p50],
    ['p99', result.latency.all.p99],
    ['max', result.latency.all.max],
  ]
  for (const [i, [name, value]] of percentiles.entries()) {
    if (!Number.isFinite(value) || bins.length === 0) continue
    const k = Math.max(
      0,
      bins.findIndex((b) => value < b.to),
    )
    const x = M.left + (k + 0.5) * bw
    parts.push(
      `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${M.top}" y2="${M.top + ph}" stroke="#e4572e" stroke-dasharray="3 3"/><text x="${(x + 3).toFixed(1)}" y="${M.top + 12 + i * 12}" class="band" fill="#e4572e"${x > M.left + pw - 90 ? ' text-anchor="end"' : ''}>${name} ${fmt(value)} ms</text>`,
    )
  }
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" class="frame"/>`)
  parts.push(
    `<text x="${M.left + pw / 2}" y="${height - 6}" class="axis" text-anchor="middle">latency, ms (log scale)</text>`,
  )
  parts.push(
    `<text x="14" y="${M.top + ph / 2}" class="axis" text-anchor="middle" transform="rotate(-90 14 ${M.top + ph / 2})">frames (log scale)</text>`,
  )
  parts.push('</svg>')
  return parts
    .join('\n')
    .replace('id="latency-histogram"', `id="latency-histogram" data-bars="${nonEmpty}"`)
}

export function renderReport(result: SoakResult): string {
  const start = Date.parse(result.startedAt)
  const bands: Band[] = result.faults.map((f) => ({
    x0: (f.startMs - start) / 1000,
    x1: (f.endMs - start) / 1000,
    label: f.label,
  }))
  const s = result.series
  const throughput = linePlot({
    id: 'throughput',
    title: 'Throughput: frames per second on the bus (candump) and received through TCPBus',
    xLabel: 'seconds since the traffic started',
    yLabel: 'frames/s',
    series: [
      { name: 'on the bus', color: '#888', xs: s.t, ys: s.sent },
      { name: 'received', color: '#3366cc', xs: s.t, ys: s.received },
    ],
    bands,
  })
  const latency = linePlot({
    id: 'latency',
    title: 'Latency by the second the frame was on the bus (log scale)',
    xLabel: 'seconds since the traffic started',
    yLabel: 'ms',
    logY: true,
    series: [
      { name: 'p50', color: '#17a398', xs: s.t, ys: s.latencyP50 },
      { name: 'p99', color: '#3366cc', xs: s.t, ys: s.latencyP99 },
      { name: 'max', color: '#e4572e', xs: s.t, ys: s.latencyMax, dash: true },
    ],
    bands,
  })
  const edge =
    s.edgeT.length === 0
      ? '<p class="note">No edge samples (the edge was not started by the soak).</p>'
      : linePlot({
          id: 'edge',
          title: "The edge's resident memory (MiB) and disk spool (KiB)",
          xLabel: 'seconds since the traffic started',
          yLabel: 'MiB / KiB',
          series: [
            { name: 'RSS MiB', color: '#8e44ad', xs: s.edgeT, ys: s.edgeRssMiB },
            { name: 'spool KiB', color: '#f1a208', xs: s.edgeT, ys: s.edgeSpoolKiB },
          ],
          bands,
        })
  const row = (k: string, v: string, bad = false) =>
    `<tr${bad ? ' class="bad"' : ''}><th>${esc(k)}</th><td>${esc(v)}</td></tr>`
  const n = (x: number) => x.toLocaleString('en-US')
  const summary = [
    row('verdict', result.ok ? 'PASS' : `FAIL: ${result.problems.join('; ')}`, !result.ok),
    row('started', result.startedAt),
    row('mode / shapes', `${result.mode} / ${result.shapes.join(', ')}`),
    row(
      'duration / rate',
      `${result.durationS} s at ${result.achievedRate} frames/s (target ${result.targetRate})`,
    ),
    row(
      'traffic mix',
      `${n(result.traffic.standard)} standard, ${n(result.traffic.extended)} extended, ${n(result.traffic.fd)} CAN FD (${n(result.traffic.fdBrs)} BRS, ${n(result.traffic.fdEsi)} ESI), ${n(result.traffic.remote)} remote; lengths ${Object.keys(result.traffic.lengths).join(', ')}`,
    ),
    row('sent (on the bus)', n(result.sent)),
    row('received', n(result.received)),
    row('compared', n(result.compared)),
    row('lost', n(result.lost), result.lost > 0),
    row('duplicated', n(result.duplicated), result.duplicated > 0),
    row('reordered', n(result.reordered), result.reordered > 0),
    row(
      'corrupted',
      `${n(result.corrupted)} (id ${result.corruptedFields.id}, flags ${result.corruptedFields.flags}, len ${result.corruptedFields.len}, data ${result.corruptedFields.data}, unexpected ${result.unexpected})`,
      result.corrupted > 0,
    ),
    row('missed while no edge ran', n(result.missedWhileEdgeDown)),
    row(
      'timestamp mismatches',
      `${n(result.timestampMismatches)} (tolerance ${result.timestampToleranceUs} µs, largest |diff| ${n(result.maxTimestampDiffUs)} µs)`,
    ),
    row(
      'flag differences forgiven (--binding-limits)',
      `${n(result.flagLimitDiffs)} (policy ${result.flagPolicy})`,
    ),
    row('candump drops', n(result.groundTruthDrops), result.groundTruthDrops > 0),
    row(
      'latency p50 / p99 / max (all)',
      `${result.p50LatencyMs} / ${result.p99LatencyMs} / ${result.maxLatencyMs} ms`,
    ),
    row(
      'latency p50 / p99 / max (outside faults)',
      `${result.latency.steady.p50} / ${result.latency.steady.p99} / ${result.latency.steady.max} ms`,
    ),
    row(
      `the soak's own event loop stalled (>= ${result.soakStalls.thresholdMs} ms)`,
      result.soakStalls.count === 0
        ? 'never'
        : `${n(result.soakStalls.count)} times, longest ${n(result.soakStalls.maxMs)} ms, ${n(result.soakStalls.totalMs)} ms in all: frames received then were stamped that late (series.soakStallMs in the JSON)`,
    ),
    row(
      'edge RSS start → end',
      result.edge.rssStartBytes === null
        ? 'n/a'
        : `${(result.edge.rssStartBytes / 1048576).toFixed(1)} → ${(result.edge.rssEndBytes! / 1048576).toFixed(1)} MiB (${result.edge.rssGrowthPct}%, instance ${result.edge.measuredInstance}, ${result.edge.measuredSeconds} s)`,
    ),
    row(
      'edge CPU per 1,000 frames',
      result.edge.cpuMsPer1000Frames === null ? 'n/a' : `${result.edge.cpuMsPer1000Frames} ms`,
    ),
    row(
      'edge CPU per frame ÷ candump',
      result.cpuPerFrameVsCandump === null ? 'n/a' : String(result.cpuPerFrameVsCandump),
    ),
    row(
      'edge instances / reconnects',
      `${result.edge.instances} / ${result.edge.reconnects ?? 'n/a'}`,
    ),
    row(
      'TCPBus: lost (gaps and edge drops, each once) / sequence gaps / duplicates discarded',
      `${result.bus.lost} / ${result.bus.gaps} / ${result.bus.duplicatesDiscarded}`,
    ),
  ].join('\n')
  const faultRows = result.faults
    .map(
      (f) =>
        `<tr data-fault="${esc(f.label)}"${f.error || f.lostDuring > 0 ? ' class="bad"' : ''}><td>${esc(f.label)}</td><td>${((f.startMs - start) / 1000).toFixed(1)}</td><td>${((f.endMs - f.startMs) / 1000).toFixed(1)}</td><td>${n(f.framesDuring)}</td><td>${(f.recoveryMs / 1000).toFixed(1)}</td><td>${fmt(f.maxLatencyMs)}</td><td>${n(f.missed)}</td><td>${n(f.lostDuring)}</td><td>${f.spoolPeakBytes === null ? '–' : `${Math.round(f.spoolPeakBytes / 1024)} KiB`}</td><td>${esc(f.error ? `FAILED: ${f.error}` : f.detail)}</td></tr>`,
    )
    .join('\n')
  const channelRows = result.channels
    .map(
      (c) =>
        `<tr><td>${esc(c.iface)}</td><td>${n(c.sent)}</td><td>${n(c.received)}</td><td>${n(c.lost)}</td><td>${n(c.duplicated)}</td><td>${n(c.reordered)}</td><td>${n(c.corrupted)}</td><td>${n(c.missed)}</td><td>${n(c.timestampMismatches)}</td><td>${n(c.flagLimitDiffs)}</td></tr>`,
    )
    .join('\n')
  const examples = Object.entries(result.examples)
    .filter(([, list]) => list.length > 0)
    .map(([kind, list]) => `<h3>${esc(kind)}</h3><pre>${esc(list.join('\n'))}</pre>`)
    .join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>canbridge soak ${result.ok ? 'PASS' : 'FAIL'} — ${esc(result.startedAt)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1000px; }
h1 { font-size: 22px; } h1 .pass { color: #1b7f3b; } h1 .fail { color: #c0392b; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { text-align: left; padding: 3px 10px; border-bottom: 1px solid #eee; vertical-align: top; }
tr.bad td, tr.bad th { color: #c0392b; font-weight: 600; }
.plot { display: block; margin: 12px 0; background: #fff; }
.plot .title { font-size: 13px; font-weight: 600; }
.plot .tick, .plot .legend, .plot .band { font-size: 11px; }
.plot .axis { font-size: 12px; }
.plot .grid { stroke: #eee; } .plot .frame { fill: none; stroke: #bbb; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
.note { color: #666; }
</style>
</head>
<body>
<h1>canbridge soak: <span class="${result.ok ? 'pass' : 'fail'}" id="verdict">${result.ok ? 'PASS' : 'FAIL'}</span></h1>
<table id="summary">
${summary}
</table>
<h2>Throughput</h2>
${throughput}
<h2>Latency</h2>
${latency}
${histogramPlot(result)}
<h2>Faults</h2>
${
  result.faults.length === 0
    ? '<p class="note">No faults were injected.</p>'
    : `<table id="faults"><tr><th>fault</th><th>at s</th><th>lasted s</th><th>frames during</th><th>recovered after s</th><th>max latency ms</th><th>missed</th><th>lost</th><th>spool peak</th><th>detail</th></tr>
${faultRows}
</table>`
}
<h2>The edge</h2>
${edge}
<h2>Channels</h2>
<table id="channels"><tr><th>interface</th><th>sent</th><th>received</th><th>lost</th><th>duplicated</th><th>reordered</th><th>corrupted</th><th>missed</th><th>ts mismatches</th><th>flag diffs (limits)</th></tr>
${channelRows}
</table>
<h2>Examples</h2>
${examples || '<p class="note">Nothing to show: no anomalies.</p>'}
<h2>How it ran</h2>
<pre>${esc(result.commands.join('\n'))}</pre>
${result.notes.length ? `<ul>${result.notes.map((t) => `<li>${esc(t)}</li>`).join('')}</ul>` : ''}
</body>
</html>
`
}
