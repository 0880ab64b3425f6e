// `juice proxy`: the Juice proxy as a service, with a live status line.
import { DEFAULT_BACKEND, DEFAULT_FRONTEND, Proxy, type ProxyStats } from '../index'
import { formatHelp, parse, plural, positiveNumber, readAllowlist, readKeyPair, UsageError } from './args'
import { statusUntilStopped } from './until-stopped'

export const DEFAULT_QUERY = 'tcp://127.0.0.1:5124'

export const help = formatHelp(`Usage: juice proxy [--frontend URI] [--backend URI] [--query URI|none] [options]

Runs the Juice XSUB/XPUB proxy until Ctrl-C or SIGTERM. On a terminal it shows one live status
line (events/s, bytes/s, subscriptions, clients); otherwise it logs a line every --interval.

  --frontend URI       where publishers connect (default ${DEFAULT_FRONTEND})
  --backend URI        where subscribers connect (default ${DEFAULT_BACKEND})
  --query URI|none     JSON query endpoint for juice topics (default ${DEFAULT_QUERY})
  --interval SECONDS   seconds between log lines when not on a terminal (default 10)
  --lossless           wait for slow subscribers instead of dropping for them
  --keys FILE          turn CURVE on with this key pair (from juice keygen --out FILE)
  --allow FILE         client public keys allowed in, one per line (required with --keys)
  -h, --help           this help

Example: juice proxy --frontend tcp://*:5122 --backend tcp://*:5123 --query tcp://127.0.0.1:5124
`)

const rate = (n: number) => Math.round(n).toLocaleString('en-US')

function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB']
  let i = 0
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000
    i++
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`
}

function statusLine(s: ProxyStats, eps: number, bps: number): string {
  return (
    `${rate(eps)} events/s  ${bytes(bps)}/s  ${plural(s.subscriptions, 'subscription')}  ` +
    `${plural(s.publishers, 'publisher')}  ${plural(s.subscribers, 'subscriber')}  (${rate(s.messages)} events in total)`
  )
}

export async function proxy(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    frontend: { type: 'string' },
    backend: { type: 'string' },
    query: { type: 'string' },
    interval: { type: 'string' },
    lossless: { type: 'boolean' },
    keys: { type: 'string' },
    allow: { type: 'string' },
  })
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
  const interval = positiveNumber('--interval', values.interval, 10)
  const query = values.query === 'none' ? undefined : (values.query ?? DEFAULT_QUERY)
  if ((values.keys === undefined) !== (values.allow === undefined)) throw new UsageError('--keys and --allow go together')
  const curve =
    values.keys !== undefined
      ? { secretKey: readKeyPair(values.keys, '--keys').secretKey, allowedClients: readAllowlist(values.allow as string) }
      : undefined
  const p = await Proxy.start({ frontend: values.frontend, backend: values.backend, query, lossless: values.lossless, curve })
  const err = process.stderr
  err.write(
    `juice proxy: publishers -> ${p.frontend}, subscribers -> ${p.backend}` +
      (p.query ? `, queries -> ${p.query}` : '') +
      (p.curvePublicKey ? `\njuice proxy: CURVE on; server public key ${p.curvePublicKey}, ${plural(curve?.allowedClients.length ?? 0, 'client')} allowed` : '') +
      '\n',
  )
  let last = p.stats()
  let lastAt = performance.now()
  // Rates over the time since the previous line.
  const line = () => {
    const now = performance.now()
    const s = p.stats()
    const secs = (now - lastAt) / 1000
    const text = statusLine(s, (s.messages - last.messages) / secs, (s.bytes - last.bytes) / secs)
    last = s
    lastAt = now
    return text
  }
  await statusUntilStopped(line, interval)
  const s = p.stats()
  await p.close()
  err.write(`juice proxy: stopped after forwarding ${rate(s.messages)} events (${bytes(s.bytes)})\n`)
  return 0
}
