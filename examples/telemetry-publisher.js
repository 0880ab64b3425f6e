// A telemetry publisher: fridge temperatures for a few QPUs, at a steady rate.
//   node examples/telemetry-publisher.js tcp://127.0.0.1:5122 [count] [ratePerSecond]
'use strict'
const { Event, PublisherAsync } = require('..')

class Telemetry extends Event {
  topic() {
    return `${this.qpu}.fridge.${this.stage}`
  }
}

async function main() {
  const [uri = 'tcp://127.0.0.1:5122', count = '100', rate = '1000'] = process.argv.slice(2)
  const pub = new PublisherAsync(uri)
  const gapMs = 1000 / Number(rate)
  for (let i = 0; i < Number(count); i++) {
    await pub.publish(new Telemetry({ qpu: `qpu${i % 3}`, stage: 'mxc', kelvin: 0.01 + (i % 7) * 1e-4, seq: i }))
    if (gapMs >= 1) await new Promise((r) => setTimeout(r, gapMs))
  }
  await pub.close() // delivers everything published
  console.log(JSON.stringify({ published: Number(count), ...pub.stats() }))
}

main().catch((e) => {
  console.error(e.message)
  process.exit(1)
})
