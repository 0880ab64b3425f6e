// Task roles for bench/tasks.js, the Node side of each pair.
//   server PORT               a TaskServer answering Echo
//   client URL N INFLIGHT     latency (N/10 sequential round trips) and tasks/s (INFLIGHT at a time)
'use strict'
const j = require(process.env.JUICE_PACKAGE ?? '../..')
const { say } = require('./common')

class Echo extends j.Task {
  static parallel = true
}

async function server(port) {
  const srv = await j.TaskServer.start({ port })
  srv.register(Echo, (t) => t.n)
  say({ ready: true })
}

async function client(url, n, inflight) {
  const c = new j.TaskClient(url)
  for (let i = 0; i < 200; i++) await c.execute('bench', new Echo({ n: i }))
  const lat = []
  for (let i = 0; i < n / 10; i++) {
    const t0 = process.hrtime.bigint()
    await c.execute('bench', new Echo({ n: i }))
    lat.push(Number(process.hrtime.bigint() - t0) / 1000)
  }
  lat.sort((a, b) => a - b)
  let sent = 0
  const t0 = process.hrtime.bigint()
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (sent < n) {
        sent++
        await c.execute('bench', new Echo({ n: sent }))
      }
    }),
  )
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  await c.close()
  say({ p50_us: lat[lat.length >> 1], p99_us: lat[Math.floor(lat.length * 0.99)], rate: n / seconds })
}

const a = process.argv.slice(2)
;(a[0] === 'server' ? server(Number(a[1])) : client(a[1], Number(a[2]), Number(a[3]))).catch((e) => {
  console.error(e)
  process.exit(1)
})
