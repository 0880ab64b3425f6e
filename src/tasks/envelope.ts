// The task envelopes on the wire (docs/design/tasks-protocol.md): one JSON object per WebSocket
// text frame, a request or a reply, matched by `id`.

export interface TaskMetadata {
  parallel: boolean
  display_name: string
  show_in_dashboard: boolean
}

export interface TaskRequestEnvelope {
  id: string
  target: string
  type: string
  metadata: TaskMetadata
  payload: Record<string, unknown>
}

export interface TaskOkReply {
  id: unknown
  status: 'ok'
  result: unknown
}

export interface TaskErrorReply {
  id: unknown
  status: 'error'
  ename: string
  evalue: string
  traceback: string
}

export type TaskReply = TaskOkReply | TaskErrorReply

/** Upstream's limit on one WebSocket message (both directions). */
export const MAX_TASK_MESSAGE = 50 * 1024 * 1024

/** A reply, or why the text is not one. */
export function parseReply(text: string): TaskReply | string {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return 'not JSON'
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object'
  const r = v as Record<string, unknown>
  // A reply without `result` (a server that returned nothing JSON can carry) is a null result.
  if (r.status === 'ok') return { id: r.id, status: 'ok', result: r.result ?? null }
  if (r.status === 'error') {
    return { id: r.id, status: 'error', ename: String(r.ename ?? 'Error'), evalue: String(r.evalue ?? ''), traceback: String(r.traceback ?? '') }
  }
  return `unknown status ${JSON.stringify(r.status)}`
}
