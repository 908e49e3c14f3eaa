// "canbridge keys": the commander command that makes and manages a canbridge PKI directory
// (CA, server certificate, per-edge certificates and tokens). Wired into the canbridge CLI.
import { Command, InvalidArgumentError, Option } from 'commander'
import { showDefaultsPlainly } from '../help-format.ts'
import { addEdge } from './add-edge.ts'
import { DEFAULT_CA_DAYS } from './certificate-authority.ts'
import { KeysError } from './errors.ts'
import { fingerprintOfDer, fingerprintOfFile, readCertificateFile } from './fingerprint.ts'
import { initPki } from './init.ts'
import { checkEdgeId, checkServerIp, checkServerName, MAX_DAYS, parseDays } from './inputs.ts'
import { inspectPki } from './inspect.ts'
import { DEFAULT_PKI_DIR, type PkiLayout } from './layout.ts'
import { DEFAULT_LEAF_DAYS } from './leaf-certificates.ts'
import { nextSteps } from './next-steps.ts'
import { addEdgeText, initText, revokeEdgeText, showText } from './report-text.ts'
import { revokeEdge } from './revoke-edge.ts'
import { pathExists } from './secure-files.ts'

export interface KeysCommandOutput {
  /** normal output and help (default: stdout) */
  out?: (text: string) => void
  /** errors (default: stderr) */
  err?: (text: string) => void
}

/** Turns a KeysError from a value check into commander's "argument is invalid" error. */
function asArgument<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value)
    } catch (error) {
      if (error instanceof KeysError) throw new InvalidArgumentError(error.message)
      throw error
    }
  }
}

function repeatable(check: (value: string) => string) {
  const parse = asArgument(check)
  return (value: string, previous: string[] | undefined) => [...(previous ?? []), parse(value)]
}

const daysArgument = asArgument((value) => parseDays(value))

function dirOption(): Option {
  return new Option('-d, --dir <dir>', 'the PKI directory').default(DEFAULT_PKI_DIR)
}

/** Runs an action; a KeysError becomes commander's error (message on stderr, exit status 1). */
async function reporting(command: Command, action: () => Promise<void>): Promise<void> {
  try {
    await action()
  } catch (error) {
    if (!(error instanceof KeysError)) throw error
    command.error(`error: ${error.message}`, { exitCode: 1, code: `canbridge.keys.${error.code}` })
  }
}

/** The server's host and pin for the edge instructions, when server.crt is there to read. */
async function serverForEdges(layout: PkiLayout) {
  const unknown = { host: undefined, fingerprint: undefined }
  if (!(await pathExists(layout.serverCert))) return unknown
  try {
    const cert = await readCertificateFile(layout.serverCert)
    return { host: /^CN=(.*)$/m.exec(cert.subject)?.[1], fingerprint: fingerprintOfDer(cert.raw) }
  } catch (error) {
    // The edge is written by now; a damaged server.crt only leaves placeholders ("show" says why).
    if (error instanceof KeysError) return unknown
    throw error
  }
}

const LAYOUT_HELP = `
Files in the PKI directory (--dir, default ${DEFAULT_PKI_DIR}):
  ca.crt, ca.key               the private CA (ECDSA P-256); ca.key never leaves this machine
  server.crt, server.key       the server's certificate (serverAuth) and key, for TCPBus
  edges/ID.crt, edges/ID.key   an edge's client certificate (clientAuth, CN=ID) and key
  edges/ID.token               an edge's secret token (login without a certificate)
  edge-tokens.json             the server's token table: { "version": 1, "edges": { ID: token } }
Keys, tokens and the table are written mode 0600, certificates 0644, directories 0700.

Exit status: 0 done, 1 an error (the message says what to fix). Every check comes before
the first file is written, and each file is written whole (a temporary file renamed).`

