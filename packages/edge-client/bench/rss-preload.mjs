// Preloaded (`node --import bench/rss-preload.mjs dist/main.js …`) by bench/rss-study.ts into
// every thread of the edge, to measure without editing the edge's sources. Plain JavaScript:
// a .ts preload would load Node's type stripper (WebAssembly, ~10 MB) into every thread.
// - RSS_STUDY_PROBE_DIR first (so that its hooks see every module loaded after it):
//   each thread writes thread-<threadId>.json there every 500 ms, its V8 heap statistics,
//   heap spaces, code statistics and the modules it has loaded;
// - RSS_STUDY_WORKER_LIMITS (JSON): the main thread replaces the supervisor's WORKER_LIMITS
//   (the resourceLimits every worker is started with) before main.js starts a worker;
// - RSS_STUDY_LIMITS_BY_WORKER (JSON, { "<worker name>": { ...resourceLimits } }): merged
//   into the resourceLimits of the worker of that name (canbridge-poll, canbridge-socket-write);
// - RSS_STUDY_SHIMS (comma-separated): what a module costs, by loading a stand-in instead
//   (only for runs that never call what the stand-in leaves out):
//   `main-frames`: the main thread gets @canbridge/protocol without the control-message codec
//   (msgpackr): frames, constants, auth, errors; `no-tls`: node:tls is not loaded (plain TCP).
import { readFileSync, writeFileSync } from 'node:fs'
import { registerHooks, syncBuiltinESMExports } from 'node:module'
import { join } from 'node:path'
import { getHeapCodeStatistics, getHeapSpaceStatistics, getHeapStatistics } from 'node:v8'
import workerThreads, { isMainThread, threadId } from 'node:worker_threads'

const probeDir = process.env.RSS_STUDY_PROBE_DIR
if (probeDir !== undefined) {
  /** @type {Set<string>} */
  const modules = new Set()
  registerHooks({
    load(url, context, nextLoad) {
      modules.add(url)
      return nextLoad(url, context)
    },
  })
  // the OS thread name: Node gives a worker's thread its `name` option (canbridge-poll, …)
  const name = isMainThread ? 'main' : readFileSync('/proc/thread-self/comm', 'utf8').trim()
  const write = () => {
    const snapshot = {
      threadId,
      name,
      heap: getHeapStatistics(),
      spaces: Object.fromEntries(
        getHeapSpaceStatistics().map((s) => [s.space_name, s.physical_space_size]),
      ),
      code: getHeapCodeStatistics(),
      arrayBuffers: process.memoryUsage().arrayBuffers,
      modules: [...modules],
    }
    writeFileSync(join(probeDir, `thread-${threadId}.json`), JSON.stringify(snapshot))
  }
  setInterval(write, 500).unref()
}

const shims = new Set((process.env.RSS_STUDY_SHIMS ?? '').split(',').filter(Boolean))
if (shims.size > 0) {
  const protocol = (path) =>
    import.meta.resolve(`@canbridge/protocol/frames`).replace(/frames\.js$/, path)
  /** @type {Record<string, string>} */
  const standIns = {}
  if (shims.has('main-frames') && isMainThread) {
    standIns['@canbridge/protocol'] = ['frames.js', 'auth.js', 'errors.js']
      .map((file) => `export * from ${JSON.stringify(protocol(file))};`)
      .join('\n')
  }
  if (shims.has('no-tls')) {
    standIns['node:tls'] =
      'export class TLSSocket {}; export function connect() { throw new Error("no-tls shim") }'
  }
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const text = standIns[specifier]
      if (text === undefined) return nextResolve(specifier, context)
      return { url: `data:text/javascript,${encodeURIComponent(text)}`, shortCircuit: true }
    },
  })
}

// after the hooks: the modules the supervisor loads count too
const limits = process.env.RSS_STUDY_WORKER_LIMITS
if (limits !== undefined && isMainThread) {
  const supervisor = new URL('../dist/supervisor.js', import.meta.url).href
  /** @type {{ WORKER_LIMITS: Record<string, number> }} */
  const { WORKER_LIMITS } = await import(supervisor)
  // the object the supervisor passes to new Worker(): replaced in place, keys removed too
  for (const key of Object.keys(WORKER_LIMITS)) delete WORKER_LIMITS[key]
  Object.assign(WORKER_LIMITS, JSON.parse(limits))
}

const byWorker = process.env.RSS_STUDY_LIMITS_BY_WORKER
if (byWorker !== undefined && isMainThread) {
  /** @type {Record<string, Record<string, number>>} */
  const limitsOf = JSON.parse(byWorker)
  const Original = workerThreads.Worker
  class Limited extends Original {
    /**
     * @param {string | URL} url
     * @param {import('node:worker_threads').WorkerOptions} [options]
     */
    constructor(url, options) {
      const extra = options?.name === undefined ? undefined : limitsOf[options.name]
      const resourceLimits = { ...options?.resourceLimits, ...extra }
      super(url, extra === undefined ? options : { ...options, resourceLimits })
    }
  }
  // `import { Worker } from 'node:worker_threads'` in the supervisor sees the wrapper
  workerThreads.Worker = Limited
  syncBuiltinESMExports()
}
