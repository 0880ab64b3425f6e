// The `juice` command line, run as a real process: help, errors and exit codes, and a proxy,
// tail, publish and topics session over tcp loopback (with and without CURVE).
'use strict'
const test = require('ava')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const net = require('node:net')
const { spawn, spawnSync } = require('node:child_process')
const { j, until, freePort } = require('./helpers')

const BIN = path.join(__dirname, '..', 'dist', 'cli', 'main.js')

/** Runs `juice ARGS` to completion. */
function juice(args, opts = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000, ...opts })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

/** Runs `juice ARGS` to completion without blocking this process (which may host the proxy). */
async function juiceAsync(args) {
  const r = start(args)
  const { code } = await r.exit
  return { code, out: r.out, err: r.err }
}

/** Starts `juice ARGS` in the background, collecting its output. */
function start(args) {
  const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const r = { p, out: '', err: '' }
  p.stdout.on('data', (d) => (r.out += d))
  p.stderr.on('data', (d) => (r.err += d))
  // 'close' (not 'exit'): it comes after the last output has been read.
  r.exit = new Promise((resolve) => p.on('close', (code, signal) => resolve({ code, signal })))
  return r
}

async function ports() {
  const [f, b, q] = [await freePort(), await freePort(), await freePort()]
  return { front: `tcp://127.0.0.1:${f}`, back: `tcp://127.0.0.1:${b}`, query: `tcp://127.0.0.1:${q}` }
}

const noStack = (t, text) => t.notRegex(text, /\n\s+at .+:\d+:\d+/, 'no stack trace')

test('juice --help lists the commands; every command has --help', (t) => {
  const top = juice(['--help'])
  t.is(top.code, 0)
  for (const c of ['proxy', 'tail', 'publish', 'topics', 'ingest', 'task', 'keygen']) {
    t.regex(top.out, new RegExp(`\\n  ${c} `))
    const h = juice([c, '--help'])
    t.is(h.code, 0, c)
    t.regex(h.out, new RegExp(`^Usage: juice ${c}`), c)
  }
  t.regex(juice(['--version']).out, /^\d+\.\d+\.\d+\n$/)
})

test('usage errors: one clear line, a hint, exit code 2, no stack trace', (t) => {
  const cases = [
    [['frobnicate'], /unknown command "frobnicate"/],
    [['tail', '--bogus'], /juice tail: Unknown option '--bogus'/],
    [['tail'], /name at least one TYPE\[\.TOPIC\]/],
    [['tail', 'X', '--uri', 'nope'], /invalid URI "nope"/],
    [['publish', 'Telemetry', '{not json'], /the event body is not valid JSON/],
    [['publish', 'Telemetry', '[1,2]'], /must be a JSON object, got an array/],
    [['publish', 'Tele.metry', '{}'], /must not contain '\.'/],
    [['publish', 'Telemetry', '{}', '--count', '2.5'], /--count must be a whole number > 0, got "2\.5"/],
    [['publish', 'Telemetry', '{}', '--rate', 'fast'], /--rate must be a number > 0, got "fast"/],
    [['publish', 'Telemetry', '{"time":"yesterday"}'], /"time" must be an ISO 8601 string/],
    [['proxy', '--keys', 'x.json'], /--keys and --allow go together/],
    [['keygen', 'extra'], /unexpected argument "extra"/],
    [['ingest', 'Cryo'], /--influx URL is required/],
    [['ingest', 'Cryo', '--influx', 'http://127.0.0.1:1'], /name the database: --db NAME/],
    [['ingest', 'Cryo', '--influx', 'http://127.0.0.1:1', '--org', 'o', '--bucket', 'b'], /token in the INFLUX_TOKEN environment variable/],
    [['ingest', 'Cryo', '--influx', 'not a url', '--db', 'x'], /influx\.url is not a URL/],
  ]
  for (const [args, pattern] of cases) {
    const r = juice(args)
    t.is(r.code, 2, args.join(' '))
    t.regex(r.err, pattern, args.join(' '))
    noStack(t, r.err)
  }
})

