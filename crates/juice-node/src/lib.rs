//! N-API bindings for juice-core. Translation only: options in (`options`), counters and byte
//! buffers out, core errors to JS errors with a stable `code` (`errors`). No protocol logic lives
//! here. One module per exported class; napi-rs generates the TypeScript declarations of all of
//! it into src/native-types.ts.

pub mod bridge;
pub mod closing;
pub mod errors;
pub mod functions;
pub mod ingest;
pub mod jetstream;
pub mod options;
pub mod proxy;
pub mod publisher;
pub mod subscriber;
