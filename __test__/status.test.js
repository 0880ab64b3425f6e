// Connection status as a stream of changes (status()), and one address for a proxy
// (proxyEndpoints, JUICE_PROXY, --proxy).
'use strict'
const test = require('ava')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { j, freePort, until } = require('./helpers')

const cli = path.join(__dirname, '..', 'dist', 'cli', 'main.js')

/** Collects a status stream into an array until `signal` aborts. */
function collect(stream) {
  const seen = []
  const done = (async () => {
    for await (const s of stream) seen.push(s)
  })()
  return { seen, done }
}

test('clients report connected, disconnected and reconnected as the proxy goes away and comes back', async (t) => {
  const [fp, bp] = [await freePort(), await freePort()]
  const ep = { frontend: `tcp://127.0.0.1:${fp}`, backend: `tcp://127.0.0.1:${bp}` }
  let proxy = await j.Proxy.start(ep)
  const ac = new AbortController()
  const sub = new j.SubscriberAsync(ep.backend).subscribeAll()
  const pub = new j.PublisherAsync(ep.frontend, { subscriptionWait: 0 })
  try {
    const subs = collect(sub.status({ signal: ac.signal }))
    const pubs = collect(pub.status({ signal: ac.signal }))
    const proxySeen = collect(proxy.status({ signal: ac.signal }))
    await until(() => subs.seen.length >= 1 && pubs.seen.length >= 1, 10_000)
    t.true(await until(() => proxySeen.seen.some((s) => s.type === 'connections' && s.publishers === 1 && s.subscribers === 1), 10_000))
    await proxy.close()
    await until(() => subs.seen.length >= 2 && pubs.seen.length >= 2, 10_000)
    proxy = await j.Proxy.start(ep)
    await until(() => subs.seen.length >= 3 && pubs.seen.length >= 3, 15_000)
    t.deepEqual(subs.seen.map((s) => s.type), ['connected', 'disconnected', 'reconnected'])
    t.deepEqual(pubs.seen.map((s) => s.type), ['connected', 'disconnected', 'reconnected'])
    ac.abort()
    await Promise.all([subs.done, pubs.done, proxySeen.done])
  } finally {
    ac.abort()
    await Promise.all([pub.close(), sub.close(), proxy.close()])
  }
})

test('a refused CURVE handshake is reported with its reason; closing a client ends its stream', async (t) => {
  const server = j.generateKeyPair()
  const proxy = await j.Proxy.start({
    frontend: 'tcp://127.0.0.1:0',
    backend: 'tcp://127.0.0.1:0',
    curve: { secretKey: server.secretKey, allowedClients: [] },
  })
  const ac = new AbortController()
  const sub = new j.SubscriberAsync(proxy.backend, { curve: { serverKey: proxy.curvePublicKey, ...j.generateKeyPair() } }).subscribeAll()
  try {
    const proxySeen = collect(proxy.status({ signal: ac.signal }))
    // Read after the refusal may already have happened: it is still reported, once.
    await until(() => sub.stats().handshakeFailures > 0, 10_000)
    const subs = collect(sub.status())
    t.true(await until(() => subs.seen.length >= 1, 10_000), 'the refusal is reported')
    t.is(subs.seen[0]?.type, 'handshakeRefused')
    t.regex(subs.seen[0]?.reason ?? '', /refused|denied|key/i)
    t.true(await until(() => proxySeen.seen.some((s) => s.type === 'handshakeRefused'), 10_000), JSON.stringify({ seen: proxySeen.seen, stats: proxy.stats() }))
    await sub.close()
    await subs.done // the stream ends with the subscriber
    ac.abort()
    await proxySeen.done
  } finally {
    ac.abort()
    await sub.close()
    await proxy.close()
  }
})

test('proxyEndpoints(), JUICE_PROXY and --proxy name one host for both upstream ports', async (t) => {
  t.deepEqual(j.proxyEndpoints('lab-pc'), { frontend: 'tcp://lab-pc:5122', backend: 'tcp://lab-pc:5123', query: 'tcp://lab-pc:5124' })
  t.is(j.proxyEndpoints('tcp://[::1]').backend, 'tcp://[::1]:5123')
  t.throws(() => j.proxyEndpoints('lab-pc:5123'), { instanceOf: TypeError, message: /without a port/ })
  const saved = process.env.JUICE_PROXY
  process.env.JUICE_PROXY = '10.0.0.7'
  t.is(j.proxyEndpoints().frontend, 'tcp://10.0.0.7:5122')
  delete process.env.JUICE_PROXY
  t.is(j.proxyEndpoints().backend, 'tcp://127.0.0.1:5123')
  if (saved !== undefined) process.env.JUICE_PROXY = saved
  // The CLI: --proxy and JUICE_PROXY reach the same endpoints; a clash with --uri is a usage error.
  const both = spawnSync(process.execPath, [cli, 'tail', 'T', '--proxy', 'h', '--uri', 'tcp://h:1'], { encoding: 'utf8' })
  t.is(both.status, 2)
  t.regex(both.stderr, /either --proxy or the --uri endpoint/)
  const viaEnv = spawnSync(process.execPath, [cli, 'publish', 'T', '{}', '--connect-timeout', '0.3'], {
    encoding: 'utf8',
    env: { ...process.env, JUICE_PROXY: '127.0.0.1' },
  })
  t.is(viaEnv.status, 1)
  t.regex(viaEnv.stderr, /tcp:\/\/127\.0\.0\.1:5122/, 'publish went to the proxy host on port 5122')
  const help = spawnSync(process.execPath, [cli, 'tail', '--help'], { encoding: 'utf8' })
  t.regex(help.stdout, /--proxy HOST/)
})