test('run-time errors: an unreachable proxy is a clear message and exit code 1', async (t) => {
  const pub = juice(['publish', 'Telemetry', '{}', '--uri', 'tcp://127.0.0.1:1', '--connect-timeout', '0.5'])
  t.is(pub.code, 1)
  t.regex(pub.err, /juice publish: cannot reach the proxy at tcp:\/\/127\.0\.0\.1:1 within 0\.5 s/)
  const tail = juice(['tail', 'Telemetry', '--uri', 'tcp://127.0.0.1:1', '--connect-timeout', '0.5'])
  t.is(tail.code, 1)
  t.regex(tail.err, /juice tail: cannot reach the proxy/)
  const topics = juice(['topics', '--query', 'tcp://127.0.0.1:1', '--timeout', '0.3'])
  t.is(topics.code, 1)
  t.regex(topics.err, /no answer from a proxy query endpoint at tcp:\/\/127\.0\.0\.1:1 within 0\.3 s/)
  for (const r of [pub, tail, topics]) noStack(t, r.err)
  const taken = net.createServer()
  await new Promise((r) => taken.listen(0, '127.0.0.1', r))
  const uri = `tcp://127.0.0.1:${taken.address().port}`
  const busy = juice(['proxy', '--frontend', uri, '--backend', 'tcp://127.0.0.1:0', '--query', 'none'])
  taken.close()
  t.is(busy.code, 1, 'a port in use is a run-time failure, not a usage error')
  t.regex(busy.err, /juice proxy: cannot bind "tcp:\/\/127\.0\.0\.1:\d+": Address already in use/)
  t.notRegex(busy.err, /--help/)
  noStack(t, busy.err)
})

test('proxy, tail, publish and topics work together; the proxy logs status and stops on SIGTERM', async (t) => {
  const { front, back, query } = await ports()
  const proxy = start(['proxy', '--frontend', front, '--backend', back, '--query', query, '--interval', '0.3'])
  t.teardown(() => proxy.p.kill('SIGKILL'))
  t.true(await until(() => proxy.err.includes('subscribers ->'), 10_000), proxy.err)
  // --timeout: a tail that missed an event fails the test instead of waiting for ever.
  const tail = start(['tail', 'Telemetry.qpu0', 'KernelStatusChanged', '--uri', back, '--count', '3', '--json', '--timeout', '60'])
  const tailAll = start(['tail', '--all', '--uri', back, '--count', '4', '--timeout', '60'])
  t.teardown(() => tail.p.kill('SIGKILL') && tailAll.p.kill('SIGKILL'))
  t.true(await until(() => /2 subscribers/.test(proxy.out), 10_000), proxy.out)
  const p1 = juice(['publish', 'Telemetry', '{"kelvin":0.0123,"n":1}', '--topic', 'qpu0.fridge', '--count', '2', '--rate', '100', '--uri', front])
  t.is(p1.code, 0, p1.err)
  t.regex(p1.err, /sent 2 Telemetry events/)
  const p2 = juice(['publish', 'KernelStatusChanged', '{"status":"idle","time":"2026-01-02T03:04:05.123456Z"}', '--topic', 'svc1', '--uri', front])
  t.is(p2.code, 0, p2.err)
  const p3 = juice(['publish', 'Telemetry', '{"kelvin":4}', '--topic', 'qpu1', '--uri', front])
  t.is(p3.code, 0, p3.err)
  t.deepEqual(await tail.exit, { code: 0, signal: null })
  const lines = tail.out.trim().split('\n').map((l) => JSON.parse(l))
  t.log(tail.out.trim())
  t.deepEqual(
    lines.map((l) => [l.type, l.topic]),
    [['Telemetry', 'qpu0.fridge'], ['Telemetry', 'qpu0.fridge'], ['KernelStatusChanged', 'svc1']],
  )
  t.is(lines[0].event.kelvin, 0.0123)
  t.is(lines[2].event.time, '2026-01-02T03:04:05.123456Z', 'microseconds survive publish -> tail')
  t.deepEqual(await tailAll.exit, { code: 0, signal: null })
  t.regex(tailAll.out, /Z Telemetry qpu1 \{"kelvin":4\}\n$/, 'tail --all prints types it had no subscription for by name')
  const topics = juice(['topics', '--query', query])
  t.is(topics.code, 0, topics.err)
  t.log(topics.out)
  t.regex(topics.out, /^TOPIC +LAST SEEN +EVENTS\n/)
  t.regex(topics.out, /\nKernelStatusChanged\.svc1 +\d{4}-\d\d-\d\dT[\d:.]+Z \(\d+s ago\) +1\n/)
  t.regex(topics.out, /\nTelemetry\.qpu0\.fridge +\S+ \(\d+s ago\) +2\n/)
  const json = JSON.parse(juice(['topics', '--query', query, '--json']).out)
  t.deepEqual(json.topics.map((x) => x.name), ['KernelStatusChanged.svc1', 'Telemetry.qpu0.fridge', 'Telemetry.qpu1'])
  t.true(await until(() => /4 events in total/.test(proxy.out), 10_000), proxy.out)
  t.regex(proxy.out, /^\d{4}-\d\d-\d\dT\S+Z \d[\d,]* events\/s +\S+ \S*B\/s +\d+ subscriptions +\d+ publishers +\d+ subscribers/m)
  proxy.p.kill('SIGTERM')
  t.deepEqual(await proxy.exit, { code: 0, signal: null })
  t.regex(proxy.err, /stopped after forwarding 4 events/)
})

