// Argument handling shared by the `juice` commands: strict flag parsing with messages that name
// the bad flag or value, and CURVE key files.
import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { type ClientCurveOptions, type CurveKeyPair, proxyEndpoints } from '../index'

/** A mistake in how the command was called: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** A failure at run time (unreachable proxy, refused key): printed, exit code 1. */
export class CommandError extends Error {
  override name = 'CommandError'
}

export type Options = NonNullable<ParseArgsConfig['options']>

export interface Parsed {
  /** By flag name: a string for `type: 'string'` options, a boolean for flags (parseArgs checks). */
  // biome-ignore lint/suspicious/noExplicitAny: parseArgs types each option by its config; callers narrow with `as`
  values: Record<string, any>
  positionals: string[]
}

/** Parses argv strictly; `--help` is always accepted. */
export function parse(argv: string[], options: Options, positionals = true): Parsed {
  try {
    const r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: positionals, strict: true })
    return { values: r.values as Parsed['values'], positionals: r.positionals }
  } catch (e) {
    // Node's messages already name the flag ("Unknown option '--x'"); drop its own advice.
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''))
  }
}

export function positiveNumber(flag: string, text: string | boolean | undefined, fallback: number, { integer = false, zeroOk = false } = {}): number {
  if (text === undefined || typeof text === 'boolean') return fallback
  const n = Number(text)
  const ok = Number.isFinite(n) && (zeroOk ? n >= 0 : n > 0) && (!integer || Number.isInteger(n))
  if (!ok) {
    throw new UsageError(`${flag} must be a ${integer ? 'whole ' : ''}number ${zeroOk ? '>= 0' : '> 0'}, got ${JSON.stringify(text)}`)
  }
  return n
}

/** Reads a key pair file written by `juice keygen --out`. */
export function readKeyPair(file: string, flag: string): CurveKeyPair {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  let keys: Partial<CurveKeyPair>
  try {
    keys = JSON.parse(text) as Partial<CurveKeyPair>
  } catch {
    throw new UsageError(`${flag}: ${file} is not a key file (expected the JSON that juice keygen --out writes)`)
  }
  if (typeof keys?.publicKey !== 'string' || typeof keys.secretKey !== 'string') {
    throw new UsageError(`${flag}: ${file} lacks "publicKey" and "secretKey"`)
  }
  return { publicKey: keys.publicKey, secretKey: keys.secretKey }
}

/**
 * Reads an allowlist: one Z85 public key per line, optionally followed by whitespace and a note;
 * blank lines and lines starting with `#` are skipped (`#` is also a Z85 character, so a comment
 * must start its own line or follow the key after a space).
 */
