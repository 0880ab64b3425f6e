// InfluxDB's own limit for bench/ingest.js: pre-built line protocol of the sink's shape, POSTed in
// batches of 5,000 by WRITERS requests in flight over kept-alive connections, as fast as influxd
// answers. Nothing else runs meanwhile.
//   influx-writer URL DB N WRITERS
'use strict'
const http = require('node:http')
const { say } = require('./common')

function post(agent, url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'Content-Length': body.length } }, (res) => {
      res.resume()
      res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))))
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function main(url, db, n, writers) {
  const base = 1_790_000_000_000_000_000n
  const batches = []
  for (let i = 0; i < n; i += 5000) {
    const lines = []
    for (let k = i; k < Math.min(n, i + 5000); k++) lines.push(`telemetry,path=qpu0.fridge.mxc kelvin=0.0123,seq=${k}i,t=0 ${base + BigInt(k) * 1000n}`)
    batches.push(Buffer.from(lines.join('\n')))
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: writers })
  const target = `${url}/write?db=${encodeURIComponent(db)}&precision=ns`
  let next = 0
  const t0 = process.hrtime.bigint()
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (next < batches.length) await post(agent, target, batches[next++])
    }),
  )
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  agent.destroy()
  say({ rate: Math.round(n / seconds), seconds })
}

main(process.argv[3], process.argv[4], Number(process.argv[5]), Number(process.argv[6] ?? 2)).catch((e) => {
  console.error(e)
  process.exit(1)
})