export function createKeysCommand(output: KeysCommandOutput = {}): Command {
  const out = output.out ?? ((text: string) => process.stdout.write(text))
  const err = output.err ?? ((text: string) => process.stderr.write(text))
  // Subcommands made with .command() copy these settings.
  const keys = new Command('keys')
    .description(
      'Create and manage the keys of a secure canbridge link: a private CA, the server certificate, and per-edge client certificates and tokens.',
    )
    .configureOutput({ writeOut: out, writeErr: err })
    .allowExcessArguments(false)
  keys.addHelpText(
    'after',
    `${LAYOUT_HELP}

Start with:
  canbridge keys init --server-name workstation.local --edge pi-garage
and follow the steps it prints.`,
  )

  keys
    .command('init')
    .description(
      'Create a new CA and server certificate (and edges with --edge) in the PKI directory. Refuses to replace existing files without --force.',
    )
    .addOption(dirOption())
    .addOption(
      new Option(
        '--server-name <name>',
        'DNS name the edges dial, repeatable; the first is the CN (default, with no --server-ip either: this host name and localhost)',
      ).argParser(repeatable(checkServerName)),
    )
    .addOption(
      new Option(
        '--server-ip <ip>',
        'IP address the edges dial, repeatable (default, with no --server-name either: 127.0.0.1 and ::1)',
      ).argParser(repeatable(checkServerIp)),
    )
    .addOption(
      new Option('--edge <id>', 'enrol this edge now, repeatable (more later: add-edge)').argParser(
        repeatable(checkEdgeId),
      ),
    )
    .addOption(
      new Option('--days <n>', `validity of the server and edge certificates, 1..${MAX_DAYS}`)
        .default(DEFAULT_LEAF_DAYS)
        .argParser(daysArgument),
    )
    .addOption(
      new Option('--ca-days <n>', `validity of the CA, 1..${MAX_DAYS}`)
        .default(DEFAULT_CA_DAYS)
        .argParser(daysArgument),
    )
    .option(
      '--force',
      'replace existing CA, server and named edge files (a new CA: every other edge needs new files)',
    )
    .addHelpText(
      'after',
      `
Give every name and address the edges will use to reach the server: they connect only if
the one in their --server matches the certificate. Other edges and their tokens stay as they are.
${LAYOUT_HELP}

Examples:
  canbridge keys init --server-name workstation.local --server-ip 192.168.1.10 --edge pi-garage
  canbridge keys init --dir pki --edge pi-1 --edge pi-2 --days 365`,
    )
    .action(async (options: InitCliOptions, command: Command) =>
      reporting(command, async () => {
        const result = await initPki({
          dir: options.dir,
          serverNames: options.serverName,
          serverIps: options.serverIp,
          edges: options.edge,
          days: options.days,
          caDays: options.caDays,
          force: options.force === true,
        })
        out(initText(result))
        out(
          nextSteps({
            layout: result.layout,
            serverHost: result.server.commonName,
            serverFingerprint: result.server.fingerprint,
            edgeIds: result.edges.map((edge) => edge.edgeId),
            includeServer: true,
          }),
        )
      }),
    )

  keys
    .command('add-edge')
    .description(
      'Enrol an edge with the existing CA: its certificate, key and token, and its entry in edge-tokens.json.',
    )
    .argument(
      '<id>',
      'the edge id (its --edge-id): 1..64 of A-Z a-z 0-9 . _ -, not starting with "."',
      asArgument(checkEdgeId),
    )
    .addOption(dirOption())
    .addOption(
      new Option('--days <n>', `validity of the certificate, 1..${MAX_DAYS}`)
        .default(DEFAULT_LEAF_DAYS)
        .argParser(daysArgument),
    )
    .option('--force', 'issue new files and a new token for an edge that already exists')
    .addHelpText(
      'after',
      `
Needs ca.crt and ca.key in the PKI directory. The certificate cannot outlive the CA.

Example:
  canbridge keys add-edge pi-garage --dir ${DEFAULT_PKI_DIR}`,
    )
    .action(async (edgeId: string, options: AddEdgeCliOptions, command: Command) =>
      reporting(command, async () => {
        const result = await addEdge({
          edgeId,
          dir: options.dir,
          days: options.days,
          force: options.force === true,
        })
        out(addEdgeText(result))
        const server = await serverForEdges(result.layout)
        out(
          nextSteps({
            layout: result.layout,
            serverHost: server.host,
            serverFingerprint: server.fingerprint,
            edgeIds: [edgeId],
            includeServer: false,
          }),
        )
      }),
    )

  keys
    .command('revoke-edge')
    .description(
      "Remove an edge's entry from edge-tokens.json and delete its files. Its client certificate stays valid until it expires (see below).",
    )
    .argument('<id>', 'the edge id', asArgument(checkEdgeId))
    .addOption(dirOption())
    .addHelpText(
      'after',
      `
What this stops: token logins of the edge, once the server reads the new edge-tokens.json
(restart the server unless it reloads the file).
What it does not: this CA keeps no revocation list, so a copy of the edge's certificate and
key (the Pi has one) stays valid until the certificate expires. To shut it out sooner, make
the server refuse that edge id, or make a new CA ("canbridge keys init --force") and issue
every other edge again.`,
    )
    .action(async (edgeId: string, options: { dir: string }, command: Command) =>
      reporting(command, async () => {
        out(revokeEdgeText(await revokeEdge({ edgeId, dir: options.dir })))
      }),
    )

  keys
    .command('fingerprint')
    .description(
      "Print a certificate's SHA-256 fingerprint as sha256:AB:CD:… (the form of the edge's --tls-pin, and of Node's X509Certificate.fingerprint256).",
    )
    .argument(
      '<file>',
      'a certificate, PEM (the first one in it) or DER, e.g. canbridge-pki/server.crt',
    )
    .addHelpText(
      'after',
      `
The same value as: openssl x509 -noout -fingerprint -sha256 -in FILE`,
    )
    .action(async (file: string, _options: unknown, command: Command) =>
      reporting(command, async () => {
        out(`${await fingerprintOfFile(file)}\n`)
      }),
    )

  keys
    .command('show')
    .description(
      'List the CA, server and edges in the PKI directory: subjects, names, validity, fingerprints; warn about certificates expiring within 30 days and other problems.',
    )
    .addOption(dirOption())
    .action(async (options: { dir: string }, command: Command) =>
      reporting(command, async () => {
        out(showText(await inspectPki({ dir: options.dir })))
      }),
    )

  return showDefaultsPlainly(keys)
}

interface InitCliOptions {
  dir: string
  serverName?: string[]
  serverIp?: string[]
  edge?: string[]
  days: number
  caDays: number
  force?: boolean
}

interface AddEdgeCliOptions {
  dir: string
  days: number
  force?: boolean
}