export function readAllowlist(file: string): string[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new UsageError(`--allow: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'))
    .map((l) => l.split(/\s+/)[0])
}

/** `--proxy HOST`: a proxy's endpoints on upstream's ports (else $JUICE_PROXY, else 127.0.0.1). */
export const PROXY_FLAG: Options = { proxy: { type: 'string' } }
export const PROXY_HELP = `  --proxy HOST            the proxy's host: its ports 5122/5123/5124 (default $JUICE_PROXY, else 127.0.0.1)`

/** The endpoint of `role` a command connects to: --uri (or --query) as given, else from --proxy. */
export function endpointOf(values: Record<string, unknown>, role: 'frontend' | 'backend' | 'query', given: string | undefined): string {
  if (given !== undefined && values.proxy !== undefined) throw new UsageError(`give either --proxy or the ${role === 'query' ? '--query' : '--uri'} endpoint, not both`)
  if (given !== undefined) return given
  try {
    return proxyEndpoints(values.proxy as string | undefined)[role]
  } catch (e) {
    throw new UsageError(`--proxy (or JUICE_PROXY): ${(e as Error).message.replace(/^proxyEndpoints\(\) /, '')}`)
  }
}

export const CLIENT_CURVE_FLAGS: Options = {
  'server-key': { type: 'string' },
  'server-key-file': { type: 'string' },
  keys: { type: 'string' },
}

export const CLIENT_CURVE_HELP = `  --server-key KEY  the proxy's CURVE public key (with --keys, for a CURVE proxy)
  --server-key-file FILE  the same, read from FILE (Z85 keys are full of shell metacharacters):
                    a key on its first line, or a juice keygen --out file
  --keys FILE  this client's key pair, from juice keygen --out FILE`

/** A public key from a file: a juice keygen --out file (its publicKey) or a key on the first line. */
function readServerKey(file: string): string {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new UsageError(`--server-key-file: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  const trimmed = text.trim()
  if (trimmed.startsWith('{')) {
    try {
      const key = (JSON.parse(trimmed) as { publicKey?: unknown }).publicKey
      if (typeof key === 'string') return key
    } catch {
      // not JSON after all: fall through to the first line
    }
    throw new UsageError(`--server-key-file: ${file} is JSON without a "publicKey"`)
  }
  return trimmed.split('\n')[0].trim().split(/\s+/)[0]
}

/** Client CURVE options from --server-key[-file]/--keys, or undefined when none is given. */
export function clientCurve(values: Record<string, unknown>): ClientCurveOptions | undefined {
  if (values['server-key'] !== undefined && values['server-key-file'] !== undefined) {
    throw new UsageError('give --server-key or --server-key-file, not both')
  }
  const keyFile = values['server-key-file'] as string | undefined
  const serverKey = keyFile !== undefined ? readServerKey(keyFile) : (values['server-key'] as string | undefined)
  const file = values.keys as string | undefined
  if (serverKey === undefined && file === undefined) return undefined
  if (serverKey === undefined || file === undefined) throw new UsageError('--server-key (or --server-key-file) and --keys go together')
  return { serverKey, ...readKeyPair(file, '--keys') }
}

/**
 * Lines up the option descriptions of a help text in one column: an option line is two spaces,
 * the flag, two or more spaces, the text; a continuation line is indented past the flags.
 */
export function formatHelp(text: string): string {
  const option = /^ {2}(-\S.*?) {2,}(\S.*)$/
  const lines = text.split('\n')
  const width = Math.max(...lines.map((l) => option.exec(l)?.[1].length ?? 0))
  let continues = false
  return lines
    .map((l) => {
      const m = option.exec(l)
      if (m) {
        continues = true
        return `  ${m[1].padEnd(width)}  ${m[2]}`
      }
      if (continues && /^ {6,}\S/.test(l)) return ' '.repeat(width + 4) + l.trim()
      continues = false
      return l
    })
    .join('\n')
}

/** `n thing` or `n things`. */
export function plural(n: number, thing: string): string {
  return `${n.toLocaleString('en-US')} ${thing}${n === 1 ? '' : 's'}`
}

/** Waits until `connected()` or the deadline; a refused handshake is reported at once. */
export async function awaitConnection(
  what: string,
  uri: string,
  seconds: number,
  probe: { connected: () => boolean; handshakeError: () => string | undefined },
): Promise<void> {
  const end = Date.now() + seconds * 1000
  while (!probe.connected()) {
    const why = probe.handshakeError()
    if (why !== undefined) throw new CommandError(`cannot connect to the ${what} at ${uri}: ${why}`)
    if (Date.now() >= end) {
      throw new CommandError(`cannot reach the ${what} at ${uri} within ${seconds} s (is it running? see --connect-timeout)`)
    }
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Splits `TYPE[.TOPIC]` as the Juice topic frame does: the type ends at the first dot. */
export function typeAndTopic(spec: string): { type: string; topic: string | undefined } {
  const dot = spec.indexOf('.')
  const type = dot < 0 ? spec : spec.slice(0, dot)
  const topic = dot < 0 ? undefined : spec.slice(dot + 1)
  if (type === '' || topic === '') throw new UsageError(`${JSON.stringify(spec)} is not TYPE or TYPE.TOPIC`)
  return { type, topic }
}
