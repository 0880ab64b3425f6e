// A blocking script, with no async code: publish a command, then wait for each status reply, the
// way a measurement script would. It runs its own proxy, so it works on its own.
//   npm run examples && node target/examples/blocking-script.mjs
import { Event, Proxy, PublisherBlocking, SubscriberBlocking } from 'juice-messaging'

class KernelStatusChanged extends Event.define<{ service: string; status: 'idle' | 'busy' }>() {
  override topic(): string {
    return this.service
  }
}

const proxy = Proxy.startSync({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0' })
using sub = new SubscriberBlocking(proxy.backend).subscribe(KernelStatusChanged, { topic: 'q1' })
// Wait (blocking, no event loop) until the proxy has the subscription.
while (proxy.stats().subscriptions === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5)
using pub = new PublisherBlocking(proxy.frontend)
for (const status of ['busy', 'idle'] as const) pub.publish(new KernelStatusChanged({ service: 'q1', status }))
for (let i = 0; i < 2; i++) {
  const ev = sub.get(5) // blocks in native code until the event arrives, or throws TimeoutError
  console.log(`kernel ${ev.service} is ${ev.status}`)
}
proxy.close()
