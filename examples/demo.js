// `npm start`: an embedded proxy with a live publisher and subscriber in one process, printing
// events per second. Runs for --seconds N (default 10; 0 = until Ctrl-C); --rate N publishes at
// most N events per second (default: as fast as it can).
'use strict'
const { Event, Proxy, PublisherAsync, SubscriberAsync } = require('..')

class Telemetry extends Event {
  topic() {
    return `${this.qpu}.fridge.${this.stage}`
  }
}

function seconds() {
  const i = process.argv.indexOf('--seconds')
  const v = i >= 0 ? Number(process.argv[i + 1]) : 10
  if (!(v >= 0)) throw new Error(`--seconds needs a number >= 0, got ${process.argv[i + 1]}`)
  return v
}

function rate() {
  const i = process.argv.indexOf('--rate')
  const v = i >= 0 ? Number(process.argv[i + 1]) : Infinity
  if (!(v > 0)) throw new Error(`--rate needs a number > 0, got ${process.argv[i + 1]}`)
  return v
}

async function main() {
  const duration = seconds()
  const limit = rate()
  const proxy = await Proxy.start({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0' })
  console.log(`proxy: publishers -> ${proxy.frontend}, subscribers -> ${proxy.backend}`)
  const sub = new SubscriberAsync(proxy.backend).subscribe(Telemetry, { topic: 'qpu0.fridge' })
  const pub = new PublisherAsync(proxy.frontend)

  let running = true
  let published = 0
  let received = 0
  const stop = () => (running = false)
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)

  const started = Date.now()
  const producer = (async () => {
    while (running) {
      for (let i = 0; i < 1000; i++) {
        await pub.publish(new Telemetry({ qpu: 'qpu0', stage: 'mxc', kelvin: 0.01 + Math.random() * 1e-3, seq: published++ }))
      }
      // With --rate, wait until the events so far are due; without, just let the consumer run.
      const ahead = started + (published / limit) * 1000 - Date.now()
      await new Promise((r) => (ahead > 0 ? setTimeout(r, ahead) : setImmediate(r)))
    }
  })()
  const consumer = (async () => {
    while (running) {
      try {
        await sub.get(0.5)
        received++
      } catch (e) {
        if (e.name !== 'TimeoutError') throw e
      }
    }
  })()

  const t0 = Date.now()
  let last = { t: t0, published: 0, received: 0 }
  const ticker = setInterval(() => {
    const now = Date.now()
    const dt = (now - last.t) / 1000
    const s = sub.stats()
    console.log(
      `${((now - t0) / 1000).toFixed(0).padStart(3)} s  published ${Math.round((published - last.published) / dt)
        .toLocaleString()
        .padStart(9)}/s  received ${Math.round((received - last.received) / dt)
        .toLocaleString()
        .padStart(9)}/s  queued ${s.queued}  dropped ${s.dropped}  proxy forwarded ${proxy.stats().messages.toLocaleString()}`,
    )
    last = { t: now, published, received }
    if (duration > 0 && now - t0 >= duration * 1000) stop()
  }, 1000)

  await producer
  await pub.close()
  // Let the subscriber drain what is still in flight, then stop.
  while (received < published && (await sub.get(1).then(() => ++received, () => false)));
  running = false
  await consumer
  clearInterval(ticker)
  console.log(`done: published ${published.toLocaleString()}, received ${received.toLocaleString()}, dropped ${sub.stats().dropped}`)
  await sub.close()
  await proxy.close()
}

main().catch((e) => {
  console.error(e.message)
  process.exit(1)
})
