// A TypeScript subscriber receiving events from a real Python Juice publisher, through an
// embedded proxy. Needs orangeqs-juice-core in Python: `npm test` creates a venv with it at
// __test__/interop/.venv, or point PYTHON at your own.
//   node target/examples/python-interop.mjs
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import path from 'node:path'
import { Event, Proxy, SubscriberAsync } from 'juice-messaging'

class KernelStatusChanged extends Event.define<{ service: string; status: string }>() {
  override topic(): string {
    return this.service
  }
}

const root = path.dirname(createRequire(import.meta.url).resolve('juice-messaging/package.json'))
const python = process.env.PYTHON ?? path.join(root, '__test__', 'interop', '.venv', 'bin', 'python')
await using proxy = await Proxy.start({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0' })
await using sub = new SubscriberAsync(proxy.backend).subscribe(KernelStatusChanged, { topic: 'q1' })
while (proxy.stats().subscriptions === 0) await new Promise((r) => setTimeout(r, 10))

const run = spawnSync(python, [path.join(root, 'examples', 'python', 'publish_kernel_status.py'), proxy.frontend, '3'], { stdio: 'inherit' })
if (run.error || run.status !== 0) throw new Error(`the Python publisher failed (${run.error?.message ?? `exit ${run.status}`})`)

for (let i = 0; i < 3; i++) {
  const ev = await sub.get(5)
  console.log(`KernelStatusChanged from Python: service=${ev.service} status=${ev.status} time=${ev.time.toISOString()}`)
}
