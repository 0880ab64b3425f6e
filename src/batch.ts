// Reads the record batches the native receive thread produces (see crates/juice-core/src/inbox.rs):
// little-endian `type_id u32, topic_len u32, payload_len u32, topic, payload`, repeated.
// Records are read lazily, one per `get()`, so a large batch costs nothing until consumed, and
// the reader keeps the current record in fields instead of allocating an object per event.

export const RECORD_HEADER = 12

export class BatchReader {
  private buf: Buffer | null = null
  private at = 0
  /** Type id of the current record. */
  typeId = 0
  topicStart = 0
  payloadStart = 0
  end = 0

  load(buf: Buffer): void {
    this.buf = buf
    this.at = 0
  }

  /** Advances to the next record; false at the end of the batch. */
  next(): boolean {
    const buf = this.buf
    if (buf === null || this.at + RECORD_HEADER > buf.length) {
      this.buf = null
      return false
    }
    const at = this.at
    this.typeId = buf.readUInt32LE(at)
    this.topicStart = at + RECORD_HEADER
    this.payloadStart = this.topicStart + buf.readUInt32LE(at + 4)
    this.end = this.payloadStart + buf.readUInt32LE(at + 8)
    this.at = this.end
    return true
  }

  /** The current record's topic frame, e.g. `Telemetry.qpu0.fridge.`. */
  topic(): string {
    return (this.buf as Buffer).toString('utf8', this.topicStart, this.payloadStart)
  }

  /** The current record's JSON payload. */
  payload(): string {
    return (this.buf as Buffer).toString('utf8', this.payloadStart, this.end)
  }
}
