// A telemetry publisher: fridge temperatures for three QPUs, at a steady rate.
//   node target/examples/telemetry-publisher.mjs [publisher endpoint] [count] [ratePerSecond]
import { Event, PublisherAsync, proxyEndpoints } from 'juice-messaging'

class FridgeReading extends Event.define<{ qpu: string; stage: string; kelvin: number; seq: number }>() {
  override topic(): string {
    return `${this.qpu}.fridge.${this.stage}`
  }
}

const [uri = proxyEndpoints().frontend, count = '100', rate = '1000'] = process.argv.slice(2)
const pub = new PublisherAsync(uri)
const gapMs = 1000 / Number(rate)
for (let i = 0; i < Number(count); i++) {
  await pub.publish(new FridgeReading({ qpu: `qpu${i % 3}`, stage: 'mxc', kelvin: 0.01 + (i % 7) * 1e-4, seq: i }))
  if (gapMs >= 1) await new Promise((r) => setTimeout(r, gapMs))
}
await pub.close() // delivers everything published
const s = pub.stats()
console.log(`published ${s.published} readings to ${uri}: ${s.sent} sent, ${s.unrouted} with no subscriber, ${s.unsent} undelivered`)