test('on a terminal the proxy keeps one live status line', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'juice-tty-'))
  const pidFile = path.join(dir, 'pid')
  // `script` gives the proxy a pseudo-terminal. It is stopped with SIGINT (Ctrl-C) once its first
  // status line shows, which also means its handler is installed: start-up time varies under load.
  const cmd = `${process.execPath} ${BIN} proxy --frontend tcp://127.0.0.1:0 --backend tcp://127.0.0.1:0 --query none & echo $! > ${pidFile}; wait $!`
  const p = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
  p.stdin.end()
  let out = ''
  let err = ''
  p.stdout.on('data', (d) => (out += d))
  p.stderr.on('data', (d) => (err += d))
  let closed = false
  const exit = new Promise((resolve) =>
    p.on('close', (code) => {
      closed = true
      resolve(code)
    }),
  )
  const pid = () => Number(fs.readFileSync(pidFile, 'utf8'))
  t.teardown(() => {
    if (!closed) {
      try {
        process.kill(pid(), 'SIGKILL')
      } catch {}
      p.kill('SIGKILL')
    }
    fs.rmSync(dir, { recursive: true, force: true })
  })
  t.true(await until(() => /0 subscribers/.test(out), 15_000), out + err)
  process.kill(pid(), 'SIGINT')
  t.is(await exit, 0, out + err)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the status line is redrawn with CR and an ANSI erase
  t.regex(out, /\r\x1b\[K0 events\/s +0 B\/s +0 subscriptions +0 publishers +0 subscribers/)
  t.notRegex(out, /\d{4}-\d\d-\d\dT\S+Z \d/, 'no log lines on a terminal')
  t.regex(out, /stopped after forwarding 0 events/)
})

