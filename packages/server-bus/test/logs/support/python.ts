// The python3 that has the modules an oracle needs (Debian's python3-can, python3-zstandard:
// scripts/setup.sh installs them): CANBRIDGE_PYTHON, else the system's /usr/bin/python3, else
// the PATH's. A missing oracle is an error saying what to install, never a silent pass.
import { execFile, spawnSync } from 'node:child_process'

const found = new Map<string, string>()

/** A python that imports `modules` (e.g. `can.io.blf`), or throws saying how to get one. */
export function pythonWith(modules: string, debianPackages: string): string {
  const known = found.get(modules)
  if (known !== undefined) return known
  const candidates = [process.env['CANBRIDGE_PYTHON'], '/usr/bin/python3', 'python3']
  for (const python of candidates) {
    if (!python) continue
    const probe = spawnSync(python, ['-c', `import ${modules}`], {
      encoding: 'utf8',
      timeout: 30_000,
    })
    if (probe.status === 0) {
      found.set(modules, python)
      return python
    }
  }
  throw new Error(
    `no python3 here imports ${modules}: install ${debianPackages} (bash scripts/setup.sh does, as root), or point CANBRIDGE_PYTHON at a python that has it`,
  )
}

/** Runs `python args...`; resolves with stdout, rejects with stderr's end. */
export function runPython(
  python: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      python,
      args,
      {
        encoding: 'utf8',
        timeout: 120_000,
        maxBuffer: 256 * 1024 * 1024,
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...env },
      },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`${python} failed (${error.message}); stderr: ${stderr.slice(-3000)}`))
        else resolve(stdout)
      },
    )
  })
}
