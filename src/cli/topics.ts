// `juice topics`: the topics a running proxy has forwarded, with when each was last seen.
import { queryTopics, TimeoutError } from '../index'
import { CLIENT_CURVE_FLAGS, CLIENT_CURVE_HELP, clientCurve, CommandError, parse, positiveNumber, UsageError, formatHelp, endpointOf, PROXY_FLAG, PROXY_HELP } from './args'
import { DEFAULT_QUERY } from './proxy'

export const help = formatHelp(`Usage: juice topics [--query URI] [--json]

Lists the topics (Type.topic) the proxy has forwarded, with when each was last seen and how many
events carried it. Asks the proxy's query endpoint (juice proxy --query).

  --query URI          the proxy's query endpoint (default ${DEFAULT_QUERY})
${PROXY_HELP}
  --json               one JSON document instead of a table
  --timeout SECONDS    how long to wait for the answer (default 3)
${CLIENT_CURVE_HELP}
  -h, --help           this help

Example: juice topics --query tcp://127.0.0.1:5124
`)

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86400)}d ago`
}

export async function topics(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { query: { type: 'string' }, ...PROXY_FLAG, json: { type: 'boolean' }, timeout: { type: 'string' }, ...CLIENT_CURVE_FLAGS })
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
  const uri = endpointOf(values, 'query', values.query as string | undefined)
  const timeout = positiveNumber('--timeout', values.timeout as string | undefined, 3)
  let reply: Awaited<ReturnType<typeof queryTopics>>
  try {
    reply = await queryTopics(uri, { timeout, curve: clientCurve(values) })
  } catch (e) {
    if (e instanceof TimeoutError) {
      const why = e.diagnosis
      throw new CommandError(
        `no answer from a proxy query endpoint at ${uri} within ${timeout} s` + (why ? `: ${why}` : ' (is juice proxy running, with --query?)'),
      )
    }
    throw e
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(reply) + '\n')
    return 0
  }
  if (reply.topics.length === 0) {
    process.stdout.write('no topics seen yet\n')
    return 0
  }
  const now = Date.now()
  const rows = reply.topics.map((t) => [t.name, `${t.lastSeen.toISOString()} (${ago(now - t.lastSeen.getTime())})`, t.count.toLocaleString('en-US')])
  const head = ['TOPIC', 'LAST SEEN', 'EVENTS']
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (r: string[]) => r.map((c, i) => (i === 2 ? c.padStart(width[i]) : c.padEnd(width[i]))).join('  ').trimEnd()
  process.stdout.write([line(head), ...rows.map(line)].join('\n') + '\n')
  if (reply.overflow > 0) process.stdout.write(`(${reply.overflow} events on further topics were not recorded: the proxy's topic limit is full)\n`)
  return 0
}
