// A blocking script, no async code: publish a command and wait for the status reply, the way a
// measurement script would. Runs its own proxy so it is self-contained.
//   node examples/blocking-script.js
'use strict'
const { Event, Proxy, PublisherBlocking, SubscriberBlocking } = require('..')

class KernelStatusChanged extends Event {
  topic() {
    return this.service
  }
}

const proxy = Proxy.startSync({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0' })
const sub = new SubscriberBlocking(proxy.backend).subscribe(KernelStatusChanged, { topic: 'q1' })
while (proxy.stats().subscriptions === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5)
const pub = new PublisherBlocking(proxy.frontend)
for (const status of ['busy', 'idle']) pub.publish(new KernelStatusChanged({ service: 'q1', status }))
const got = [sub.get(5).status, sub.get(5).status] // blocks in native code until each arrives
console.log(JSON.stringify({ got }))
pub.close()
sub.close()
proxy.close()
