// The monitor page: a snapshot arrives a few times a second over server-sent events and
// the tables, plots and link health are redrawn from it. Plots are uPlot charts fed the
// server's aggregated points (min, max and last of each 100 ms).

const $ = (id) => document.getElementById(id)
const charts = new Map() // signal key -> { chart, data: [t[], last[], min[], max[]] }
const KEEP_POINTS = 600
let recording = false

function text(tag, value, className) {
  const cell = document.createElement(tag)
  cell.textContent = value
  if (className) cell.className = className
  return cell
}

function renderHealth(health, recordingState) {
  const state = $('link-state')
  state.textContent = health.state
  state.className = `badge ${health.state}`
  $('source').textContent = health.source
  $('edges').textContent = health.edges.map((e) => e.edgeId).join(', ') || '0'
  $('fps').textContent = String(health.framesPerSecond)
  $('gaps').textContent = String(health.gaps)
  $('lost').textContent = String(health.lost)
  const drops = Object.entries(health.drops)
  $('drops').textContent = drops.length
    ? `drops: ${drops.map(([r, n]) => `${r} ${n}`).join(', ')}`
    : ''
  $('latency').textContent = health.latencyMs === null ? '–' : `${health.latencyMs} ms`
  recording = recordingState.recording
  const button = $('record-button')
  button.textContent = recording ? '■ Stop' : '● Record'
  button.classList.toggle('on', recording)
  $('record-state').textContent = recordingState.file
    ? `${recording ? 'recording' : 'recorded'} ${recordingState.frames} frames into ${recordingState.file}`
    : ''
}

// Rows stay the same elements from one snapshot to the next, updated in place: replacing
// them a few times a second would swallow a click or a text selection made between two.
function keepRows(body, items, keyOf, create, update) {
  const old = new Map()
  for (const tr of body.rows) old.set(tr.dataset.key, tr)
  let previous = null
  for (const item of items) {
    const key = keyOf(item)
    let tr = old.get(key)
    if (tr === undefined) {
      tr = create(item)
      tr.dataset.key = key
    } else old.delete(key)
    update(tr, item)
    const wanted = previous === null ? body.firstElementChild : previous.nextElementSibling
    if (tr !== wanted) body.insertBefore(tr, wanted)
    previous = tr
  }
  for (const tr of old.values()) tr.remove()
}

function setText(cell, value) {
  if (cell.textContent !== value) cell.textContent = value
}

function renderIds(rows) {
  keepRows(
    $('ids').tBodies[0],
    rows,
    (row) => `${row.channel} ${row.id}`,
    (row) => {
      const tr = document.createElement('tr')
      tr.dataset.id = row.id
      tr.dataset.channel = row.channel
      tr.append(text('td', '', 'text'), text('td', '', 'text'))
      for (let i = 0; i < 4; i++) tr.append(text('td', ''))
      tr.append(text('td', '', 'data'))
      return tr
    },
    (tr, row) => {
      const [channel, id, count, rate, period, jitter, data] = tr.cells
      setText(channel, row.channel)
      setText(
        id,
        row.id + (row.fd ? ' FD' : '') + (row.remote ? ' R' : '') + (row.error ? ' ERR' : ''),
      )
      setText(count, String(row.count))
      setText(rate, row.rate.toFixed(1))
      setText(period, row.periodMs === null ? '' : row.periodMs.toFixed(2))
      setText(jitter, row.jitterMs === null ? '' : row.jitterMs.toFixed(2))
      const bytes = []
      row.data.split(' ').forEach((byte, i) => {
        if (byte === '') return
        bytes.push(text('span', byte, row.changed.includes(i) ? 'changed' : ''), ' ')
      })
      data.replaceChildren(...bytes)
    },
  )
}

// A box the user just ticked keeps its state until the server has answered: a snapshot
// taken before the click must not untick it.
const pendingPlots = new Set()

