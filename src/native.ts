// Declarations of the classes the Rust addon (crates/juice-node) exports. The addon is thin:
// everything here maps one-to-one onto juice-core. Durations are milliseconds at this layer.

/** Errors thrown by the addon carry a stable `code` such as `ERR_JUICE_CLOSED`. */
export interface NativeError extends Error {
  code: string
}

export interface NativeProxyOptions {
  frontend?: string
  backend?: string
  /** `ZMQ_RCVHWM` of the XSUB frontend, per publisher connection. */
  rcvHwm?: number
  /** `ZMQ_SNDHWM` of the XPUB backend, per subscriber connection. */
  sndHwm?: number
  /** `ZMQ_MAXMSGSIZE` of the frontend; -1 for no limit. */
  maxMessageSize?: number
  /** `ZMQ_XPUB_NODROP` on the backend. */
  lossless?: boolean
  curve?: { secretKey: string; allowedClients: string[] }
  maxTopics?: number
  query?: string
  maxSubscription?: number
  maxTopicsBytes?: number
}

export interface NativeTopicList {
  topics: { name: string; lastSeenMs: number; count: number }[]
  overflow: number
}

export interface NativeClientCurve {
  serverKey: string
  publicKey: string
  secretKey: string
}

export interface NativeProxyStats {
  messages: number
  bytes: number
  subscriptions: number
  /** CURVE handshakes admitted by the allowlist. */
  authAccepted: number
  /** CURVE handshakes refused. */
  authDenied: number
  /** Open connections from publishers (frontend). */
  publishers: number
  /** Open connections from subscribers (backend). */
  subscribers: number
  /** Backend notices not passed on (too long, or not a subscription). */
  rejectedSubscriptions: number
}

export interface NativeProxy {
  readonly frontend: string
  readonly backend: string
  readonly query: string | null
  topics(): NativeTopicList
  stats(): NativeProxyStats
  setAllowedClients(keys: string[]): void
  close(): void
}

export interface NativePublisherOptions {
  /** `ZMQ_SNDHWM`. */
  sndHwm?: number
  /** `ZMQ_LINGER`, ms. */
  lingerMs?: number
  subscriptionWaitMs?: number
  curve?: NativeClientCurve
}

export interface NativePublisherStats {
  sent: number
  blocked: number
  unrouted: number
  handshakeFailures: number
  connected: boolean
  lingerExpired: boolean
}

export interface NativePublisher {
  /** Sends from an encoded batch without waiting; returns the bytes consumed. */
  trySend(batch: Buffer): number
  /** Sends the whole batch, blocking the thread while the proxy cannot take more. */
  sendBlocking(batch: Buffer, limitMs: number | null): number
  /** Resolves once sending can progress (true) or after the timeout (false). */
  waitReady(timeoutMs: number): Promise<boolean>
  stats(): NativePublisherStats
  handshakeError(): string | null
  closeBlocking(): void
  close(): Promise<void>
}

export interface NativeSubscriberOptions {
  maxQueue?: number
  maxQueueBytes?: number
  maxPayload?: number
  /** `ZMQ_RCVHWM`. */
  rcvHwm?: number
  /** `ZMQ_MAXMSGSIZE`; -1 for no limit. */
  maxMessageSize?: number
  lossless?: boolean
  curve?: NativeClientCurve
}

export interface NativeSubscriberStats {
  received: number
  delivered: number
  queued: number
  dropped: number
  malformedFrames: number
  malformedUtf8: number
  malformedTopic: number
  oversized: number
  unmatched: number
  subscriptions: number
  /** Handshakes with the proxy that failed (refused CURVE key, security mismatch). */
  handshakeFailures: number
  /** A connection to the proxy is up (its handshake completed). */
  connected: boolean
}

export interface NativeSubscriber {
  subscribe(typeName: string, topic: string | null): number
  unsubscribe(typeName: string, topic: string | null): boolean
  subscribeAll(): void
  unsubscribeAll(): boolean
  setWaker(waker: () => void): void
  /**
   * Copies queued records into `out`: returns the bytes copied, 0 when none were queued (the
   * waker is then armed), or minus the size needed when the next record alone does not fit.
   */
  takeOrArmInto(out: Buffer): number
  /** As takeOrArmInto, blocking the thread up to the timeout (null = forever); 0 on timeout. */
  waitTakeInto(out: Buffer, timeoutMs: number | null): number
  stats(): NativeSubscriberStats
  handshakeError(): string | null
  close(): void
}

export interface NativeModule {
  validateTypeName(name: string): void
  generateKeyPair(): { publicKey: string; secretKey: string }
  curvePublicKey(secretKey: string): string
  curveAvailable(): boolean
  proxyQuery(uri: string, request: string, timeoutMs: number, curve?: NativeClientCurve | null): string
  diagnoseEndpoint(uri: string, role: string, haveCurve: boolean, timeoutMs: number): string | null
  NativeProxy: new (opts: NativeProxyOptions) => NativeProxy
  NativePublisher: new (uri: string, opts: NativePublisherOptions) => NativePublisher
  NativeSubscriber: new (uri: string, opts: NativeSubscriberOptions) => NativeSubscriber
}
