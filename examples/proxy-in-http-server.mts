// A proxy embedded in an HTTP server: GET /stats returns the proxy's counters as JSON, and the
// console logs who connects. Stops on Ctrl-C or SIGTERM.
//   node target/examples/proxy-in-http-server.mjs [httpPort] [frontend] [backend]
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Proxy } from 'juice-messaging'

const [port = '8080', frontend = 'tcp://127.0.0.1:5122', backend = 'tcp://127.0.0.1:5123'] = process.argv.slice(2)
const proxy = await Proxy.start({ frontend, backend })
const server = http.createServer((req, res) => {
  if (req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(proxy.stats()))
  } else {
    res.writeHead(404).end()
  }
})
await new Promise<void>((resolve) => server.listen(Number(port), '127.0.0.1', resolve))
console.log(`proxy: publishers connect to ${proxy.frontend}, subscribers to ${proxy.backend}`)
console.log(`stats: http://127.0.0.1:${(server.address() as AddressInfo).port}/stats`)
const stopping = new AbortController()
const watch = (async () => {
  for await (const s of proxy.status({ signal: stopping.signal })) {
    if (s.type === 'connections') console.log(`now ${s.publishers} publisher(s) and ${s.subscribers} subscriber(s) connected`)
  }
})()
const stop = async (): Promise<void> => {
  stopping.abort()
  await watch
  server.close()
  await proxy.close()
  console.log(`stopped after forwarding ${proxy.stats().messages} events`)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
