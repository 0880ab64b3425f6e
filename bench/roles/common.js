// Shared by the Node benchmark roles: the telemetry event body, clocks and reporting.
'use strict'

/** CLOCK_MONOTONIC in microseconds; the same clock in every process on the machine. */
const nowUs = () => Number(process.hrtime.bigint() / 1000n)

/** Padding per requested size, computed once: the body itself should cost what a user's does. */
const pads = new Map()

/** About 100 bytes of JSON (with `time`) for small sizes; padded up to `size` bytes beyond. */
function body(seq, size, stamp) {
  let pad = pads.get(size)
  if (pad === undefined) {
    const base = JSON.stringify({ time: '2026-11-27T09:30:00.123Z', path: 'qpu0.fridge.mxc', kelvin: 0.0123, seq: 1000000, t: 1e12 }).length
    pad = size > base + 9 ? 'x'.repeat(size - base - 9) : ''
    pads.set(size, pad)
  }
  const e = { path: 'qpu0.fridge.mxc', kelvin: 0.0123, seq, t: stamp }
  if (pad) e.pad = pad
  return e
}

function say(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function rssMb() {
  return Math.round((process.memoryUsage.rss() / 1048576) * 10) / 10
}

/** Summarises a run for the harness. */
function result(got, first, last, lat) {
  const seconds = (last - first) / 1e6
  const out = { received: got, seconds, rate: seconds > 0 ? Math.round((got - 1) / seconds) : 0, rssMb: rssMb() }
  if (lat.length > 0) {
    lat.sort((a, b) => a - b)
    const p = (q) => lat[Math.min(lat.length - 1, Math.floor(lat.length * q))]
    Object.assign(out, { p50_us: p(0.5), p99_us: p(0.99), max_us: lat[lat.length - 1] })
  }
  return out
}

const sleeper = new Int32Array(new SharedArrayBuffer(4))

/**
 * Paces a send loop to `rate` events/s (0 = as fast as possible); returns the stamp to embed.
 * It first yields one turn of the event loop, so the previous event's send goes out as it would
 * in an app whose events come from timers or I/O, then sleeps until the event is due. It never
 * spins: a spinning publisher takes a core from the pipeline it measures (the raw publisher
 * sleeps the same way). The stamp is read after waking, so oversleeping is not latency.
 */
async function pace(i, rate, start) {
  if (rate <= 0) return 0
  await new Promise((r) => setImmediate(r))
  const left = start + (i * 1e6) / rate - nowUs()
  if (left > 0) Atomics.wait(sleeper, 0, 0, left / 1000)
  return nowUs()
}

/**
 * Topic of the unmeasured events a paced publisher sends for its first two seconds: latency is
 * measured on a running pipeline, not on JIT compilation and the first subscription. The raw
 * publisher does the same; subscribers skip these events.
 */
const WARMUP_TOPIC = 'qpu0.warmup'

function waitStdinClose() {
  return new Promise((resolve) => {
    process.stdin.on('end', resolve)
    process.stdin.on('close', resolve)
    process.stdin.resume()
  })
}

module.exports = { nowUs, body, say, rssMb, result, pace, WARMUP_TOPIC, waitStdinClose }
