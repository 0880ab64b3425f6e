// `juice ingest`: store events of chosen types in InfluxDB (TelemetrySink as a service).
import { type EventClass, type InfluxOptions, TelemetrySink, validateTypeName } from '../index'
import { CommandError, formatHelp, parse, positiveNumber, typeAndTopic, UsageError, endpointOf, PROXY_FLAG, PROXY_HELP } from './args'
import { classesFrom, classesFromSchemaFile, classFor, fieldTypes } from './schema-source'

export const help = formatHelp(`Usage: juice ingest [TYPE[.TOPIC]...] --influx URL --db NAME [options]        (InfluxDB 1.x)
       juice ingest [TYPE[.TOPIC]...] --influx URL --org ORG --bucket B [options]  (InfluxDB 2.x)

Subscribes to the named event types and writes them to InfluxDB in batches, retrying through
database outages, until Ctrl-C or SIGTERM (then it writes what it holds and prints a summary).
Exact by default: when InfluxDB is slow or down it stops reading, so that (behind a lossless
proxy) publishers wait rather than anything being dropped. It exits 1 if any event was lost,
dropped, malformed or refused by the database, and says how many.

Where each type's storage schema (measurement, tags, field types) comes from:
  --classes FILE          a JS module exporting the event classes (static measurement, tags,
                          fields): TYPEs name some of them; none given means all of them
  --schema FILE           JSON: { "Type": { "measurement": "m", "tags": ["a"], "fields":
                          { "kelvin": "float" } } }; TYPEs as for --classes
  or, without either, flags (every TYPE stored as the measurement of its own name):

  --uri URI               the proxy's subscriber endpoint (default tcp://127.0.0.1:5123)
${PROXY_HELP}
  --influx URL            InfluxDB base URL, e.g. http://127.0.0.1:8086
  --db NAME               1.x database (with --rp RP, --user U and the password in $INFLUX_PASSWORD)
  --org ORG --bucket B    2.x organisation and bucket (the token in $INFLUX_TOKEN)
  --tags a,b              fields stored as tags
  --integers x,y          number fields stored as integers (others are floats)
  --fields k:float,n:int  every field's type (float, int, bool, string), as the Python twin
                          declares them: stored as upstream stores them (see the README)
  --measurement NAME      measurement name, when a single TYPE is ingested
  --engine native|js      who converts and writes: the Rust core (default for http) or
                          JavaScript (default for https, and for classes that override
                          toLineProtocol())
  --batch-size N          points per request (default 5000)
  --flush-interval SECS   longest wait before a batch is sent (default 1)
  --max-buffer N          events held while the database is down (default 500000)
  --status-interval SECS  seconds between status lines on stderr (default 10)
  --create-db             create the 1.x database if it does not exist
  --lossy                 drop (and count) events beyond --max-buffer instead of waiting
  --stream NAME           with a nats:// --uri: read this JetStream stream through the durable
  --durable NAME          consumer NAME, acknowledging only what InfluxDB stored; restarted
                          under the same name it resumes, losing and repeating nothing
  --ack-wait SECS         how long NATS waits for an acknowledgement (default 30)
  --prefix PREFIX         NATS subject prefix (default juice)
  -h, --help              this help

Example: juice ingest --classes ./events.js --influx http://127.0.0.1:8086 --db lab
         juice ingest Telemetry --influx http://127.0.0.1:8086 --db lab --tags path
`)

const list = (v: unknown): string[] => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : [])

function influxOptions(values: Record<string, unknown>): InfluxOptions {
  const url = values.influx as string | undefined
  if (url === undefined) throw new UsageError('--influx URL is required')
  if (values.org !== undefined || values.bucket !== undefined) {
    if (values.db !== undefined) throw new UsageError('use --db (1.x) or --org/--bucket (2.x), not both')
    const token = process.env.INFLUX_TOKEN
    if (!values.org || !values.bucket) throw new UsageError('InfluxDB 2.x needs both --org and --bucket')
    if (!token) throw new UsageError('InfluxDB 2.x needs a token in the INFLUX_TOKEN environment variable')
    return { version: 2, url, org: values.org as string, bucket: values.bucket as string, token }
  }
  if (values.db === undefined) throw new UsageError('name the database: --db NAME (1.x) or --org/--bucket (2.x)')
  return {
    version: 1,
    url,
    database: values.db as string,
    retentionPolicy: values.rp as string | undefined,
    username: values.user as string | undefined,
    password: values.user !== undefined ? (process.env.INFLUX_PASSWORD ?? '') : undefined,
  }
}

