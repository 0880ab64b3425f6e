// The two binary record formats exchanged with the native core, mirroring
// crates/juice-core/src/records.rs (both are tested against __test__/fixtures/records-golden.txt).
// Little-endian u32s; each record is a 12-byte header then its bytes:
// - publish records (BatchWriter -> native publisher):
//   `type_len, topic_len (0xffffffff = none), payload_len, type, topic, payload`;
// - inbox records (native receive thread -> BatchReader):
//   `type_id, topic_len, payload_len, topic frame, payload`.
// Inbox records are read lazily, one per `get()`, so a large batch costs nothing until consumed,
// and the reader keeps the current record in fields instead of allocating an object per event.

export const RECORD_HEADER = 12

export class BatchReader {
  private buf: Buffer | null = null
  /** Over `viewOf`, for the record headers: DataView reads are several times cheaper than readUInt32LE. */
  private view: DataView | null = null
  private viewOf: Buffer | null = null
  private at = 0
  private limit = 0
  /** Type id of the current record. */
  typeId = 0
  topicStart = 0
  payloadStart = 0
  end = 0

  /** Reads the first `len` bytes of `buf` (default: all of it). */
  load(buf: Buffer, len = buf.length): void {
    if (this.viewOf !== buf) {
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.length)
      this.viewOf = buf
    }
    this.buf = buf
    this.at = 0
    this.limit = len
  }

  /** Advances to the next record; false at the end of the batch. */
  next(): boolean {
    const buf = this.buf
    if (buf === null || this.at + RECORD_HEADER > this.limit) {
      this.buf = null
      return false
    }
    const at = this.at
    const view = this.view as DataView
    this.typeId = view.getUint32(at, true)
    this.topicStart = at + RECORD_HEADER
    this.payloadStart = this.topicStart + view.getUint32(at + 4, true)
    this.end = this.payloadStart + view.getUint32(at + 8, true)
    if (this.end > this.limit) {
      // Never produced by the core (it copies whole records); a cut batch ends here.
      this.buf = null
      return false
    }
    this.at = this.end
    return true
  }

  /** The current record's topic frame, e.g. `Telemetry.qpu0.fridge.`. */
  topic(): string {
    return (this.buf as Buffer).toString('utf8', this.topicStart, this.payloadStart)
  }

  /** The current record's JSON payload. */
  payload(): string {
    return utf8Slice(this.buf as Buffer, this.payloadStart, this.end)
  }
}

/**
 * `Buffer#utf8Write` and `Buffer#utf8Slice` skip the argument normalisation of `Buffer#write` and
 * `Buffer#toString`; they are not in the typings, so fall back wherever they are missing.
 */
type FastBuffer = { utf8Write?: (s: string, o: number) => number; utf8Slice?: (s: number, e: number) => string }
const fastWrite = (Buffer.prototype as unknown as FastBuffer).utf8Write
const utf8Write: (buf: Buffer, s: string, offset: number) => number =
  typeof fastWrite === 'function'
    ? (buf, s, offset) => fastWrite.call(buf, s, offset)
    : (buf, s, offset) => buf.write(s, offset)
const fastSlice = (Buffer.prototype as unknown as FastBuffer).utf8Slice
const utf8Slice: (buf: Buffer, start: number, end: number) => string =
  typeof fastSlice === 'function'
    ? (buf, start, end) => fastSlice.call(buf, start, end)
    : (buf, start, end) => buf.toString('utf8', start, end)

/** Marks "no topic" in a publish record. */
const NO_TOPIC = 0xffffffff
/** Buffers bigger than this are released once empty, so one huge event does not pin memory. */
const KEEP_BYTES = 1 << 20

/**
 * Encodes events as publish records for the native publisher. Strings are written straight into
 * one reusable buffer as UTF-8; one native call sends a batch.
 */
export class BatchWriter {
  private buf: Buffer = Buffer.allocUnsafe(64 * 1024)
  private header: DataView = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length)
  /** Bytes of encoded events waiting to be sent. */
  len = 0

  /**
   * Appends one event. `typeBytes` is the UTF-8 length of `type` (constant per class, so the
   * caller caches it): type and topic then go into the buffer in one write.
   * Returns the message's size on the wire (topic frame plus payload); when that exceeds
   * `maxMessage`, returns it negated and leaves the batch as it was.
   */
  add(type: string, typeBytes: number, topic: string | null, payload: string, maxMessage = Infinity): number {
    // A UTF-16 code unit never takes more than 3 bytes of UTF-8.
    const need = RECORD_HEADER + 3 * (type.length + (topic === null ? 0 : topic.length) + payload.length)
    if (this.len + need > this.buf.length) this.grow(this.len + need)
    const buf = this.buf
    const at = this.len
    let p = at + RECORD_HEADER
    let ol = NO_TOPIC
    if (topic === null) {
      p += utf8Write(buf, type, p)
    } else {
      const written = utf8Write(buf, type + topic, p)
      ol = written - typeBytes
      p += written
    }
    const pl = utf8Write(buf, payload, p)
    p += pl
    // The topic frame adds a dot after the type and after the topic.
    const size = p - at - RECORD_HEADER + (topic === null ? 1 : 2)
    if (size > maxMessage) return -size
    const header = this.header
    header.setUint32(at, typeBytes, true)
    header.setUint32(at + 4, ol, true)
    header.setUint32(at + 8, pl, true)
    this.len = p
    return size
  }

  private grow(min: number): void {
    const next = Buffer.allocUnsafe(Math.max(min, this.buf.length * 2))
    this.buf.copy(next, 0, 0, this.len)
    this.setBuffer(next)
  }

  private setBuffer(buf: Buffer): void {
    this.buf = buf
    this.header = new DataView(buf.buffer, buf.byteOffset, buf.length)
  }

  /** The encoded events, without copying. */
  view(): Buffer {
    return this.buf.subarray(0, this.len)
  }

  /** Drops the first `bytes` (already sent). */
  consume(bytes: number): void {
    if (bytes >= this.len) {
      this.len = 0
      if (this.buf.length > KEEP_BYTES) this.setBuffer(Buffer.allocUnsafe(64 * 1024))
      return
    }
    if (bytes > 0) {
      this.buf.copy(this.buf, 0, bytes, this.len)
      this.len -= bytes
    }
  }
}
