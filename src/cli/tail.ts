// `juice tail`: print events of chosen types as they pass, without writing a class for them.
import { DEFAULT_BACKEND, type Event, eventTypeName, receivedTopic, SubscriberAsync } from '../index'
import { awaitConnection, CLIENT_CURVE_FLAGS, CLIENT_CURVE_HELP, clientCurve, parse, positiveNumber, typeAndTopic, UsageError, formatHelp, endpointOf, PROXY_FLAG, PROXY_HELP } from './args'

export const help = formatHelp(`Usage: juice tail TYPE[.TOPIC]... [--uri URI] [--json] [options]
       juice tail --all [--uri URI] [--json] [options]

Subscribes by event type name (and optional dot-separated topic prefix) and prints each event
as one line: time, type, topic and JSON body; with --json, one JSON object per line:
{"type": ..., "topic": ..., "event": {...}}.

  --uri URI               the proxy's subscriber endpoint (default tcp://127.0.0.1:${DEFAULT_BACKEND.split(':').pop()})
${PROXY_HELP}
  --all                   every event type
  --json                  JSON lines
  --count N               exit after N events
  --timeout SECONDS       exit when nothing arrives for this long (status 0)
  --connect-timeout SECS  give up if the proxy cannot be reached (default 5)
${CLIENT_CURVE_HELP}
  -h, --help              this help

Example: juice tail KernelStatusChanged Telemetry.qpu0.fridge --json
`)

export async function tail(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    uri: { type: 'string' },
    ...PROXY_FLAG,
    all: { type: 'boolean' },
    json: { type: 'boolean' },
    count: { type: 'string' },
    timeout: { type: 'string' },
    'connect-timeout': { type: 'string' },
    ...CLIENT_CURVE_FLAGS,
  })
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  if (positionals.length === 0 && !values.all) throw new UsageError('name at least one TYPE[.TOPIC] to follow, or --all')
  const count = positiveNumber('--count', values.count as string | undefined, Infinity, { integer: true })
  const idle = positiveNumber('--timeout', values.timeout as string | undefined, 0)
  const connectTimeout = positiveNumber('--connect-timeout', values['connect-timeout'] as string | undefined, 5)
  const uri = endpointOf(values, 'backend', values.uri as string | undefined)
  // Classes by type name (eventClass), and each event's topic kept: no user classes needed.
  const sub = new SubscriberAsync(uri, { curve: clientCurve(values), keepTopic: true })
  try {
    for (const spec of positionals) {
      const { type, topic } = typeAndTopic(spec)
      sub.subscribe(type, { topic })
    }
    if (values.all) sub.subscribeAll({ anyType: true })
    await awaitConnection('proxy', uri, connectTimeout, { connected: () => sub.stats().connected, handshakeError: () => sub.handshakeError() })
    const ac = new AbortController()
    const stop = () => ac.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    let seen = 0
    while (seen < count) {
      let ev: Event
      try {
        ev = await sub.get(idle > 0 ? idle : null, { signal: ac.signal })
      } catch (e) {
        const name = (e as Error).name
        if (name === 'TimeoutError' || name === 'AbortError') break
        throw e
      }
      seen++
      print(ev, receivedTopic(ev) ?? null, Boolean(values.json))
    }
    const bad = sub.stats().malformedJson
    if (bad > 0) process.stderr.write(`juice tail: skipped ${bad} events whose body was not a JSON object\n`)
  } finally {
    await sub.close()
  }
  return 0
}

function print(ev: Event, topic: string | null, json: boolean): void {
  const type = eventTypeName(ev.constructor as new () => Event)
  const { time, ...body } = ev as unknown as Record<string, unknown>
  if (json) {
    process.stdout.write(JSON.stringify({ type, topic, event: ev }) + '\n')
  } else {
    process.stdout.write(`${(time as Date).toJSON()} ${type}${topic === null ? '' : ' ' + topic} ${JSON.stringify(body)}\n`)
  }
}

