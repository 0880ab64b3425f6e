// `juice task`: run one task on a Juice service and print its result (or its error).
import { Task, TaskClient, TaskError } from '../index'
import { CommandError, formatHelp, parse, positiveNumber, UsageError } from './args'

/** Upstream's task manager router. */
const DEFAULT_URL = 'ws://127.0.0.1:5124'

export const help = formatHelp(`Usage: juice task TARGET TYPE ['{json payload}'] [options]

Sends one task of TYPE (upstream's wire name: the task class's name) to the service TARGET
through the task manager's router (or straight to a service's task server with --url), waits for
the reply and prints the result as JSON. A task that fails on the service prints its exception,
message and remote traceback on stderr and exits 1.

  --url URL            the router, or a service's task server (default ${DEFAULT_URL})
  --timeout SECONDS    give up waiting after this long (default: wait for the reply)
  --parallel           mark the task parallel: the router runs it beside others on TARGET
  -h, --help           this help

Example: juice task qpu0 Calibrate '{"qubit": 3}' --timeout 60
`)

export async function task(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { url: { type: 'string' }, timeout: { type: 'string' }, parallel: { type: 'boolean' } })
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  const [target, type, json, ...extra] = positionals
  if (target === undefined || type === undefined) throw new UsageError('name the TARGET service and the task TYPE')
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`)
  let payload: unknown = {}
  if (json !== undefined) {
    try {
      payload = JSON.parse(json)
    } catch (e) {
      throw new UsageError(`the payload is not JSON: ${(e as Error).message}`)
    }
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new UsageError('the payload must be a JSON object')
  }
  const timeout = values.timeout === undefined ? undefined : positiveNumber('--timeout', values.timeout as string, 0)
  const cls = class extends Task {
    static override taskName = type
    static override parallel = values.parallel === true
  }
  const client = new TaskClient((values.url as string | undefined) ?? DEFAULT_URL)
  try {
    const result = await client.execute(target, new cls(payload as object), { timeout })
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
    return 0
  } catch (e) {
    if (e instanceof TaskError) {
      process.stderr.write(`${e.traceback.trimEnd()}\n${e.ename}: ${e.evalue}\n`)
      return 1
    }
    throw new CommandError((e as Error).message)
  } finally {
    await client.close()
  }
}
