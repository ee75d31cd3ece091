//! Bridges to async runtimes, behind cargo features: `tokio` runs futures that need tokio's
//! reactor or timers from goroutines. The runtime-independent bridges (`block_on`, awaitable
//! join handles, `recv_async`/`send_async`) are always there, at the crate root and on the
//! channel types.

#[cfg(feature = "tokio")]
pub mod tokio;
