//! Native ingestion: subscribed events stored in InfluxDB as line protocol without passing
//! through JavaScript. [`line`] turns one payload into one line exactly as the TypeScript path
//! does; [`sink`] batches, writes and accounts for every event.

mod http;
mod jsnum;
mod json;
pub mod line;
pub mod sink;
mod wire_time;

pub use http::InfluxTarget;
pub use line::{FieldType, Schema};
pub use sink::{IngestOptions, IngestSink, IngestStats};

/// The line `payload` becomes under `schema` (for agreement tests and tools), or why it cannot.
pub fn line_of(schema: &Schema, payload: &str) -> std::result::Result<String, String> {
    let compiled = line::Compiled::new(schema)?;
    let mut out = Vec::new();
    compiled.write_line(payload, || 0, &mut line::LineWriter::default(), &mut out)?;
    String::from_utf8(out).map_err(|e| e.to_string())
}
