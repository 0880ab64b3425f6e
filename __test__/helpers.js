// Shared test helpers: a proxy on free loopback ports, polling, and a few event classes.
'use strict'
const net = require('node:net')
const j = require('..')

async function startProxy(opts = {}) {
  return j.Proxy.start({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0', ...opts })
}

/** A loopback TCP port that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
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

/** Waits until the proxy holds at least `n` distinct subscriptions. */
async function subscribed(proxy, n = 1) {
  const ok = await until(() => proxy.stats().subscriptions >= n)
  if (!ok) throw new Error(`proxy has ${proxy.stats().subscriptions} subscriptions, expected ${n}`)
}

/** Drains an async subscriber until it times out; returns what arrived. */
async function drain(sub, timeout = 0.3) {
  const out = []
  for (;;) {
    try {
      out.push(await sub.get(timeout))
    } catch (e) {
      if (e instanceof j.TimeoutError) return out
      throw e
    }
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

module.exports = { j, startProxy, until, freePort, subscribed, drain, KernelStatusChanged, Telemetry, FridgeTelemetry }