export async function ingest(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    uri: { type: 'string' },
    ...PROXY_FLAG,
    influx: { type: 'string' },
    db: { type: 'string' },
    rp: { type: 'string' },
    user: { type: 'string' },
    org: { type: 'string' },
    bucket: { type: 'string' },
    tags: { type: 'string' },
    integers: { type: 'string' },
    fields: { type: 'string' },
    measurement: { type: 'string' },
    'batch-size': { type: 'string' },
    'flush-interval': { type: 'string' },
    'max-buffer': { type: 'string' },
    'status-interval': { type: 'string' },
    'create-db': { type: 'boolean' },
    classes: { type: 'string' },
    schema: { type: 'string' },
    engine: { type: 'string' },
    lossy: { type: 'boolean' },
    stream: { type: 'string' },
    durable: { type: 'string' },
    'ack-wait': { type: 'string' },
    prefix: { type: 'string' },
    // The default now; still accepted.
    lossless: { type: 'boolean' },
  })
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  const fromFile = values.classes !== undefined || values.schema !== undefined
  if (values.classes !== undefined && values.schema !== undefined) throw new UsageError('use --classes or --schema, not both')
  if (fromFile) {
    for (const flag of ['measurement', 'tags', 'integers', 'fields']) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} describes a classless type; with --classes or --schema the schema comes from there`)
    }
  } else if (positionals.length === 0) {
    throw new UsageError('name at least one TYPE[.TOPIC] to ingest, or give --classes FILE or --schema FILE')
  }
  if (values.lossy && values.lossless) throw new UsageError('--lossy and --lossless contradict each other')
  const engine = values.engine as string | undefined
  if (engine !== undefined && engine !== 'native' && engine !== 'js') throw new UsageError(`--engine must be native or js, got ${JSON.stringify(engine)}`)
  if (values.measurement !== undefined && new Set(positionals.map((p) => p.split('.')[0])).size > 1) {
    throw new UsageError('--measurement needs a single TYPE')
  }
  if ((values.stream === undefined) !== (values.durable === undefined)) throw new UsageError('--stream and --durable go together')
  if (values['ack-wait'] !== undefined && values.durable === undefined) throw new UsageError('--ack-wait needs --stream and --durable')
  const durable =
    values.durable === undefined
      ? undefined
      : { stream: values.stream as string, name: values.durable as string, ackWait: positiveNumber('--ack-wait', values['ack-wait'], 30) }
  const influx = influxOptions(values)
  const tags = list(values.tags)
  const integers = list(values.integers)
  const fields = typeof values.fields === 'string' ? fieldTypes(list(values.fields)) : undefined
  if (fields !== undefined && integers.length > 0) throw new UsageError('--fields already gives the integer fields; drop --integers')
  const statusEvery = positiveNumber('--status-interval', values['status-interval'], 10)
  const known = values.classes !== undefined ? await classesFrom(values.classes as string) : values.schema !== undefined ? classesFromSchemaFile(values.schema as string) : null
  const specs = positionals.length > 0 ? positionals : [...(known?.keys() ?? [])]
  const sink = new TelemetrySink({
    uri: endpointOf(values, 'backend', values.uri as string | undefined),
    influx,
    engine: engine as 'native' | 'js' | undefined,
    lossless: values.lossy !== true,
    durable,
    subscriber: values.prefix === undefined ? undefined : { natsPrefix: values.prefix as string },
    batchSize: positiveNumber('--batch-size', values['batch-size'], 5000, { integer: true }),
    flushInterval: positiveNumber('--flush-interval', values['flush-interval'], 1),
    maxBuffer: positiveNumber('--max-buffer', values['max-buffer'], 500_000, { integer: true }),
  })
  const classes = new Map<string, EventClass>()
  try {
    for (const spec of specs) {
      const { type, topic } = typeAndTopic(spec)
      validateTypeName(type)
      let cls = classes.get(type) ?? known?.get(type)
      if (cls === undefined && known !== null) {
        throw new CommandError(`${type} is not among the types of ${values.classes ?? values.schema} (${[...known.keys()].join(', ')})`)
      }
      cls ??= classFor(type, { measurement: (values.measurement as string | undefined) ?? type, tags, integerFields: integers, fields })
      classes.set(type, cls)
      sink.subscribe(cls, { topic })
    }
  } catch (e) {
    await sink.close()
    throw e instanceof TypeError ? new CommandError(e.message) : e
  }
  try {
    await sink.checkDatabase({ create: values['create-db'] === true })
  } catch (e) {
    await sink.close()
    throw new CommandError((e as Error).message)
  }
  sink.start()
  const where = influx.version === 1 ? `${influx.url} database ${influx.database}` : `${influx.url} bucket ${influx.bucket}`
  process.stderr.write(`juice ingest: ${specs.join(', ')} -> InfluxDB ${influx.version}.x at ${where} (${sink.engine} engine${values.lossy ? ', lossy' : ''})\n`)
  const line = () => {
    const s = sink.stats()
    return `received ${s.received}, written ${s.written}, buffered ${s.buffered}, retries ${s.retries}, rejected ${s.rejected}, overflow ${s.overflow}${s.malformed ? `, malformed ${s.malformed}` : ''}${s.lost ? `, lost ${s.lost}` : ''}${s.lastError ? ` (last error: ${s.lastError})` : ''}`
  }
  const timer = setInterval(() => process.stderr.write(`juice ingest: ${line()}\n`), statusEvery * 1000)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  clearInterval(timer)
  const held = sink.stats().buffered
  if (held > 0) {
    process.stderr.write(
      `juice ingest: stopping: writing ${held} buffered point${held === 1 ? '' : 's'} to InfluxDB (giving up after 30 s; Ctrl-C again to stop now)\n`,
    )
  }
  // A second signal stops at once, saying what is lost.
  const now = () => {
    const s = sink.stats()
    process.stderr.write(`juice ingest: stopped at once; lost ${s.buffered} buffered point${s.buffered === 1 ? '' : 's'}; ${line()}\n`)
    process.exit(1)
  }
  process.once('SIGINT', now)
  process.once('SIGTERM', now)
  await sink.close()
  process.stderr.write(`juice ingest: stopped; ${line()}\n`)
  const s = sink.stats()
  const missing = s.lost + s.overflow + s.rejected + s.malformed
  if (missing > 0) process.stderr.write(`juice ingest: ${missing} event${missing === 1 ? ' was' : 's were'} not stored (lost ${s.lost}, overflow ${s.overflow}, rejected ${s.rejected}, malformed ${s.malformed})\n`)
  return missing > 0 ? 1 : 0
}
