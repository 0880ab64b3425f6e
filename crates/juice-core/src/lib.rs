//! juice-core: the OrangeQS Juice pub/sub protocol over ZeroMQ, in pure Rust.
//!
//! # Layout
//! - [`wire`]: the two-frame wire format and its validation.
//! - [`topic_tree`]: exact, segment-wise topic matching whose cost does not grow with the number
//!   of subscriptions.
//! - [`topic_registry`]: the topics a proxy has forwarded, for `juice topics`.
//! - [`inbox`]: the bounded, batched hand-off from a receive thread to its consumer.
//! - [`records`]: the two binary record formats the caller and the core exchange.
//! - [`subscriber`], [`publisher`], [`proxy`]: one socket and one native thread each.
//! - [`curve`]: CURVE keys, socket setup and the proxy's ZAP allowlist handler.
//! - [`socket`]: the shared context, endpoint checks and control channels.
//! - [`nats`]: Juice topics as NATS subjects (the NATS transport's groundwork).
//! - [`error`]: the error type, with stable codes.
//!
//! # Data path
//! caller's batch -> `Publisher::try_send` -> XPUB --tcp--> proxy XSUB -> proxy thread ->
//! proxy XPUB --tcp--> SUB -> receive thread (check, match) -> inbox -> consumer takes a batch.

// The public surface is what the Node binding (crates/juice-node) and the integration tests
// use; everything else is crate-private, so it can change without breaking a caller.
mod context;
pub mod curve;
mod error;
mod handshake;
pub mod inbox;
pub mod ingest;
pub mod nats;
pub mod probe;
pub mod proxy;
mod publisher;
mod query;
pub mod records;
mod routes;
mod socket;
mod subscriber;
mod topic_registry;
mod topic_tree;
pub mod wire;

#[cfg(test)]
mod properties;

pub use curve::{ClientKeys, KeyPair, ServerKeys};
pub use error::{Error, ErrorCode, Result};
pub use inbox::Inbox;
pub use proxy::{Proxy, ProxyOptions, ProxyStats};
pub use publisher::{Publisher, PublisherOptions, PublisherStats};
pub use records::BatchWriter;
pub use subscriber::{Subscriber, SubscriberOptions, SubscriberStats};
pub use topic_tree::UNKNOWN_TYPE;
