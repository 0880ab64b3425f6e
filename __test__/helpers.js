// Shared test helpers: a proxy on free loopback ports, polling, and a few event classes.
'use strict'
const fs = require('node:fs')
const net = require('node:net')
const j = require('..')

async function startProxy(opts = {}) {
  return j.Proxy.start({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0', ...opts })
}

/** The lowest port the kernel picks for outgoing connections and for port 0. */
function ephemeralLow() {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
  } catch {
    return 32768
  }
}

/** Resolves with the port once `port` (0: any) could be bound on loopback, or null if it could not. */
function tryPort(port) {
  return new Promise((resolve) => {
    const s = net.createServer().once('error', () => resolve(null))
    s.listen(port, '127.0.0.1', () => {
      const got = s.address().port
      s.close(() => resolve(got))
    })
  })
}

const handedOut = new Set()

/**
 * A loopback TCP port that was free a moment ago, below the ephemeral range: no connect() on
 * the machine takes it as its source port (nor a client reconnecting to it, in a self-connect),
 * so a test can bind it later, or again after a restart.
 */
async function freePort() {
  const low = 10_000
  const high = ephemeralLow()
  if (!(high > low + 1000)) return tryPort(0)
  for (let i = 0; i < 200; i++) {
    const port = low + Math.floor(Math.random() * (high - low))
    if (handedOut.has(port) || (await tryPort(port)) === null) continue
    handedOut.add(port)
    return port
  }
  throw new Error(`no free port in [${low}, ${high})`)
}

/** Polls `cond` every 5 ms until it is truthy or `ms` passed; returns its last value. */
async function until(cond, ms = 5000) {
  const end = Date.now() + ms
  let v = cond()
  while (!v && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 5))
    v = cond()
  }
  return v
}

/**
 * Waits until the proxy holds at least `n` distinct subscriptions, for up to `ms` (more for
 * subscribers in freshly spawned processes).
 */
async function subscribed(proxy, n = 1, ms = 5000) {
  const ok = await until(() => proxy.stats().subscriptions >= n, ms)
  if (!ok) throw new Error(`proxy has ${proxy.stats().subscriptions} subscriptions, expected ${n}`)
}

/**
 * Drains an async subscriber until it times out; returns what arrived. The first `atLeast`
 * events may each take `first` seconds: behind a fresh publisher they wait for its connect, the
 * subscription replay and the settle time.
 */
async function drain(sub, timeout = 0.3, { atLeast = 0, first = 10 } = {}) {
  const out = []
  for (;;) {
    try {
      out.push(await sub.get(out.length < atLeast ? first : timeout))
    } catch (e) {
      if (e instanceof j.TimeoutError) return out
      throw e
    }
  }
}

/**
 * A raw zeromq.js publisher connected to `uri`, returned once it has a subscription to `prefix`:
 * a plain PUB silently drops what it sends before then (slow joiner). It is an XPUB, which
 * shows its subscriptions and filters as PUB does.
 */
async function rawPub(uri, prefix, options = {}) {
  const zmq = require('zeromq')
  const raw = new zmq.XPublisher(options)
  raw.connect(uri)
  await subscriptionArrived(raw, prefix)
  return raw
}

/** Reads a raw XPUB's subscription notices until one for `prefix` (10 s); from then on it sends there. */
async function subscriptionArrived(raw, prefix) {
  const want = Buffer.concat([Buffer.from([1]), Buffer.from(prefix)])
  raw.receiveTimeout = 10_000
  try {
    for (;;) {
      const [notice] = await raw.receive()
      if (notice.equals(want)) return
    }
  } catch (e) {
    throw new Error(`no ${JSON.stringify(prefix)} subscription reached the raw publisher: ${e.message}`)
  }
}

class KernelStatusChanged extends j.Event {
  topic() {
    return this.service
  }
}

class Telemetry extends j.Event {
  topic() {
    return this.path ?? null
  }
}

/** A subclass: must not be delivered to a Telemetry subscription. */
class FridgeTelemetry extends Telemetry {}

module.exports = { j, startProxy, until, freePort, subscribed, drain, rawPub, subscriptionArrived, KernelStatusChanged, Telemetry, FridgeTelemetry }
