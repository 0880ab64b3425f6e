// `npm run bench:inproc`: an embedded proxy with publisher and subscriber in one process, over
// inproc:// against the same three objects over tcp loopback (the baseline, measured in the same
// run, alternating within every round). Events/s from the first to the last event received;
// medians of BENCH_ROUNDS rounds (default 5). Writes bench/results/inproc.json.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const j = require('..')

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const N = Number(process.env.BENCH_EVENTS ?? 200_000)

class Reading extends j.Event {
  topic() {
    return this.path
  }
}

async function once(scheme, round) {
  const tag = `${process.pid}-${round}`
  const ends = scheme === 'inproc' ? [`inproc://bf-${tag}`, `inproc://bb-${tag}`] : ['tcp://127.0.0.1:0', 'tcp://127.0.0.1:0']
  const proxy = await j.Proxy.start({ frontend: ends[0], backend: ends[1], lossless: true, maxTopics: 0 })
  const sub = new j.SubscriberAsync(proxy.backend, { lossless: true }).subscribe(Reading, { topic: 'qpu0' })
  while (proxy.stats().subscriptions < 1) await new Promise((r) => setTimeout(r, 5))
  const pub = new j.PublisherAsync(proxy.frontend)
  const payload = { path: 'qpu0.fridge', kelvin: 0.0123, seq: 0 }
  let first = 0
  const received = (async () => {
    for (let i = 0; i < N; i++) {
      await sub.get(30)
      if (i === 0) first = performance.now()
    }
    return performance.now()
  })()
  for (let i = 0; i < N; i++) {
    payload.seq = i
    await pub.publish(new Reading(payload))
  }
  const last = await received
  await pub.close()
  await sub.close()
  await proxy.close()
  return (N - 1) / ((last - first) / 1000)
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main() {
  const runs = { tcp: [], inproc: [] }
  for (let r = 0; r < ROUNDS; r++) {
    for (const scheme of r % 2 ? ['inproc', 'tcp'] : ['tcp', 'inproc']) runs[scheme].push(await once(scheme, r))
    console.log(`round ${r + 1}/${ROUNDS}: tcp ${Math.round(runs.tcp.at(-1))}/s, inproc ${Math.round(runs.inproc.at(-1))}/s`)
  }
  const result = { date: new Date().toISOString(), events: N, rounds: ROUNDS, medians: { tcp: median(runs.tcp), inproc: median(runs.inproc) }, runs }
  result.ratio = result.medians.inproc / result.medians.tcp
  console.log(`median: tcp ${Math.round(result.medians.tcp)} events/s, inproc ${Math.round(result.medians.inproc)} events/s (${result.ratio.toFixed(2)}x)`)
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true })
  fs.writeFileSync(path.join(__dirname, 'results', 'inproc.json'), JSON.stringify(result, null, 2) + '\n')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
