// The contract with the Rust addon (crates/juice-node). Its declarations are generated from the
// Rust code by napi-rs into ./native-types (written by `npm run build:native`; a test fails when
// the checked-in copy differs from what the last build generated). This file adds only what
// generation cannot express. Durations are milliseconds at this layer.
import type * as Generated from './native-types'

export type {
  NativeBridge,
  NativeProxy,
  NativePublisher,
  NativeSubscriber,
  SubscriberStats as NativeSubscriberStats,
  TopicList as NativeTopicList,
} from './native-types'

/** The addon's exports, as generated. */
export type NativeModule = typeof Generated

/** Errors thrown by the addon carry a stable `code` such as `ERR_JUICE_CLOSED`. */
export interface NativeError extends Error {
  code: string
}
