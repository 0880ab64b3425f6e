// One InfluxDB write over HTTP: the 1.x `/write` and the 2.x `/api/v2/write` endpoints, gzip when
// the body is big enough to gain from it, and a verdict the sink can act on (retry or not).
import http from 'node:http'
import https from 'node:https'
import { promisify } from 'node:util'
import { gzip as gzipCallback } from 'node:zlib'
import { InfluxError } from './errors'

const gzip = promisify(gzipCallback)

/** InfluxDB 1.x: `POST /write?db=...`. */
export interface InfluxV1Options {
  version: 1
  /** e.g. `http://127.0.0.1:8086` */
  url: string
  database: string
  retentionPolicy?: string
  username?: string
  password?: string
}

/** InfluxDB 2.x: `POST /api/v2/write?org=...&bucket=...` with a token. */
export interface InfluxV2Options {
  version: 2
  url: string
  org: string
  bucket: string
  token: string
}

export type InfluxOptions = InfluxV1Options | InfluxV2Options

export interface WriteOutcome {
  ok: boolean
  /** Worth sending again later: a connection error, a timeout, 408, 429 or a 5xx. */
  retry: boolean
  /** HTTP status, or 0 when there was no response. */
  status: number
  /** What went wrong, for stats().lastError. */
  error?: string
  /** The server's answer to a refused write (InfluxDB explains partial writes there). */
  body?: string
  /** A `Retry-After` the server sent with 429 or 503, in milliseconds. */
  retryAfterMs?: number
}

/**
 * Points InfluxDB dropped from a write it otherwise stored: 1.x answers 400 and 2.x 422, with an
 * error text starting `partial write:` and ending `dropped=N`. The last `dropped=` counts (the text
 * quotes field names and values, which may contain that too). Lines InfluxDB was `unable to parse`
 * are not counted in N, so such an answer says nothing exact: undefined, and the batch is split.
 */
