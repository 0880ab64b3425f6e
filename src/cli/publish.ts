// `juice publish`: send events of any type from the shell.
import { createInterface } from 'node:readline'
import { Event, PublisherAsync, timeFromText, validateTypeName } from '../index'
import { awaitConnection, CLIENT_CURVE_FLAGS, CLIENT_CURVE_HELP, clientCurve, parse, positiveNumber, UsageError, formatHelp, endpointOf, PROXY_FLAG, PROXY_HELP } from './args'

export const help = formatHelp(`Usage: juice publish TYPE '{"json": "body"}' [--topic T] [--count N] [--rate R] [options]

Publishes an event of type TYPE whose fields are the JSON object given (its "time", if any, must
be an ISO 8601 string; otherwise each event is stamped now). With - instead of the JSON, reads
one JSON object per line from stdin and publishes each. Prints a summary to stderr.

  --uri URI                 the proxy's publisher endpoint (default tcp://127.0.0.1:5122)
${PROXY_HELP}
  --topic T                 the event's topic (dot-separated), e.g. qpu0.fridge
  --count N                 how many copies to send (default 1)
  --rate R                  events per second (default: as fast as possible)
  --subscription-wait SECS  how long the first event waits for a subscriber (default 1)
  --connect-timeout SECS    give up if the proxy cannot be reached (default 5)
${CLIENT_CURVE_HELP}
  -h, --help                this help

Example: juice publish Telemetry '{"path": "qpu0.fridge", "kelvin": 0.012}' --topic qpu0.fridge
         some-producer | juice publish Telemetry - --topic qpu0.fridge     (one JSON object per line)
`)

function body(text: string): Record<string, unknown> {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    throw new UsageError(`the event body is not valid JSON: ${(e as Error).message}`)
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new UsageError(`the event body must be a JSON object, got ${Array.isArray(data) ? 'an array' : JSON.stringify(data)}`)
  }
  const fields = data as Record<string, unknown>
  if ('time' in fields) {
    try {
      if (typeof fields.time !== 'string') throw new TypeError()
      fields.time = timeFromText(fields.time)
    } catch {
      throw new UsageError(`"time" must be an ISO 8601 string, got ${JSON.stringify(fields.time)}`)
    }
  }
  return fields
}

export async function publish(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    uri: { type: 'string' },
    ...PROXY_FLAG,
    topic: { type: 'string' },
    count: { type: 'string' },
    rate: { type: 'string' },
    'subscription-wait': { type: 'string' },
    'connect-timeout': { type: 'string' },
    ...CLIENT_CURVE_FLAGS,
  })
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  if (positionals.length !== 2) {
    throw new UsageError(`expected TYPE and a JSON body, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`)
  }
  const [type, json] = positionals
  validateTypeName(type)
  // `-`: one JSON object per line from stdin, each published once, as the lines arrive.
  const fromStdin = json === '-'
  if (fromStdin && values.count !== undefined) throw new UsageError('--count does not go with - (each line of stdin is one event)')
  const fields = fromStdin ? {} : body(json)
  const count = positiveNumber('--count', values.count as string | undefined, 1, { integer: true })
  const rate = positiveNumber('--rate', values.rate as string | undefined, Infinity)
  const wait = positiveNumber('--subscription-wait', values['subscription-wait'] as string | undefined, 1, { zeroOk: true })
  const connectTimeout = positiveNumber('--connect-timeout', values['connect-timeout'] as string | undefined, 5)
  const topic = (values.topic as string | undefined) ?? null
  const Cls = class extends Event {
    static override eventName = type
    override topic(): string | null {
      return topic
    }
  }
  const uri = endpointOf(values, 'frontend', values.uri as string | undefined)
  const pub = new PublisherAsync(uri, { subscriptionWait: wait, curve: clientCurve(values) })
  try {
    await awaitConnection('proxy', uri, connectTimeout, { connected: () => pub.stats().connected, handshakeError: () => pub.handshakeError() })
    const start = performance.now()
    const pace = async (i: number) => {
      if (!Number.isFinite(rate)) return
      const left = start + (i * 1000) / rate - performance.now()
      if (left > 1) await new Promise((r) => setTimeout(r, left))
    }
    if (fromStdin) {
      let i = 0
      for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
        if (line.trim() === '') continue
        let event: Record<string, unknown>
        try {
          event = body(line)
        } catch (e) {
          throw new UsageError(`stdin line ${i + 1}: ${(e as Error).message}`)
        }
        await pace(i++)
        await pub.publish(new Cls(event))
      }
    } else {
      for (let i = 0; i < count; i++) {
        await pace(i)
        await pub.publish(new Cls({ ...fields }))
      }
    }
  } finally {
    await pub.close()
  }
  const s = pub.stats()
  const lost = s.unrouted + s.unsent
  process.stderr.write(
    `juice publish: sent ${s.sent} ${type} event${s.sent === 1 ? '' : 's'} to ${uri}` +
      (lost > 0 ? `; ${s.unrouted} had no subscriber (unrouted), ${s.unsent} could not be delivered` : '') +
      '\n',
  )
  return 0
}
