// Baseline roles on zeromq.js v6: the same events, topics and wire format, written the way a user
// of that package would: its Proxy, `await send()` per event, the async iterator to receive.
//   proxy FRONT BACK | pub FRONT N SIZE RATE | sub BACK N
'use strict'
const zmq = require('zeromq')
const { nowUs, body, say, result, pace, waitStdinClose, rssMb } = require('./common')

class Telemetry {
  constructor(data) {
    Object.assign(this, data)
  }
  topic() {
    return this.path
  }
}

const topicFrame = (ev) => `Telemetry.${ev.topic()}.`

async function proxy(front, back) {
  const p = new zmq.Proxy(new zmq.XSubscriber({ receiveHighWaterMark: 0 }), new zmq.XPublisher({ sendHighWaterMark: 0 }))
  await p.frontEnd.bind(front)
  await p.backEnd.bind(back)
  say({ ready: true, frontend: p.frontEnd.lastEndpoint, backend: p.backEnd.lastEndpoint })
  const running = p.run()
  await waitStdinClose()
  say({ rssMb: rssMb() })
  await p.terminate()
  await running
}

async function pub(front, n, size, rate) {
  const s = new zmq.XPublisher({ sendHighWaterMark: 0 })
  s.connect(front)
  // Wait for the first subscription, as juice publishers do, so nothing is lost to slow joining.
  await s.receive()
  const start = nowUs()
  for (let i = 0; i < n; i++) {
    const stamp = rate > 0 ? await pace(i, rate, start) : 0
    const ev = new Telemetry(body(i, size, stamp))
    ev.time = new Date()
    await s.send([topicFrame(ev), JSON.stringify(ev)])
  }
  for (let k = 0; k < 20; k++) {
    await s.send(['Telemetry.qpu0.end.', JSON.stringify({ path: 'qpu0.end' })])
    await new Promise((r) => setTimeout(r, 20))
  }
  s.linger = 10000
  s.close()
  say({ sent: n })
}

async function sub(back, n) {
  const s = new zmq.Subscriber({ receiveHighWaterMark: 0 })
  s.connect(back)
  s.subscribe('Telemetry.qpu0.')
  say({ ready: true })
  let got = 0
  let first = 0
  let last = 0
  const lat = []
  // The clock is read only where a figure needs it, as in the juice role.
  for await (const [topic, payload] of s) {
    // Decode as juice does: type from the topic frame, JSON into an event object, time to a Date.
    const type = topic.toString('utf8', 0, topic.indexOf(0x2e))
    const data = JSON.parse(payload.toString('utf8'))
    const ev = Object.assign(Object.create(Telemetry.prototype), data)
    ev.type = type
    if (data.time) ev.time = new Date(data.time)
    if (ev.path === 'qpu0.end') break
    if (first === 0) first = nowUs()
    got++
    if (ev.t > 0) lat.push(nowUs() - ev.t)
    if (got >= n) break
  }
  last = nowUs()
  say(result(got, first, last, lat))
  s.close()
}

async function main(a) {
  const num = (i) => Number(a[i] ?? 0)
  if (a[0] === 'proxy') return proxy(a[1], a[2])
  if (a[0] === 'pub') return pub(a[1], num(2), num(3), num(4))
  if (a[0] === 'sub') return sub(a[1], num(2))
  throw new Error(`unknown role ${a[0]}`)
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e)
  process.exit(1)
})
