// A raw ZMTP 3.0 peer over node:net (NULL mechanism), for hostile-input tests: it sends exactly the
// bytes a test asks for, which no well-behaved ZMQ library would.
'use strict'
const net = require('node:net')

/** The 64-byte ZMTP 3.0 greeting with the NULL mechanism. */
function greeting() {
  const g = Buffer.alloc(64)
  g[0] = 0xff
  g[9] = 0x7f
  g[10] = 3 // version 3.0
  g.write('NULL', 12, 'ascii')
  return g
}

/** A READY command announcing `socketType` (e.g. 'SUB', 'PUB', 'REQ'). */
function ready(socketType) {
  const name = Buffer.from('Socket-Type')
  const value = Buffer.from(socketType)
  const body = Buffer.concat([Buffer.from([5]), Buffer.from('READY'), Buffer.from([name.length]), name, Buffer.alloc(4), value])
  body.writeUInt32BE(value.length, 7 + name.length)
  return Buffer.concat([Buffer.from([0x04, body.length]), body])
}

/** One frame's header: `more` sets the MORE flag; sizes over 255 use the long form. */
function frameHeader(size, more = false) {
  const flags = more ? 0x01 : 0x00
  if (size <= 255) return Buffer.from([flags, size])
  const h = Buffer.alloc(9)
  h[0] = flags | 0x02
  h.writeBigUInt64BE(BigInt(size), 1)
  return h
}

/** A whole message as wire bytes. */
function message(frames) {
  const parts = []
  frames.forEach((f, i) => {
    const b = Buffer.isBuffer(f) ? f : Buffer.from(f)
    parts.push(frameHeader(b.length, i < frames.length - 1), b)
  })
  return Buffer.concat(parts)
}

/**
 * Connects to a tcp:// endpoint as `socketType` and completes the handshake. Resolves to
 * { sock, write(buf), send(frames), frames (received, each message an array of Buffers), closed }
 * once the peer's READY has arrived.
 */
function connect(uri, socketType, timeoutMs = 5000) {
  const m = /^tcp:\/\/([^:]+|\[[^\]]+\]):(\d+)$/.exec(uri)
  if (!m) throw new Error(`not a tcp endpoint: ${uri}`)
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(m[2]), m[1].replace(/^\[|\]$/g, ''))
    const peer = {
      sock,
      messages: [],
      closed: false,
      // Resolves when the bytes are handed over, or when the connection is gone (a hostile write
      // is often cut off midway, and 'drain' then never comes).
      write: (buf) =>
        new Promise((r) => {
          if (peer.closed || sock.destroyed) return r()
          if (sock.write(buf)) return r()
          const done = () => {
            sock.off('drain', done)
            sock.off('close', done)
            r()
          }
          sock.once('drain', done)
          sock.once('close', done)
        }),
      send: (frames) => peer.write(message(frames)),
    }
    let buf = Buffer.alloc(0)
    let stage = 'greeting'
    let current = []
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new Error(`ZMTP handshake with ${uri} timed out`))
    }, timeoutMs)
    let why = ''
    sock.on('error', (e) => {
      why = ` (${e.code ?? e.message})`
    })
    sock.on('close', () => {
      peer.closed = true
      clearTimeout(timer)
      reject(new Error(`connection closed during the handshake${why}`))
    })
    sock.on('connect', () => {
      sock.write(greeting())
      sock.write(ready(socketType))
    })
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      for (;;) {
        if (stage === 'greeting') {
          if (buf.length < 64) return
          buf = buf.subarray(64)
          stage = 'frames'
          continue
        }
        if (buf.length < 2) return
        const flags = buf[0]
        const long = (flags & 0x02) !== 0
        const head = long ? 9 : 2
        if (buf.length < head) return
        const size = long ? Number(buf.readBigUInt64BE(1)) : buf[1]
        if (buf.length < head + size) return
        const body = buf.subarray(head, head + size)
        buf = buf.subarray(head + size)
        if (flags & 0x04) {
          if (body.subarray(1, 6).toString() === 'READY') {
            clearTimeout(timer)
            resolve(peer)
          }
          continue
        }
        current.push(Buffer.from(body))
        if (!(flags & 0x01)) {
          peer.messages.push(current)
          current = []
        }
      }
    })
  })
}

/** Resolves once the peer's connection is closed by the other side, or to false after `ms`. */
function closedWithin(peer, ms) {
  if (peer.closed) return Promise.resolve(true)
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms)
    peer.sock.once('close', () => {
      clearTimeout(t)
      resolve(true)
    })
  })
}

module.exports = { connect, message, frameHeader, closedWithin }
