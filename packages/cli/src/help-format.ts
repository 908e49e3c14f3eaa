// commander's help as a command line reads: defaults shown as typed, `(default: 1)` rather
// than JSON's `(default: "1")`, and none added where the description says its own default.
import type { Command, Help, Option } from 'commander'

/** Whether commander would show this option's default (its own rule). */
function showsDefault(option: Option): boolean {
  if (option.defaultValue === undefined) return false
  return (
    option.required ||
    option.optional ||
    (option.isBoolean() && typeof option.defaultValue === 'boolean')
  )
}

const plainDefaults: Partial<Help> = {
  optionDescription(option: Option): string {
    const extra: string[] = []
    if (option.argChoices) extra.push(`choices: ${option.argChoices.join(', ')}`)
    if (showsDefault(option) && !/\(default\b/.test(option.description)) {
      extra.push(`default: ${option.defaultValueDescription ?? String(option.defaultValue)}`)
    }
    if (option.presetArg !== undefined && option.optional) {
      extra.push(`preset: ${String(option.presetArg)}`)
    }
    if (option.envVar !== undefined) extra.push(`env: ${option.envVar}`)
    if (extra.length === 0) return option.description
    return `${option.description} (${extra.join(', ')})`.trim()
  },
}

/** Applies the plain form to `command` and every subcommand under it. */
export function showDefaultsPlainly(command: Command): Command {
  command.configureHelp(plainDefaults)
  for (const sub of command.commands) showDefaultsPlainly(sub)
  return command
}
