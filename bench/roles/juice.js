// juice-messaging roles for the benchmark harness (bench/run.js).
//   proxy FRONT BACK [lossless]
//   pub FRONT N SIZE RATE async|blocking
//   sub BACK N async|blocking FILTERS [maxQueue] [pauseMs]
//   bridge FRONT BACK NATS_URL
// pub and sub take nats:// URIs as well, for the NATS transport.
'use strict'
// JUICE_PACKAGE: another checkout to measure (bench/run.js --baseline).
const j = require(process.env.JUICE_PACKAGE ?? '../..')
const { nowUs, body, say, result, pace, WARMUP_TOPIC, waitStdinClose, rssMb } = require('./common')

class Telemetry extends j.Event {
  topic() {
    return this.path
  }
}

async function proxy(front, back, mode) {
  // Unbounded queues by default; a lossless proxy keeps its bounds and waits for slow subscribers.
  const opts = mode === 'lossless' ? { lossless: true } : { rcvHwm: 0, sndHwm: 0 }
  const p = await j.Proxy.start({ frontend: front, backend: back, ...opts })
  say({ ready: true, frontend: p.frontend, backend: p.backend })
  await waitStdinClose()
  say({ ...p.stats(), rssMb: rssMb() })
  await p.close()
}

async function pub(front, n, size, rate, mode) {
  const P = mode === 'blocking' ? j.PublisherBlocking : j.PublisherAsync
  const p = new P(front, { subscriptionWait: 10 })
  // A paced run starts with two seconds of unmeasured events (see WARMUP_TOPIC), sent by this same
  // loop so that the measured events run the code the warm-up compiled.
  const warm = rate > 0 ? 2 * rate : 0
  const start = nowUs()
  for (let i = 0; i < warm + n; i++) {
    const stamp = rate > 0 ? await pace(i, rate, start) : 0
    const ev = new Telemetry(body(i - warm, size, i < warm ? 0 : stamp))
    if (i < warm) ev.path = WARMUP_TOPIC
    if (mode === 'blocking') p.publish(ev)
    else await p.publish(ev)
  }
  for (let k = 0; k < 20; k++) {
    const end = new Telemetry({ path: 'qpu0.end' })
    if (mode === 'blocking') p.publish(end)
    else await p.publish(end)
    await new Promise((r) => setTimeout(r, 20))
  }
  await p.close()
  const cpu = process.cpuUsage()
  say({ sent: n, ...p.stats(), cpuSeconds: (cpu.user + cpu.system) / 1e6 })
}

async function sub(back, n, mode, filters, maxQueue, pauseMs) {
  const S = mode === 'blocking' ? j.SubscriberBlocking : j.SubscriberAsync
  const s = new S(back, { maxQueue: maxQueue || undefined, rcvHwm: 0 })
  s.subscribe(Telemetry, { topic: 'qpu0' })
  for (let i = 1; i < filters; i++) s.subscribe(Telemetry, { topic: `other${i}.fridge` })
  say({ ready: true })
  if (pauseMs > 0) {
    // A slow consumer: read nothing for a while, report what the bounded queue held, then read
    // what is left (the end markers may well have been dropped, so stop on a quiet second).
    await new Promise((r) => setTimeout(r, pauseMs))
    say({ paused: true, rssMb: rssMb(), ...s.stats() })
    let got = 0
    for (;;) {
      try {
        mode === 'blocking' ? s.get(1) : await s.get(1)
        got++
      } catch (e) {
        if (!(e instanceof j.TimeoutError)) throw e
        break
      }
    }
    say({ received: got, rate: 0, rssMb: rssMb(), stats: s.stats() })
    return
  }
  let got = 0
  let first = 0
  let last = 0
  const lat = []
  let rss1m = 0
  // The clock is read only where a figure needs it (first event, stamped events, the end), so
  // that the harness costs the pipeline it measures as little as possible.
  for (;;) {
    const ev = mode === 'blocking' ? s.get(30) : await s.get(30)
    if (ev.path === 'qpu0.end') break
    if (ev.path === WARMUP_TOPIC) continue
    if (first === 0) first = nowUs()
    got++
    if (ev.t > 0) lat.push(nowUs() - ev.t)
    if (got === 1_000_000) {
      rss1m = rssMb()
      say({ progress: got, rssMb: rss1m })
    }
    if (got >= n) break
  }
  last = nowUs()
  say({ ...result(got, first, last, lat), rss1mMb: rss1m, stats: s.stats() })
  if (mode === 'blocking') s.close()
  else await s.close()
}

/** The ZeroMQ <-> NATS bridge between a proxy and a NATS server, until stdin closes. */
async function bridge(front, back, nats) {
  const b = j.Bridge.start({ proxy: { frontend: front, backend: back }, nats })
  say({ ready: true })
  await waitStdinClose()
  say({ bridge: b.stats(), rssMb: rssMb() })
  await b.close()
}

async function main(a) {
  const num = (i) => Number(a[i] ?? 0)
  if (a[0] === 'proxy') return proxy(a[1], a[2], a[3])
  if (a[0] === 'pub') return pub(a[1], num(2), num(3), num(4), a[5])
  if (a[0] === 'sub') return sub(a[1], num(2), a[3], num(4), num(5), num(6))
  if (a[0] === 'bridge') return bridge(a[1], a[2], a[3])
  throw new Error(`unknown role ${a[0]}`)
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e)
  process.exit(1)
})