function renderSignals(signals, plotted, notes) {
  keepRows(
    $('signals').tBodies[0],
    signals,
    (s) => s.key,
    (s) => {
      const tr = document.createElement('tr')
      tr.dataset.signal = s.key
      const box = document.createElement('input')
      box.type = 'checkbox'
      box.setAttribute('aria-label', `plot ${s.key}`)
      box.addEventListener('change', () => setPlot(s.key, box.checked))
      const plotCell = document.createElement('td')
      plotCell.append(box)
      tr.append(
        text('td', s.message, 'text'),
        text('td', s.signal, 'text'),
        text('td', '', 'value'),
        text('td', s.unit, 'text'),
        text('td', ''),
        plotCell,
      )
      return tr
    },
    (tr, s) => {
      const [, , valueCell, , countCell, plotCell] = tr.cells
      const value =
        typeof s.value === 'number' ? String(Number(s.value.toPrecision(12))) : String(s.value)
      setText(valueCell, s.choice ? `${value} (${s.choice})` : value)
      setText(countCell, String(s.count))
      const box = plotCell.firstElementChild
      if (!pendingPlots.has(s.key)) box.checked = plotted.includes(s.key)
    },
  )
  const entries = Object.entries(notes)
  $('notes').textContent = entries.length
    ? `not fully decoded: ${entries.map(([c, n]) => `${c} ${n}`).join(', ')}`
    : ''
}

function renderPlots(plotted, plots) {
  for (const key of [...charts.keys()]) {
    if (!plotted.includes(key)) {
      charts.get(key).chart.destroy()
      charts.get(key).element.remove()
      charts.delete(key)
    }
  }
  for (const key of plotted) {
    let entry = charts.get(key)
    if (entry === undefined) {
      const element = document.createElement('div')
      element.className = 'plot'
      element.dataset.signal = key
      $('plots').append(element)
      const data = [[], [], [], []]
      const chart = new uPlot(
        {
          title: key,
          width: 720,
          height: 220,
          axes: [{}, { size: 80 }],
          series: [
            {},
            { label: 'value', stroke: '#0969da', width: 1.5 },
            { label: 'min', stroke: '#8c959f', dash: [4, 4] },
            { label: 'max', stroke: '#8c959f', dash: [4, 4] },
          ],
        },
        data,
        element,
      )
      entry = { chart, data, element }
      charts.set(key, entry)
    }
    const points = plots[key] || []
    const [t, last, min, max] = entry.data
    for (const point of points) {
      // the newest bucket comes again while it fills: replace it
      const seconds = point.t / 1000 // uPlot's time axis is in seconds
      if (t.length > 0 && t[t.length - 1] === seconds) {
        t.pop()
        last.pop()
        min.pop()
        max.pop()
      }
      t.push(seconds)
      last.push(point.last)
      min.push(point.min)
      max.push(point.max)
    }
    while (t.length > KEEP_POINTS) {
      t.shift()
      last.shift()
      min.shift()
      max.shift()
    }
    entry.element.dataset.points = String(t.length)
    if (points.length > 0) entry.chart.setData(entry.data)
  }
  $('plots-empty').hidden = plotted.length > 0
}

async function post(path) {
  const response = await fetch(path, { method: 'POST' })
  const body = await response.json()
  if (!response.ok) alert(body.error)
  return body
}

async function setPlot(key, on) {
  pendingPlots.add(key)
  try {
    await post(`/plot?signal=${encodeURIComponent(key)}&on=${on ? 1 : 0}`)
  } finally {
    pendingPlots.delete(key)
  }
}

$('record-button').addEventListener('click', () => {
  if (recording) post('/record/stop')
  else post(`/record/start?format=${$('record-format').value}`)
})

function connect() {
  const events = new EventSource('/events')
  events.onmessage = (event) => {
    const snapshot = JSON.parse(event.data)
    renderHealth(snapshot.health, snapshot.recording)
    renderIds(snapshot.rows)
    renderSignals(snapshot.signals, snapshot.plotted, snapshot.notes)
    renderPlots(snapshot.plotted, snapshot.plots)
    document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1)
  }
  events.onerror = () => {
    $('link-state').textContent = 'monitor unreachable: retrying'
    $('link-state').className = 'badge disconnected'
  }
}

connect()
