//! Juice events over NATS (issue 19): [`subject`] maps a Juice topic frame to a NATS subject and
//! back; [`connect`] opens a client on the shared [`runtime`]; [`publisher`] and [`receiver`]
//! are the two ends of the transport, reached through [`crate::Publisher`] and
//! [`crate::Subscriber`] when the URI is `nats://`. `docs/design/nats.md` has the design.

pub mod bridge;
pub mod connect;
pub mod durable;
pub(crate) mod interest;
pub mod jetstream;
pub mod publisher;
pub(crate) mod readers;
pub(crate) mod receiver;
pub(crate) mod runtime;
pub mod subject;

pub use bridge::{Bridge, BridgeOptions, BridgeStats};
pub use connect::is_nats_uri;
pub use publisher::NatsPublisher;
