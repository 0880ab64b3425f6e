// TelemetrySink role for bench/ingest.js: stores N Telemetry events in InfluxDB with one engine
// and reports the rate and its own CPU time per point (the whole process: JS and native threads).
//   sink ENGINE BACK INFLUX_URL DB N   (after the role name)
'use strict'
// JUICE_PACKAGE: another checkout's package, for same-run comparisons of two builds.
const j = require(process.env.JUICE_PACKAGE ?? '../..')
const { say, rssMb } = require('./common')

class Telemetry extends j.Event {
  static measurement = 'telemetry'
  static tags = ['path']
  static integerFields = ['seq']
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function main(engine, back, url, db, n) {
  const sink = new j.TelemetrySink({ engine, uri: back, influx: { version: 1, url, database: db }, subscriber: { rcvHwm: 0 } }).subscribe(Telemetry).start()
  // The clock and the CPU count start when the sink takes its first event, so that neither this
  // harness's wait for the publisher nor the sink's idle time is charged to the points. The
  // JavaScript engine takes a backlog without yielding to timers, so a poll would see that late:
  // its first conversion is hooked instead. The native engine leaves this thread idle, so a 1 ms
  // poll sees it at once (the first millisecond's work is not counted: a few hundred points).
  let cpu0 = null
  let t0 = null
  const start = () => {
    t0 = process.hrtime.bigint()
    cpu0 = process.cpuUsage()
  }
  if (engine === 'js') {
    const impl = sink.impl
    const add = impl.add
    impl.add = function (ev) {
      if (t0 === null) start()
      return add.call(this, ev)
    }
  }
  say({ ready: true })
  while (sink.stats().received === 0) await sleep(1)
  if (t0 === null) start()
  let peakRss = 0
  // A slow poll: this loop is the harness, and its wake-ups are charged to the sink's CPU.
  for (let k = 0; ; k++) {
    const s = sink.stats()
    if (s.written + s.rejected >= n) break
    await sleep(20)
    if (k % 5 === 0) peakRss = Math.max(peakRss, rssMb())
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const cpu = process.cpuUsage(cpu0)
  const s = sink.stats()
  await sink.close()
  say({ ...s, seconds, rate: Math.round(s.written / seconds), cpuUsPerPoint: (cpu.user + cpu.system) / s.written, rssMb: Math.max(peakRss, rssMb()) })
}

main(...process.argv.slice(3, 7), Number(process.argv[7])).catch((e) => {
  console.error(e)
  process.exit(1)
})
