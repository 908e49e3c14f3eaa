// The instructions printed after "init" and "add-edge": what the server loads, which files
// go to each Pi, and the canbridge-edge flags that use them.
import { edgeFiles, type PkiLayout } from './layout.ts'

/** The port every canbridge README uses; the text says to change it to the real one. */
const EXAMPLE_PORT = 29536
/** Where the Pi package keeps its settings (packaging/edge: /etc/canbridge/edge.json). */
const EDGE_CONFIG_DIR = '/etc/canbridge'
/** The user the edge's systemd unit runs as. */
const EDGE_USER = 'canbridge'

export interface NextStepsInput {
  layout: PkiLayout
  /** the host the edges dial: the server certificate's first name or address */
  serverHost: string | undefined
  /** sha256:… of server.crt, for --tls-pin */
  serverFingerprint: string | undefined
  /** the edges just enrolled (none: the steps use a placeholder id) */
  edgeIds: readonly string[]
  /** init: include the server's part */
  includeServer: boolean
}

function hostPort(host: string | undefined): string {
  if (host === undefined) return `HOST:${EXAMPLE_PORT}`
  return `${host.includes(':') ? `[${host}]` : host}:${EXAMPLE_PORT}`
}

export function nextSteps(input: NextStepsInput): string {
  const { layout } = input
  const lines: string[] = ['Next steps', '']
  let step = 1
  if (input.includeServer) {
    lines.push(
      `${step++}. On this machine (the server), listen where the Pi can reach it (host: '0.0.0.0',`,
      "   or this machine's address; TCPBus binds 127.0.0.1 by default) with the server files:",
      `     tls: { certFile: '${layout.serverCert}', keyFile: '${layout.serverKey}', clientCaFile: '${layout.caCert}' }`,
      '   (clientCaFile: edges must show a client certificate signed by this CA) and, for edges',
      '   that log in with a token instead of a certificate:',
      `     auth: { tokensFile: '${layout.tokenTable}' }`,
      `   ${layout.caKey} signs new edges: keep it on this machine (or offline), never on a Pi.`,
      '',
    )
  }
  const id = input.edgeIds[0] ?? 'ID'
  const files = edgeFiles(layout, id)
  // POSIX paths on the Pi, whatever this machine's separator.
  const onPi = (name: string) => `${EDGE_CONFIG_DIR}/${name}`
  const others = input.edgeIds.slice(1)
  if (input.edgeIds.length === 0) {
    lines.push(
      `${step++}. Enrol each edge (one per Pi): canbridge keys add-edge ID --dir ${layout.dir}`,
      "   (ID: 1..64 of A-Z a-z 0-9 . _ -, the edge's --edge-id, e.g. pi-garage)",
      '',
    )
  }
  lines.push(
    `${step++}. Copy to the Pi of edge ${id}${others.length > 0 ? ` (likewise for ${others.join(', ')})` : ''}, for a certificate login:`,
    `     ${layout.caCert}  ${files.cert}  ${files.key}`,
    '   or for a token login:',
    `     ${layout.caCert}  ${files.token}`,
    `   and on the Pi put them in ${EDGE_CONFIG_DIR}, secrets readable only by the service user:`,
    `     sudo install -m 644 ca.crt ${id}.crt ${EDGE_CONFIG_DIR}/`,
    `     sudo install -m 600 -o ${EDGE_USER} -g ${EDGE_USER} ${id}.key ${EDGE_CONFIG_DIR}/    (or ${id}.token)`,
    '',
    `${step++}. Start the edge with a certificate:`,
    `     canbridge-edge --server ${hostPort(input.serverHost)} --channel can0 --edge-id ${id} --tls-ca ${onPi('ca.crt')} --tls-cert ${onPi(`${id}.crt`)} --tls-key ${onPi(`${id}.key`)}`,
    '   or with the token:',
    `     canbridge-edge --server ${hostPort(input.serverHost)} --channel can0 --edge-id ${id} --tls-ca ${onPi('ca.crt')} --token-file ${onPi(`${id}.token`)}`,
    `   (${EXAMPLE_PORT}: or the port your TCPBus listens on.) In ${EDGE_CONFIG_DIR}/edge.json the same is`,
    `     "tlsCa": "${onPi('ca.crt')}", "tlsCert": "${onPi(`${id}.crt`)}", "tlsKey": "${onPi(`${id}.key`)}"`,
    `   or "tokenFile": "${onPi(`${id}.token`)}", beside "server" and "edgeId".`,
  )
  if (input.serverFingerprint !== undefined) {
    lines.push(
      `   Instead of --tls-ca ${onPi('ca.crt')}, the edge can pin the server certificate:`,
      `     --tls-pin ${input.serverFingerprint}`,
      `   (this changes whenever server.crt is issued again: "canbridge keys fingerprint ${layout.serverCert}")`,
    )
  }
  return `${lines.join('\n')}\n`
}