export function droppedByPartialWrite(outcome: WriteOutcome): number | undefined {
  if ((outcome.status !== 400 && outcome.status !== 422) || outcome.body === undefined) return undefined
  const at = outcome.body.indexOf('"error":"')
  const error = at < 0 ? outcome.body : outcome.body.slice(at + 9)
  if (!error.startsWith('partial write:') || error.includes('unable to parse')) return undefined
  const m = /dropped=(\d+)(?!.*dropped=)/s.exec(error)
  return m === null ? undefined : Number(m[1])
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds from now (capped at 5 minutes). */
function retryAfter(header: string | string[] | undefined): number | undefined {
  const v = Array.isArray(header) ? header[0] : header
  if (v === undefined) return undefined
  const secs = Number(v)
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(v) - Date.now()
  return Number.isFinite(ms) ? Math.min(Math.max(0, ms), 300_000) : undefined
}

/** Bodies at least this big are gzipped: below it the CPU costs more than the bytes saved. */
export const GZIP_MIN_BYTES = 4096

export class InfluxWriter {
  private readonly endpoint: URL
  private readonly headers: Record<string, string>
  private readonly agent: http.Agent

  constructor(
    readonly opts: InfluxOptions,
    private readonly timeoutMs = 10_000,
    private readonly gzipMin = GZIP_MIN_BYTES,
  ) {
    let base: URL
    try {
      base = new URL(opts.url)
    } catch {
      throw new TypeError(`influx.url is not a URL: ${JSON.stringify(opts.url)}`)
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`influx.url must be http(s), got ${base.protocol}`)
    const path = base.pathname.replace(/\/$/, '')
    this.headers = { 'Content-Type': 'text/plain; charset=utf-8', Accept: 'application/json' }
    if (opts.version === 2) {
      for (const k of ['org', 'bucket', 'token'] as const) {
        if (typeof opts[k] !== 'string' || opts[k].length === 0) throw new TypeError(`influx.${k} is required for InfluxDB 2.x`)
      }
      this.endpoint = new URL(`${base.origin}${path}/api/v2/write`)
      this.endpoint.searchParams.set('org', opts.org)
      this.endpoint.searchParams.set('bucket', opts.bucket)
      this.headers.Authorization = `Token ${opts.token}`
    } else if (opts.version === 1) {
      if (typeof opts.database !== 'string' || opts.database.length === 0) throw new TypeError('influx.database is required for InfluxDB 1.x')
      this.endpoint = new URL(`${base.origin}${path}/write`)
      this.endpoint.searchParams.set('db', opts.database)
      if (opts.retentionPolicy) this.endpoint.searchParams.set('rp', opts.retentionPolicy)
      if (opts.username !== undefined) {
        this.headers.Authorization = 'Basic ' + Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')
      }
    } else {
      throw new TypeError(`influx.version must be 1 or 2, got ${JSON.stringify((opts as { version?: unknown }).version)}`)
    }
    this.endpoint.searchParams.set('precision', 'ns')
    this.agent = base.protocol === 'https:' ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true })
  }

  /**
   * Sends one body of line protocol. Never throws: failures come back as an outcome. Compression
   * runs on libuv's thread pool, so a megabyte batch does not hold up the event loop.
   */
  async write(body: string): Promise<WriteOutcome> {
    let payload: Buffer = Buffer.from(body, 'utf8')
    const headers: Record<string, string | number> = { ...this.headers }
    if (payload.length >= this.gzipMin) {
      payload = await gzip(payload, { level: 1 })
      headers['Content-Encoding'] = 'gzip'
    }
    headers['Content-Length'] = payload.length
    const lib = this.endpoint.protocol === 'https:' ? https : http
    return new Promise((resolve) => {
      const req = lib.request(this.endpoint, { method: 'POST', headers, agent: this.agent, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const status = res.statusCode ?? 0
          if (status >= 200 && status < 300) return resolve({ ok: true, retry: false, status })
          const text = Buffer.concat(chunks).toString('utf8').slice(0, 4000)
          resolve({
            ok: false,
            retry: status === 408 || status === 429 || status >= 500,
            status,
            error: `HTTP ${status} from ${this.endpoint.origin}: ${text.trim().slice(0, 500)}`,
            body: text,
            retryAfterMs: retryAfter(res.headers['retry-after']),
          })
        })
        res.on('error', (e) => resolve({ ok: false, retry: true, status: 0, error: e.message }))
      })
      req.on('timeout', () => req.destroy(new InfluxError(`no answer from ${this.endpoint.origin} within ${this.timeoutMs} ms`)))
      req.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, retry: true, status: 0, error: `${e.code ?? ''} ${e.message}`.trim() }))
      req.end(payload)
    })
  }

  /**
   * Checks that the server answers and that the 1.x database or 2.x bucket exists; with `create`,
   * creates a missing 1.x database. Throws an Error saying what is wrong.
   */
  async check(create = false): Promise<void> {
    const origin = this.endpoint.origin
    const base = this.endpoint.href.slice(0, this.endpoint.href.indexOf(this.endpoint.pathname)) + this.endpoint.pathname.replace(/\/(api\/v2\/)?write$/, '')
    // node:http rather than fetch, which refuses some ports outright ("bad port").
    const ask = (path: string, method = 'GET'): Promise<{ status: number; text: string }> =>
      new Promise((resolve, reject) => {
        const url = new URL(base + path)
        const lib = url.protocol === 'https:' ? https : http
        const headers = this.headers.Authorization ? { Authorization: this.headers.Authorization } : {}
        const req = lib.request(url, { method, headers, timeout: this.timeoutMs }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
          res.on('error', (e) => reject(new InfluxError(`InfluxDB at ${origin} does not answer (${e.message})`)))
        })
        req.on('timeout', () => req.destroy(new InfluxError(`no answer within ${this.timeoutMs} ms`)))
        req.on('error', (e: NodeJS.ErrnoException) => reject(new InfluxError(`InfluxDB at ${origin} does not answer (${e.code ?? e.message})`)))
        req.end()
      })
    const json = (text: string): unknown => {
      try {
        return JSON.parse(text)
      } catch {
        return {}
      }
    }
    const ping = await ask('/ping')
    if (ping.status >= 300) throw new InfluxError(`${origin}/ping answered HTTP ${ping.status}: is this InfluxDB?`)
    if (this.opts.version === 1) {
      const db = this.opts.database
      const r = await ask(`/query?q=${encodeURIComponent('SHOW DATABASES')}`, 'POST')
      if (r.status === 401 || r.status === 403) throw new InfluxError(`InfluxDB at ${origin} refused the credentials (HTTP ${r.status})`)
      const body = json(r.text) as { results?: { series?: { values?: string[][] }[] }[] }
      const names = body.results?.[0]?.series?.[0]?.values?.map((v) => v[0]) ?? []
      if (names.includes(db)) return
      if (!create) throw new InfluxError(`database ${JSON.stringify(db)} does not exist at ${origin} (create it, or pass --create-db)`)
      const c = await ask(`/query?q=${encodeURIComponent(`CREATE DATABASE "${db.replace(/["\\]/g, (x) => '\\' + x)}"`)}`, 'POST')
      const failed = (json(c.text) as { results?: { error?: string }[] }).results?.[0]?.error
      if (c.status >= 300 || failed) throw new InfluxError(`cannot create database ${JSON.stringify(db)} at ${origin}: ${failed ?? `HTTP ${c.status} ${c.text.slice(0, 200)}`}`)
      return
    }
    const { org, bucket } = this.opts
    const r = await ask(`/api/v2/buckets?org=${encodeURIComponent(org)}&name=${encodeURIComponent(bucket)}`)
    if (r.status === 401 || r.status === 403) throw new InfluxError(`InfluxDB at ${origin} refused the token (HTTP ${r.status})`)
    const body = json(r.text) as { buckets?: unknown[] }
    const ok = r.status >= 200 && r.status < 300
    if (r.status === 404 || (ok && (body.buckets?.length ?? 0) === 0)) {
      throw new InfluxError(`bucket ${JSON.stringify(bucket)} does not exist in org ${JSON.stringify(org)} at ${origin}` + (create ? ' (--create-db creates 1.x databases only)' : ''))
    }
    if (!ok) throw new InfluxError(`InfluxDB at ${origin} answered HTTP ${r.status} when asked for bucket ${JSON.stringify(bucket)}`)
  }

  close(): void {
    this.agent.destroy()
  }
}
