// A three-node nats-server cluster on loopback for the NATS tests: routed, each node on its own
// free ports, stopped by stop(). nats-server comes from `node scripts/ensure-nats.js` (npm test
// runs it); without it these tests fail and say so.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const http = require('node:http')
const { spawn } = require('node:child_process')
const { freePort } = require('./helpers')

function natsServer() {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
    const p = `${dir}/nats-server`
    if (dir && fs.existsSync(p)) return p
  }
  throw new Error('nats-server not found on PATH or in /usr/sbin: run `node scripts/ensure-nats.js` (npm test does)')
}

function get(port, path) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 1000 }, (res) => {
      let body = ''
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve(body))
    })
    req.on('error', () => resolve(''))
    req.on('timeout', () => { req.destroy(); resolve('') })
  })
}

/** The last lines a node wrote to its log: why it exited, when it did. */
function tail(file, lines = 6) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/**
 * Starts the nodes on fresh ports and waits until they are routed. A node that exits meanwhile
 * (a port taken between our check and its bind, by another test process) costs an attempt on
 * new ports; live nodes that do not route within 20 s are an error.
 */
async function startCluster(n = 3) {
  const failures = []
  for (let attempt = 0; attempt < 3; attempt++) {
    const c = await tryStart(n)
    if (c.exited === undefined) return c
    failures.push(c.exited)
  }
  throw new Error(`a nats-server node exited during startup three times:\n${failures.join('\n')}`)
}

async function tryStart(n) {
  const bin = natsServer()
  const nodes = []
  for (let i = 0; i < n; i++) nodes.push({ client: await freePort(), route: await freePort(), http: await freePort(), name: `n${i}` })
  const routes = nodes.map((x) => `nats://127.0.0.1:${x.route}`).join(',')
  // A name of its own, so clusters of parallel test processes never merge whatever their ports.
  const clusterName = `juice-test-${process.pid}-${nodes[0].route}`
  // JetStream on, each node with its own store, kept across a restart of that node.
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'juice-nats-'))
  const launch = (x) => {
    x.log = path.join(store, `${x.name}.log`)
    const out = fs.openSync(x.log, 'a')
    x.proc = spawn(bin, ['-a', '127.0.0.1', '-p', String(x.client), '-m', String(x.http), '-n', x.name,
      '--cluster_name', clusterName, '-cluster', `nats://127.0.0.1:${x.route}`, '-routes', routes,
      '-js', '-sd', path.join(store, x.name)], { stdio: ['ignore', 'ignore', out] })
    fs.closeSync(out)
    const proc = x.proc
    proc.once('exit', (code, signal) => {
      if (x.proc === proc) x.exited = `${x.name} exited (${signal ?? code}): ${tail(x.log)}`
    })
  }
  nodes.forEach(launch)
  // Servers must not outlive a test process that ends early (a failed hook, a closed pipe).
  const killAll = () => {
    for (const x of nodes) x.proc?.kill('SIGKILL')
  }
  process.once('exit', killAll)
  const discard = () => {
    process.removeListener('exit', killAll)
    for (const x of nodes) {
      const p = x.proc
      x.proc = null
      p?.kill('SIGKILL')
    }
    fs.rmSync(store, { recursive: true, force: true })
  }
  const routed = async (x) => {
    const m = /"num_routes":\s*(\d+)/.exec(await get(x.http, '/routez'))
    return m !== null && Number(m[1]) >= n - 1
  }
  const waitRouted = async () => {
    const end = Date.now() + 20_000
    for (const x of nodes) {
      while (x.proc && !(await routed(x))) {
        const gone = nodes.find((y) => y.exited !== undefined)
        if (gone) return gone.exited
        if (Date.now() > end) {
          const logs = nodes.map((y) => `${y.name}: ${tail(y.log)}`).join('\n')
          throw new Error(`nats-server ${x.name} did not route to its ${n - 1} peers within 20 s\n${logs}`)
        }
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    return undefined
  }
  const exited = await waitRouted()
  if (exited !== undefined) {
    discard()
    return { exited }
  }
  return {
    nodes,
    url: (i) => `nats://127.0.0.1:${nodes[i].client}`,
    /** The index of the node leading JetStream stream `name` (-1 while it has no leader). */
    async streamLeader(name) {
      for (const x of nodes) {
        if (!x.proc) continue
        let jsz
        try {
          jsz = JSON.parse(await get(x.http, '/jsz?streams=true'))
        } catch {
          continue
        }
        for (const account of jsz.account_details ?? []) {
          for (const st of account.stream_detail ?? []) {
            if (st.name === name && st.cluster?.leader) return nodes.findIndex((n) => n.name === st.cluster.leader)
          }
        }
      }
      return -1
    },
    /** SIGKILLs node i. */
    async kill(i) {
      const p = nodes[i].proc
      nodes[i].proc = null
      p.kill('SIGKILL')
      await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', r)))
    },
    /** Starts node i again and waits until the cluster is routed. */
    async restart(i) {
      nodes[i].exited = undefined
      launch(nodes[i])
      const exited = await waitRouted()
      if (exited !== undefined) throw new Error(`nats-server ${exited}`)
    },
    async stop() {
      discard()
    },
  }
}

module.exports = { startCluster }
