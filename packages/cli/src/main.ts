// canbridge: the workstation's command line. Each subcommand is a `create…Command()` factory
// in its own file, registered in COMMANDS; main() runs one and returns its exit status.
import { Command, CommanderError } from 'commander'
import { createConvertCommand } from './convert-command.ts'
import { createDumpCommand } from './dump-command.ts'
import { EXIT, UsageError } from './exit.ts'
import { createGatewayCommand } from './gateway-command.ts'
import { createGenCommand } from './gen-command.ts'
import { showDefaultsPlainly } from './help-format.ts'
import { createKeysCommand } from './keys/command.ts'
import { createMonitorCommand } from './monitor/monitor-command.ts'
import { createPlayCommand } from './play-command.ts'
import { createSendCommand } from './send-command.ts'
import { createTopCommand } from './top-command.ts'
import { createVcanCommand } from './vcan/vcan-command.ts'
import { versionText } from './version.ts'

/** The subcommands, in the order --help lists them: one factory per subcommand. */
export const COMMANDS: readonly (() => Command)[] = [
  createDumpCommand,
  createPlayCommand,
  createConvertCommand,
  createSendCommand,
  createGenCommand,
  createTopCommand,
  createMonitorCommand,
  createVcanCommand,
  createGatewayCommand,
  createKeysCommand,
]

export interface ProgramOutput {
  out: (text: string) => void
  err: (text: string) => void
}

export function buildProgram(
  commands: readonly (() => Command)[] = COMMANDS,
  output?: ProgramOutput,
): Command {
  const program = new Command('canbridge')
    .description(
      'canbridge on the workstation: tools that talk to canbridge edges (canbridge-edge) over the network, in the ways can-utils users know.',
    )
    .helpOption('-h, --help', 'show this help')
    .version(
      versionText(),
      '-V, --version',
      'show the versions of canbridge, its protocol and Node',
    )
    .showHelpAfterError('(add --help for the options)')
    .addHelpText(
      'after',
      '\nEach command has its own --help, e.g. canbridge dump --help.\nExit status: 0 done, 1 something failed, 2 bad command line, 3 could not run.',
    )
  for (const create of commands) {
    // settings a subcommand made elsewhere does not inherit from the program
    const command = create().exitOverride().showHelpAfterError('(add --help for the options)')
    if (output) command.configureOutput({ writeOut: output.out, writeErr: output.err })
    program.addCommand(command)
  }
  if (output) program.configureOutput({ writeOut: output.out, writeErr: output.err })
  return showDefaultsPlainly(program).exitOverride()
}

/** Runs the command line (without node and the script); resolves with the exit status. */
export async function main(argv: readonly string[], output?: ProgramOutput): Promise<number> {
  const program = buildProgram(COMMANDS, output)
  if (process.env['CANBRIDGE_CHECK_ARGS'] === '1') {
    // the README check: commander has validated the command line; stop before acting
    program.hook('preAction', () => {
      throw new CommanderError(EXIT.OK, 'canbridge.checked', 'canbridge: arguments ok')
    })
  }
  try {
    await program.parseAsync(argv as string[], { from: 'user' })
  } catch (error) {
    if (error instanceof CommanderError) {
      // a subcommand's own failure (`canbridge.*` codes) keeps its status; commander's are usage
      if (error.code.startsWith('canbridge.')) return error.exitCode
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE
    }
    if (error instanceof UsageError) {
      const write = output?.err ?? ((text: string) => process.stderr.write(text))
      write(`canbridge: ${error.message}\n`)
      return EXIT.USAGE
    }
    throw error
  }
  return Number(process.exitCode ?? EXIT.OK)
}
