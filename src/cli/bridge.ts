// `juice bridge`: a Juice proxy and a NATS cluster joined in both directions, with a status line.
import { Bridge, type BridgeStats, proxyEndpoints } from '../index'
import { formatHelp, parse, positiveNumber, UsageError } from './args'
import { statusUntilStopped } from './until-stopped'

export const help = formatHelp(`Usage: juice bridge --nats URL[,URL...] [--proxy HOST | --frontend URI --backend URI] [options]

Forwards Juice events between a proxy (ZeroMQ) and a NATS cluster, in both directions, until
Ctrl-C or SIGTERM. Only what someone subscribes to crosses: ZeroMQ subscriptions come from the
proxy, NATS subscribers of juice-messaging announce theirs. Events never loop back.

  --nats URLS          NATS servers, e.g. nats://nats1:4222,nats://nats2:4222 (required)
  --proxy HOST         the proxy's host, upstream's ports 5122/5123 (default: $JUICE_PROXY or 127.0.0.1)
  --frontend URI       the proxy's publisher endpoint, instead of --proxy
  --backend URI        the proxy's subscriber endpoint, instead of --proxy
  --prefix PREFIX      NATS subject prefix (default juice)
  --interval SECONDS   seconds between log lines when not on a terminal (default 10)
  -h, --help           this help

Example: juice bridge --proxy lab-pc --nats nats://nats1:4222,nats://nats2:4222
`)

const rate = (n: number) => Math.round(n).toLocaleString('en-US')

function statusLine(s: BridgeStats): string {
  const link = (up: boolean) => (up ? 'up' : 'down')
  return (
    `to NATS ${rate(s.toNats)}  to proxy ${rate(s.toZmq)}  echoes ${rate(s.echoes)}  dropped ${rate(s.dropped)}  ` +
    `malformed ${rate(s.malformed)}  filters NATS ${s.natsFilters} / proxy ${s.zmqFilters}  NATS ${link(s.natsConnected)}`
  )
}

export async function bridge(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    nats: { type: 'string' },
    proxy: { type: 'string' },
    frontend: { type: 'string' },
    backend: { type: 'string' },
    prefix: { type: 'string' },
    interval: { type: 'string' },
  })
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
  if (values.nats === undefined) throw new UsageError('--nats is required (nats://host:4222)')
  if ((values.frontend === undefined) !== (values.backend === undefined)) throw new UsageError('--frontend and --backend go together')
  if (values.frontend !== undefined && values.proxy !== undefined) throw new UsageError('give --proxy or --frontend/--backend, not both')
  const interval = positiveNumber('--interval', values.interval, 10)
  const proxy = values.frontend !== undefined ? { frontend: values.frontend, backend: values.backend as string } : proxyEndpoints(values.proxy)
  const b = Bridge.start({ proxy, nats: values.nats, natsPrefix: values.prefix })
  const err = process.stderr
  err.write(`juice bridge: proxy ${proxy.frontend} / ${proxy.backend} <-> NATS ${values.nats} (prefix ${values.prefix ?? 'juice'})\n`)
  await statusUntilStopped(() => statusLine(b.stats()), interval)
  const s = b.stats()
  await b.close()
  err.write(`juice bridge: stopped; ${rate(s.toNats)} events to NATS, ${rate(s.toZmq)} to the proxy, ${rate(s.dropped)} dropped\n`)
  return 0
}
