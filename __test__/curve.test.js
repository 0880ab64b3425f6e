// CURVE: an encrypted proxy that admits only allowlisted client keys (ZAP handler in Rust).
'use strict'
const test = require('ava')
const net = require('node:net')
const { j, startProxy, until, subscribed, drain, Telemetry } = require('./helpers')

const server = j.generateKeyPair()
const alice = j.generateKeyPair() // listed
const bob = j.generateKeyPair() // listed
const mallory = j.generateKeyPair() // valid keys, not listed

const keys = (pair, serverKey = server.publicKey) => ({ serverKey, ...pair })

async function curveProxy(extra = {}) {
  return startProxy({ curve: { secretKey: server.secretKey, allowedClients: [alice.publicKey, bob.publicKey] }, ...extra })
}

async function publishN(pub, n, marker = 'x') {
  for (let i = 0; i < n; i++) await pub.publish(new Telemetry({ path: 'qpu0.fridge', seq: i, marker }))
  await pub.flush()
}

test('the proxy derives its public key; keys are 40-char Z85 and unique', (t) => {
  t.is(server.publicKey.length, 40)
  t.is(server.secretKey.length, 40)
  t.not(alice.publicKey, bob.publicKey)
  t.is(j.curvePublicKey(server.secretKey), server.publicKey)
})

test('listed publisher and subscriber exchange events through a CURVE proxy', async (t) => {
  const proxy = await curveProxy()
  t.is(proxy.curvePublicKey, server.publicKey)
  const sub = new j.SubscriberAsync(proxy.backend, { curve: keys(bob) })
  sub.subscribe(Telemetry, { topic: 'qpu0' })
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend, { curve: keys(alice) })
  await publishN(pub, 200)
  const got = await drain(sub, 0.3, { atLeast: 200 })
  t.log(`sent 200, received ${got.length}, proxy ${JSON.stringify(proxy.stats())}`)
  t.is(got.length, 200)
  t.deepEqual(got.map((e) => e.seq), [...Array(200).keys()])
  t.true(proxy.stats().authAccepted >= 2)
  t.is(proxy.stats().authDenied, 0)
  await pub.close()
  await sub.close()
  await proxy.close()
})

