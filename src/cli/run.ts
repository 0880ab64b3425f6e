// `juice`: the command line of juice-messaging (loaded by main.ts once the addon has loaded). Every failure ends as one line on stderr and a
// non-zero exit code (2: how the command was called, 1: what happened at run time), never a stack
// trace.
import { JuiceError } from '../index'
import { CommandError, UsageError } from './args'
import { bridge, help as bridgeHelp } from './bridge'
import { ingest, help as ingestHelp } from './ingest'
import { keygen, help as keygenHelp } from './keygen'
import { proxy, help as proxyHelp } from './proxy'
import { publish, help as publishHelp } from './publish'
import { tail, help as tailHelp } from './tail'
import { task, help as taskHelp } from './task'
import { topics, help as topicsHelp } from './topics'

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string; summary: string }> = {
  proxy: { run: proxy, help: proxyHelp, summary: 'run the proxy, with a live status line' },
  tail: { run: tail, help: tailHelp, summary: 'print events of chosen types as they pass' },
  publish: { run: publish, help: publishHelp, summary: 'publish events from the shell' },
  topics: { run: topics, help: topicsHelp, summary: "list the topics a proxy has seen" },
  ingest: { run: ingest, help: ingestHelp, summary: 'store events in InfluxDB (1.x or 2.x)' },
  task: { run: task, help: taskHelp, summary: 'run a task on a Juice service and print its result' },
  bridge: { run: bridge, help: bridgeHelp, summary: 'join a proxy and a NATS cluster, both ways' },
  keygen: { run: keygen, help: keygenHelp, summary: 'make a CURVE key pair' },
}

const USAGE = `Usage: juice COMMAND [options]     (juice COMMAND --help for more)

OrangeQS Juice messaging from the shell.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(11)}${c.summary}`)
  .join('\n')}
  --version  the version of juice-messaging

Example: juice proxy &   juice tail --all
`

/** Codes of library errors that mean the arguments were wrong, not the world. */
const USAGE_CODES = new Set(['ERR_JUICE_INVALID_URI', 'ERR_JUICE_INVALID_ARGUMENT'])

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE)
    return name === undefined ? 2 : 0
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${(require('../../package.json') as { version: string }).version}\n`)
    return 0
  }
  const cmd = COMMANDS[name]
  if (cmd === undefined) {
    process.stderr.write(`juice: unknown command ${JSON.stringify(name)}\n\n${USAGE}`)
    return 2
  }
  try {
    return await cmd.run(rest)
  } catch (e) {
    const err = e as Error
    const usage = e instanceof UsageError || e instanceof TypeError || (e instanceof JuiceError && USAGE_CODES.has(e.code))
    process.stderr.write(`juice ${name}: ${err.message}\n`)
    if (usage) process.stderr.write(`(see juice ${name} --help)\n`)
    if (!(usage || e instanceof CommandError || e instanceof JuiceError)) {
      process.stderr.write('(this is a bug in juice-messaging; please report it with the command line)\n')
    }
    return usage ? 2 : 1
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`juice: ${(e as Error)?.message ?? String(e)}\n`)
    process.exitCode = 1
  },
)
