// TelemetrySink role for bench/ingest.js: stores N Telemetry events in InfluxDB and reports the
// rate and its own CPU time per point.
//   sink BACK INFLUX_URL DB N
'use strict'
const j = require('../..')
const { say, rssMb } = require('./common')

class Telemetry extends j.Event {
  static measurement = 'telemetry'
  static tags = ['path']
  static integerFields = ['seq']
}

async function main(back, url, db, n) {
  const sink = new j.TelemetrySink({ uri: back, influx: { version: 1, url, database: db }, subscriber: { rcvHwm: 0 } }).subscribe(Telemetry).start()
  // CPU is counted from here (the sink is idle until the publisher starts), and the clock from the
  // first event the sink takes: buffered events are taken without yielding to timers, so a
  // polling loop would notice the first one late.
  const cpu0 = process.cpuUsage()
  let t0 = null
  const add = sink.add
  sink.add = function (ev) {
    if (t0 === null) t0 = process.hrtime.bigint()
    return add.call(this, ev)
  }
  say({ ready: true })
  while (sink.stats().written + sink.stats().rejected < n) await new Promise((r) => setTimeout(r, 5))
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const cpu = process.cpuUsage(cpu0)
  const s = sink.stats()
  await sink.close()
  say({ received: s.received, written: s.written, rejected: s.rejected, overflow: s.overflow, seconds, rate: Math.round(s.written / seconds), cpuUsPerPoint: (cpu.user + cpu.system) / s.written, rssMb: rssMb() })
}

main(process.argv[3], process.argv[4], process.argv[5], Number(process.argv[6])).catch((e) => {
  console.error(e)
  process.exit(1)
})
