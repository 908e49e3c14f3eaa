// A python3 that has python-can's `socketcand` interface (Debian's python3-can 4.1.0 in the
// kernel harness), found once: CANBRIDGE_PYTHON, else the system's python3, else the PATH's.
import { execFile, spawnSync } from 'node:child_process'

export interface PythonCan {
  python: string
  version: string
}

let found: PythonCan | null | undefined

/** The python to use and python-can's version, or undefined when none has it. */
export function pythonCan(): PythonCan | undefined {
  if (found === undefined) {
    found = null
    const candidates = [process.env['CANBRIDGE_PYTHON'], '/usr/bin/python3', 'python3']
    for (const python of candidates) {
      if (!python) continue
      const probe = spawnSync(
        python,
        ['-c', 'import can, can.interfaces.socketcand; print(can.__version__)'],
        { encoding: 'utf8', timeout: 30_000 },
      )
      if (probe.status === 0) {
        found = { python, version: probe.stdout.trim() }
        break
      }
    }
  }
  return found ?? undefined
}

/** Runs a script; resolves with its stdout, rejects with its stderr. */
export function runPython(script: string, timeoutMs: number): Promise<string> {
  const { python } = pythonCan()!
  return new Promise((resolve, reject) => {
    execFile(
      python,
      ['-c', script],
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`python failed (${error.message}); stderr: ${stderr.slice(-2000)}`))
        else resolve(stdout)
      },
    )
  })
}
