// A dashboard subscriber: keeps the latest fridge temperature per QPU under one topic prefix, and
// prints each reading and a summary. Stops after `count` readings or `seconds` of silence.
//   node target/examples/dashboard-subscriber.mjs [subscriber endpoint] [topic] [count] [seconds]
import { Event, proxyEndpoints, SubscriberAsync, TimeoutError } from 'juice-messaging'

class FridgeReading extends Event.define<{ qpu: string; stage: string; kelvin: number; seq: number }>() {
  override topic(): string {
    return `${this.qpu}.fridge.${this.stage}`
  }
}

const [uri = proxyEndpoints().backend, topic = '', count = '100', seconds = '5'] = process.argv.slice(2)
await using sub = new SubscriberAsync(uri).subscribe(FridgeReading, { topic: topic || null })
console.log(`listening on ${uri} for ${topic ? `${topic}.*` : 'all'} fridge readings`)
const latest = new Map<string, number>()
let n = 0
try {
  for (; n < Number(count); n++) {
    const ev = await sub.get(Number(seconds))
    latest.set(ev.qpu, ev.kelvin)
    console.log(`${ev.time.toISOString()}  ${ev.qpu} ${ev.stage}  ${(ev.kelvin * 1000).toFixed(2)} mK`)
  }
} catch (e) {
  if (!(e instanceof TimeoutError)) throw e
}
const summary = [...latest].map(([qpu, k]) => `${qpu} ${(k * 1000).toFixed(2)} mK`).join(', ')
console.log(`received ${n} readings (dropped ${sub.stats().dropped}); latest: ${summary || 'none'}`)
