// Limits on topics, checked before anything reaches the native layer. They mirror
// `crates/juice-core/src/wire.rs`, which enforces them again: subscriptions end up in libzmq's
// subscription tries (ours, the proxy's, every publisher's), which spend a node and a level of
// recursion per byte, so a topic of unbounded length is a way to crash or exhaust a process.

/** Longest topic, in UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 1024
/** Most dot-separated segments in a topic. */
export const MAX_TOPIC_SEGMENTS = 128

/** Throws a TypeError naming the limit a topic breaks. */
export function checkTopic(topic: unknown, what = 'topic'): asserts topic is string {
  if (typeof topic !== 'string') throw new TypeError(`${what} must be a string or null, got ${typeof topic}`)
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short topics need no byte count.
  if (topic.length * 3 > MAX_TOPIC_BYTES) {
    const bytes = Buffer.byteLength(topic)
    if (bytes > MAX_TOPIC_BYTES) {
      throw new TypeError(`${what} is ${bytes} bytes long; the limit is ${MAX_TOPIC_BYTES} bytes (UTF-8)`)
    }
  }
  if (topic.length >= MAX_TOPIC_SEGMENTS) {
    let segments = 1
    for (let i = topic.indexOf('.'); i !== -1; i = topic.indexOf('.', i + 1)) segments++
    if (segments > MAX_TOPIC_SEGMENTS) {
      throw new TypeError(`${what} has ${segments} dot-separated segments; the limit is ${MAX_TOPIC_SEGMENTS}`)
    }
  }
}