test('an unlisted publisher cannot publish; its events are counted as unrouted', async (t) => {
  const proxy = await curveProxy()
  const sub = new j.SubscriberAsync(proxy.backend, { curve: keys(bob) })
  sub.subscribe(Telemetry)
  await subscribed(proxy)
  const intruder = new j.PublisherAsync(proxy.frontend, { curve: keys(mallory), subscriptionWait: 1 })
  await publishN(intruder, 100)
  t.is((await drain(sub, 0.5)).length, 0)
  t.is(proxy.stats().messages, 0)
  t.true(proxy.stats().authDenied >= 1)
  t.is(intruder.stats().unrouted, 100)
  t.true(intruder.stats().handshakeFailures >= 1)
  t.regex(intruder.handshakeError(), /refused this client.*not on the proxy's allowlist/)
  // The same subscriber still gets a listed publisher's events: the test can tell the difference.
  const pub = new j.PublisherAsync(proxy.frontend, { curve: keys(alice) })
  await publishN(pub, 10)
  t.is((await drain(sub, 0.3, { atLeast: 10 })).length, 10)
  t.log(`unlisted: 100 published, 0 forwarded, 100 unrouted; proxy ${JSON.stringify(proxy.stats())}`)
  for (const c of [intruder, pub, sub, proxy]) await c.close()
})

test('an unlisted subscriber receives nothing while a listed one receives everything', async (t) => {
  const proxy = await curveProxy()
  const good = new j.SubscriberAsync(proxy.backend, { curve: keys(bob) })
  const bad = new j.SubscriberAsync(proxy.backend, { curve: keys(mallory) })
  good.subscribe(Telemetry)
  bad.subscribe(Telemetry)
  await subscribed(proxy)
  t.true(await until(() => proxy.stats().authDenied >= 1))
  const pub = new j.PublisherAsync(proxy.frontend, { curve: keys(alice) })
  await publishN(pub, 100)
  const [g, b] = await Promise.all([drain(good, 0.3, { atLeast: 100 }), drain(bad)])
  t.log(`listed got ${g.length}, unlisted got ${b.length}; denied ${proxy.stats().authDenied}`)
  t.is(g.length, 100)
  t.is(b.length, 0)
  t.is(bad.stats().received, 0)
  t.true(bad.stats().handshakeFailures >= 1)
  // A refused subscriber is told why it hears nothing.
  const err = await t.throwsAsync(() => bad.get(0.05), { instanceOf: j.TimeoutError })
  t.regex(err.message, /no event arrived within 0\.05 s; the last handshake failed: the proxy at tcp:\/\/127\.0\.0\.1:\d+ refused this client/)
  t.is(good.handshakeError(), undefined)
  t.is(good.stats().handshakeFailures, 0)
  for (const c of [pub, good, bad, proxy]) await c.close()
})

test('keyless clients get nothing from a CURVE proxy', async (t) => {
  const proxy = await curveProxy()
  const good = new j.SubscriberAsync(proxy.backend, { curve: keys(bob) })
  const plainSub = new j.SubscriberAsync(proxy.backend)
  good.subscribe(Telemetry)
  plainSub.subscribe(Telemetry)
  await subscribed(proxy)
  const plainPub = new j.PublisherAsync(proxy.frontend, { subscriptionWait: 1 })
  await publishN(plainPub, 50)
  t.is((await drain(good, 0.5)).length, 0, 'a keyless publisher got through')
  t.is(plainPub.stats().unrouted, 50)
  t.true(await until(() => plainSub.handshakeError() !== undefined))
  t.log(`keyless subscriber: ${plainSub.handshakeError()}`)
  const pub = new j.PublisherAsync(proxy.frontend, { curve: keys(alice) })
  await publishN(pub, 50)
  const [g, p] = await Promise.all([drain(good, 0.3, { atLeast: 50 }), drain(plainSub)])
  t.is(g.length, 50)
  t.is(p.length, 0, 'a keyless subscriber received events')
  for (const c of [plainPub, pub, good, plainSub, proxy]) await c.close()
})

test('a client with the wrong server key is refused', async (t) => {
  const proxy = await curveProxy()
  const sub = new j.SubscriberAsync(proxy.backend, { curve: keys(bob) })
  sub.subscribe(Telemetry)
  await subscribed(proxy)
  const wrong = new j.PublisherAsync(proxy.frontend, { curve: keys(alice, j.generateKeyPair().publicKey), subscriptionWait: 1 })
  await publishN(wrong, 20)
  t.is((await drain(sub, 0.5)).length, 0)
  t.is(wrong.stats().unrouted, 20)
  t.log(`wrong server key: ${wrong.handshakeError()} (${wrong.stats().handshakeFailures} failures)`)
  for (const c of [wrong, sub, proxy]) await c.close()
})

test('setAllowedClients admits a new key for new connections', async (t) => {
  const proxy = await curveProxy()
  const carol = j.generateKeyPair()
  proxy.setAllowedClients([alice.publicKey, bob.publicKey, carol.publicKey])
  const sub = new j.SubscriberAsync(proxy.backend, { curve: keys(carol) })
  sub.subscribe(Telemetry)
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend, { curve: keys(alice) })
  await publishN(pub, 5)
  t.is((await drain(sub, 0.3, { atLeast: 5 })).length, 5)
  t.throws(() => proxy.setAllowedClients(['nope']), { message: /allowedClients\[0\].*not a CURVE key/ })
  const plain = await startProxy()
  t.throws(() => plain.setAllowedClients([alice.publicKey]), { message: /without curve/ })
  for (const c of [pub, sub, proxy, plain]) await c.close()
})

/** A loopback TCP relay that records every byte the client sends. */
async function recordingRelay(target) {
  const [, host, port] = /^tcp:\/\/(.+):(\d+)$/.exec(target)
  const chunks = []
  const srv = net.createServer((c) => {
    const up = net.connect(Number(port), host)
    c.on('data', (d) => chunks.push(d))
    c.pipe(up)
    up.pipe(c)
    const end = () => {
      c.destroy()
      up.destroy()
    }
    c.on('error', end)
    up.on('error', end)
    c.on('close', end)
    up.on('close', end)
  })
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  return {
    uri: `tcp://127.0.0.1:${srv.address().port}`,
    bytes: () => Buffer.concat(chunks),
    close: () => new Promise((r) => srv.close(r)),
  }
}

