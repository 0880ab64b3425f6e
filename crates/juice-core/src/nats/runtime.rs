//! The one Tokio runtime the NATS transport runs on: a single thread, started on first use and
//! shared by every NATS client in the process. One thread suffices: each client's work is parsing
//! and handing over bytes, and the heavy lifting (JSON, line protocol) happens elsewhere.
//!
//! The thread idles in the runtime for the life of the process; clients stop their own tasks on
//! `close()`, so nothing of theirs outlives them.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::runtime::Handle;

use crate::error::{Error, Result};

static HANDLE: OnceLock<std::result::Result<Handle, String>> = OnceLock::new();

/// The runtime's handle, starting it on first use.
pub(crate) fn handle() -> Result<Handle> {
    HANDLE
        .get_or_init(start)
        .clone()
        .map_err(|why| Error::invalid_arg(format!("cannot start the NATS runtime: {why}")))
}

fn start() -> std::result::Result<Handle, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("juice-nats")
        .build()
        .map_err(|e| e.to_string())?;
    let handle = rt.handle().clone();
    std::thread::Builder::new()
        .name("juice-nats".into())
        .spawn(move || rt.block_on(std::future::pending::<()>()))
        .map_err(|e| e.to_string())?;
    Ok(handle)
}

/// Runs `fut` to completion from a thread outside the runtime (the JS thread, a blocking
/// caller), giving up after `limit`: `Ok(None)` then. A panic inside (a defect) becomes an error
/// here instead of unwinding into the host process.
pub(crate) fn block_on<F: Future>(limit: Duration, fut: F) -> Result<Option<F::Output>> {
    let handle = handle()?;
    // The timer is made inside the async block, where the runtime's context is entered.
    let run = std::panic::AssertUnwindSafe(|| {
        handle.block_on(async move { tokio::time::timeout(limit, fut).await.ok() })
    });
    std::panic::catch_unwind(run)
        .map_err(|_| Error::invalid_arg("internal error in the NATS client"))
}
