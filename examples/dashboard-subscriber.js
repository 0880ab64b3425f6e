// A dashboard subscriber: keeps the latest temperature per QPU for one topic prefix and prints a
// summary line. Stops after `count` events or `seconds` of silence.
//   node examples/dashboard-subscriber.js tcp://127.0.0.1:5123 [topic] [count] [seconds]
'use strict'
const { Event, SubscriberAsync, TimeoutError } = require('..')

class Telemetry extends Event {
  topic() {
    return `${this.qpu}.fridge.${this.stage}`
  }
}

async function main() {
  const [uri = 'tcp://127.0.0.1:5123', topic = '', count = '100', seconds = '5'] = process.argv.slice(2)
  const sub = new SubscriberAsync(uri).subscribe(Telemetry, { topic: topic || null })
  console.log(JSON.stringify({ ready: true }))
  const latest = {}
  let n = 0
  try {
    for (; n < Number(count); n++) {
      const ev = await sub.get(Number(seconds))
      latest[ev.qpu] = ev.kelvin
    }
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e
  }
  console.log(JSON.stringify({ received: n, latest, dropped: sub.stats().dropped }))
  await sub.close()
}

main().catch((e) => {
  console.error(e.message)
  process.exit(1)
})
