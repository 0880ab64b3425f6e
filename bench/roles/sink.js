// TelemetrySink role for bench/ingest.js: stores N Telemetry events in InfluxDB with one engine
// and reports the rate and its own CPU time per point (the whole process: JS and native threads).
//   sink ENGINE BACK INFLUX_URL DB N   (after the role name)
'use strict'
const j = require('../..')
const { say, rssMb } = require('./common')

class Telemetry extends j.Event {
  static measurement = 'telemetry'
  static tags = ['path']
  static integerFields = ['seq']
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function main(engine, back, url, db, n) {
  const sink = new j.TelemetrySink({ engine, uri: back, influx: { version: 1, url, database: db }, subscriber: { rcvHwm: 0 } }).subscribe(Telemetry).start()
  // CPU is counted from here (the sink is idle until the publisher starts); the clock starts when
  // the sink takes its first event. The JavaScript engine takes a backlog without yielding to
  // timers, so a poll would see that late: its first conversion is hooked instead. The native
  // engine leaves this thread idle, so a 1 ms poll sees it at once.
  const cpu0 = process.cpuUsage()
  let t0 = null
  if (engine === 'js') {
    const impl = sink.impl
    const add = impl.add
    impl.add = function (ev) {
      if (t0 === null) t0 = process.hrtime.bigint()
      return add.call(this, ev)
    }
  }
  say({ ready: true })
  while (sink.stats().received === 0) await sleep(1)
  if (t0 === null) t0 = process.hrtime.bigint()
  let peakRss = 0
  for (let k = 0; sink.stats().written + sink.stats().rejected < n; k++) {
    await sleep(5)
    if (k % 20 === 0) peakRss = Math.max(peakRss, rssMb())
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