test('keygen and a CURVE proxy: listed clients talk, an unlisted one is told it was refused', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'juice-cli-'))
  try {
    const key = (name) => {
      const r = juice(['keygen', '--out', path.join(dir, name)])
      t.is(r.code, 0, r.err)
      return { file: path.join(dir, name), publicKey: r.out.trim() }
    }
    const server = key('server.json')
    const alice = key('alice.json')
    const bob = key('bob.json')
    const eve = key('eve.json')
    t.is(fs.statSync(server.file).mode & 0o777, 0o600, 'key files are private')
    t.is(JSON.parse(fs.readFileSync(alice.file, 'utf8')).publicKey, alice.publicKey)
    const again = juice(['keygen', '--out', server.file])
    t.is(again.code, 2)
    t.regex(again.err, /the file exists \(keys are never overwritten\)/)
    t.regex(juice(['keygen', '--json']).out, /^\{"publicKey":"[^"]{40}","secretKey":"[^"]{40}"\}\n$/)
    fs.writeFileSync(path.join(dir, 'allow'), `# lab clients\n${alice.publicKey}\n\n${bob.publicKey}  # bob\n`)
    const { front, back, query } = await ports()
    const proxy = start(['proxy', '--frontend', front, '--backend', back, '--query', query, '--keys', server.file, '--allow', path.join(dir, 'allow')])
    t.teardown(() => proxy.p.kill('SIGKILL'))
    t.true(await until(() => proxy.err.includes('CURVE on'), 10_000), proxy.err)
    t.regex(proxy.err, /2 clients allowed/)
    const serverKey = /server public key (\S{40})/.exec(proxy.err)[1]
    t.is(serverKey, server.publicKey)
    const tail = start(['tail', 'Reading', '--uri', back, '--count', '1', '--json', '--server-key', serverKey, '--keys', bob.file, '--timeout', '60'])
    t.teardown(() => tail.p.kill('SIGKILL'))
    const refused = juice(['tail', 'Reading', '--uri', back, '--server-key', serverKey, '--keys', eve.file, '--connect-timeout', '5'])
    t.is(refused.code, 1)
    t.regex(refused.err, /juice tail: cannot connect to the proxy at .*refused this client.*allowlist/)
    const plain = juice(['tail', 'Reading', '--uri', back, '--connect-timeout', '5'])
    t.is(plain.code, 1)
    t.regex(plain.err, /juice tail: cannot connect to the proxy at \S+: the proxy at \S+ requires CURVE: pass curve options/)
    // The tail's subscription is its only one: wait for it (publish returns as soon as it is there).
    const pub = juice(['publish', 'Reading', '{"v":42}', '--uri', front, '--server-key', serverKey, '--keys', alice.file, '--subscription-wait', '20'])
    t.is(pub.code, 0, pub.err)
    t.deepEqual(await tail.exit, { code: 0, signal: null })
    t.is(JSON.parse(tail.out).event.v, 42)
    const topics = juice(['topics', '--query', query, '--server-key', serverKey, '--keys', alice.file, '--json'])
    t.is(topics.code, 0, topics.err)
    t.deepEqual(JSON.parse(topics.out).topics.map((x) => x.name), ['Reading'])
    t.is(juice(['topics', '--query', query, '--timeout', '0.5']).code, 1, 'the query endpoint needs keys too')
    proxy.p.kill('SIGINT')
    t.deepEqual(await proxy.exit, { code: 0, signal: null })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('swapped ports: tail on the publisher port and publish on the subscriber port say which port is which', async (t) => {
  const proxy = await j.Proxy.start({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0' })
  try {
    const tail = await juiceAsync(['tail', 'Telemetry', '--uri', proxy.frontend, '--connect-timeout', '3'])
    t.is(tail.code, 1)
    t.regex(tail.err, /juice tail: cannot connect to the proxy at .*: .* is a proxy's publisher port \(XSUB\); subscribers connect to its subscriber port/)
    const pub = await juiceAsync(['publish', 'Telemetry', '{}', '--uri', proxy.backend, '--connect-timeout', '3'])
    t.is(pub.code, 1)
    t.regex(pub.err, /is a proxy's subscriber port \(XPUB\); publishers connect to its publisher port/)
  } finally {
    await proxy.close()
  }
})

test('juice topics against a CURVE proxy without keys, or at the wrong port, says so', async (t) => {
  const server = j.generateKeyPair()
  const curved = await j.Proxy.start({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0', query: 'tcp://127.0.0.1:0', curve: { secretKey: server.secretKey, allowedClients: [] } })
  const plain = await j.Proxy.start({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0' })
  try {
    const r = await juiceAsync(['topics', '--query', curved.query, '--timeout', '0.5'])
    t.is(r.code, 1)
    t.regex(r.err, /no answer from a proxy query endpoint .*: the proxy at .* requires CURVE/)
    const w = await juiceAsync(['topics', '--query', plain.backend, '--timeout', '0.5'])
    t.is(w.code, 1)
    t.regex(w.err, /is a proxy's subscriber port \(XPUB\), not its query endpoint/)
  } finally {
    await curved.close()
    await plain.close()
  }
})

test('every --help ends with an example and lines its options up in one column', (t) => {
  for (const c of ['proxy', 'tail', 'publish', 'topics', 'ingest', 'task', 'keygen']) {
    const r = juice([c, '--help'])
    t.is(r.code, 0)
    t.regex(r.out, new RegExp(`\\nExample: juice ${c}`), c)
    const cols = r.out
      .split('\n')
      .filter((l) => /^ {2}-/.test(l))
      .map((l) => /^ {2}\S.*?\s{2,}(?=\S)/.exec(l)[0].length)
    t.is(new Set(cols).size, 1, `${c}: option descriptions start in one column (${cols})`)
  }
  const main = juice(['--help'])
  t.regex(main.out, /\nExample: juice /)
})

test('juice publish TYPE - publishes one event per stdin line; --server-key-file reads a key from a file', async (t) => {
  const server = j.generateKeyPair()
  const client = j.generateKeyPair()
  const proxy = await j.Proxy.start({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0', curve: { secretKey: server.secretKey, allowedClients: [client.publicKey] } })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'juice-cli-'))
  const keys = path.join(dir, 'client.key')
  fs.writeFileSync(keys, JSON.stringify(client))
  const serverKeyFile = path.join(dir, 'server.pub')
  fs.writeFileSync(serverKeyFile, `${server.publicKey}\n`)
  class Reading extends j.Event {}
  const sub = new j.SubscriberAsync(proxy.backend, { curve: { serverKey: server.publicKey, ...client } }).subscribe(Reading)
  try {
    await until(() => proxy.stats().subscriptions === 1)
    const p = spawn(process.execPath, [BIN, 'publish', 'Reading', '-', '--uri', proxy.frontend, '--server-key-file', serverKeyFile, '--keys', keys], { stdio: ['pipe', 'pipe', 'pipe'] })
    let err = ''
    p.stderr.on('data', (d) => (err += d))
    p.stdin.end('{"n": 1}\n\n{"n": 2}\n{"n": 3, "time": "2026-01-02T03:04:05.123456Z"}\n')
    const code = await new Promise((r) => p.on('close', r))
    t.is(code, 0, err)
    t.regex(err, /sent 3 Reading events/)
    const got = []
    while (got.length < 3) got.push((await sub.get(5)).n)
    t.deepEqual(got, [1, 2, 3])
    const bad = spawn(process.execPath, [BIN, 'publish', 'Reading', '-', '--uri', proxy.frontend, '--server-key-file', serverKeyFile, '--keys', keys], { stdio: ['pipe', 'pipe', 'pipe'] })
    let badErr = ''
    bad.stderr.on('data', (d) => (badErr += d))
    bad.stdin.end('{"n": 4}\nnot json\n')
    t.is(await new Promise((r) => bad.on('close', r)), 2)
    t.regex(badErr, /stdin line 2: the event body is not valid JSON/)
  } finally {
    await sub.close()
    await proxy.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('the proxy status line says "1 publisher", not "1 publishers"', async (t) => {
  const { front, back } = await ports()
  const proxy = start(['proxy', '--frontend', front, '--backend', back, '--query', 'none', '--interval', '0.3'])
  await until(() => proxy.err.includes('publishers ->') || proxy.out.includes('publishers ->'), 10_000)
  const pub = new j.PublisherAsync(front)
  await until(() => /1 publisher\b(?!s)/.test(proxy.err + proxy.out), 5_000)
  t.regex(proxy.err + proxy.out, /\b1 publisher {2}0 subscribers/)
  t.notRegex(proxy.err + proxy.out, /\b1 publishers/)
  await pub.close()
  proxy.p.kill('SIGTERM')
  await proxy.exit
})
