// An embedded Proxy inside an HTTP server: GET /stats returns the proxy's counters as JSON.
//   node examples/proxy-in-http-server.js [httpPort] [frontend] [backend]
// Prints one JSON line with the bound endpoints; stops on SIGINT/SIGTERM.
'use strict'
const http = require('node:http')
const { Proxy } = require('..')

async function main() {
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
  server.listen(Number(port), '127.0.0.1', () => {
    console.log(JSON.stringify({ http: `http://127.0.0.1:${server.address().port}`, frontend: proxy.frontend, backend: proxy.backend }))
  })
  const stop = async () => {
    server.close()
    await proxy.close()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch((e) => {
  console.error(e.message)
  process.exit(1)
})
