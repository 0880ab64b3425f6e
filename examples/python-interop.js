// A TypeScript subscriber receiving events from a real Python Juice publisher, through an
// embedded Proxy. Needs orangeqs-juice-core in Python: `npm test` creates a venv with it at
// __test__/interop/.venv, or point PYTHON at your own.
//
//   node examples/python-interop.js
'use strict'
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { Event, Proxy, SubscriberAsync } = require('..')

class KernelStatusChanged extends Event {
  topic() {
    return this.service
  }
}

async function main() {
  const python = process.env.PYTHON ?? path.join(__dirname, '..', '__test__', 'interop', '.venv', 'bin', 'python')
  const proxy = await Proxy.start({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0' })
  const sub = new SubscriberAsync(proxy.backend).subscribe(KernelStatusChanged, { topic: 'q1' })
  while (proxy.stats().subscriptions === 0) await new Promise((r) => setTimeout(r, 10))

  const script = path.join(__dirname, 'python', 'publish_kernel_status.py')
  const run = spawnSync(python, [script, proxy.frontend, '3'], { stdio: 'inherit' })
  if (run.error || run.status !== 0) throw new Error(`python publisher failed (${run.error?.message ?? run.status})`)

  for (let i = 0; i < 3; i++) {
    const ev = await sub.get(5)
    console.log(`${ev.constructor.name} from Python: service=${ev.service} status=${ev.status} time=${ev.time.toISOString()}`)
  }
  await sub.close()
  await proxy.close()
}

main().catch((e) => {
  console.error(e.message)
  process.exit(1)
})