async function captureRun(curve) {
  const proxy = curve ? await curveProxy() : await startProxy()
  const relay = await recordingRelay(proxy.frontend)
  const sub = new j.SubscriberAsync(proxy.backend, curve ? { curve: keys(bob) } : {})
  sub.subscribe(Telemetry)
  await subscribed(proxy)
  const pub = new j.PublisherAsync(relay.uri, curve ? { curve: keys(alice) } : {})
  await publishN(pub, 50, 'SECRET-FRIDGE-READING')
  const got = await drain(sub, 0.3, { atLeast: 50 })
  const wire = relay.bytes()
  for (const c of [pub, sub, proxy]) await c.close()
  await relay.close()
  return { got: got.length, wire }
}

test('CURVE traffic on the wire is not plaintext (captured by a loopback relay)', async (t) => {
  const plain = await captureRun(false)
  const sealed = await captureRun(true)
  t.log(`plain: ${plain.wire.length} bytes captured; curve: ${sealed.wire.length} bytes captured`)
  // Control: without CURVE the relay does see the payloads, so the capture works.
  t.is(plain.got, 50)
  t.true(plain.wire.includes('SECRET-FRIDGE-READING'))
  t.true(plain.wire.includes('Telemetry.qpu0.fridge.'))
  t.is(sealed.got, 50)
  t.true(sealed.wire.length > 50 * 50, 'the events did pass through the relay')
  t.false(sealed.wire.includes('SECRET-FRIDGE-READING'))
  t.false(sealed.wire.includes('Telemetry'))
  t.true(sealed.wire.includes('CURVE'), 'ZMTP greeting names the CURVE mechanism')
})

test('bad CURVE options are rejected with errors naming the field', async (t) => {
  t.throws(() => new j.PublisherAsync('tcp://127.0.0.1:1', { curve: { ...keys(alice), serverKey: 'short' } }), {
    message: /curve\.serverKey is not a CURVE key: it has 5 characters/,
  })
  t.throws(() => new j.SubscriberAsync('tcp://127.0.0.1:1', { curve: { ...keys(alice), publicKey: bob.publicKey } }), {
    message: /curve\.publicKey does not belong to curve\.secretKey/,
  })
  t.throws(() => new j.SubscriberAsync('tcp://127.0.0.1:1', { curve: { serverKey: server.publicKey } }), {
    instanceOf: TypeError,
    message: /Subscriber\.curve\.publicKey must be a Z85 key string/,
  })
  await t.throwsAsync(() => startProxy({ curve: { secretKey: server.secretKey, allowedClients: [alice.publicKey, 'not-a-key'] } }), {
    message: /curve\.allowedClients\[1\] is not a CURVE key: it has 9 characters/,
  })
  await t.throwsAsync(() => startProxy({ curve: { secretKey: server.secretKey } }), { instanceOf: TypeError, message: /allowedClients must be an array/ })
})

test('two CURVE proxies in one process keep their own allowlists (one ZAP handler, one domain each)', async (t) => {
  const [s1, s2, c1, c2] = [j.generateKeyPair(), j.generateKeyPair(), j.generateKeyPair(), j.generateKeyPair()]
  const ends = { frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0' }
  const p1 = await j.Proxy.start({ ...ends, curve: { secretKey: s1.secretKey, allowedClients: [c1.publicKey] } })
  const p2 = await j.Proxy.start({ ...ends, curve: { secretKey: s2.secretKey, allowedClients: [c2.publicKey] } })
  const ok = new j.SubscriberAsync(p1.backend, { curve: { serverKey: p1.curvePublicKey, ...c1 } }).subscribe(Telemetry)
  const wrong = new j.SubscriberAsync(p2.backend, { curve: { serverKey: p2.curvePublicKey, ...c1 } }).subscribe(Telemetry)
  t.true(await until(() => ok.stats().connected, 5000), 'c1 is admitted by proxy 1')
  t.true(await until(() => wrong.handshakeError() !== undefined, 5000))
  t.regex(wrong.handshakeError(), /not on the proxy's allowlist/, 'c1 is refused by proxy 2')
  t.is(p1.stats().authDenied, 0)
  t.true(p2.stats().authDenied >= 1)
  await p1.close() // the handler keeps serving proxy 2
  const ok2 = new j.SubscriberAsync(p2.backend, { curve: { serverKey: p2.curvePublicKey, ...c2 } }).subscribe(Telemetry)
  t.true(await until(() => ok2.stats().connected, 5000), 'c2 is admitted by proxy 2 after proxy 1 closed')
  for (const s of [ok, wrong, ok2]) await s.close()
  await p2.close()
})
