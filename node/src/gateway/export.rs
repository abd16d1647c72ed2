//! `GET /v1/export`: the finalized chain as an export file
//! ([`crate::backup`]), streamed as it is read, for `coldchain export
//! --gateway --key ADMIN_KEY`. Blocks finalized after the request started
//! are not included.
//!
//! The export is the whole chain, unmasked: only a bureau (a signed read by
//! its admin key) may take it. At most [`MAX_CONCURRENT_EXPORTS`] run at
//! once on a node, and a reader that takes nothing for [`STALL_TIMEOUT`] is
//! cut off, so downloads that stop reading hold neither threads nor memory.

use super::Gateway;
use super::envelope::{ApiError, ErrorCode};
use crate::backup;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::io::Write;
use std::time::Duration;
use tokio::sync::mpsc;

/// Exports running at once on one node; more answer 503.
pub const MAX_CONCURRENT_EXPORTS: usize = 2;
/// A download that takes no chunk for this long is ended.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);

type Chunk = Result<Vec<u8>, std::io::Error>;

/// Hands what the exporter writes to the response body; a client that went
/// away, or stopped reading for [`STALL_TIMEOUT`], ends the export.
struct ChannelWriter {
    tx: mpsc::Sender<Chunk>,
    runtime: tokio::runtime::Handle,
    stall: Duration,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (tx, stall) = (&self.tx, self.stall);
        match self.runtime.block_on(async move { tokio::time::timeout(stall, tx.send(Ok(buf.to_vec()))).await }) {
            Ok(Ok(())) => Ok(buf.len()),
            Ok(Err(_)) => Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
            Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("the client took nothing for {} ms", self.stall.as_millis()))),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[utoipa::path(
    get,
    path = "/v1/export",
    tags = ["operators"],
    summary = "The finalized chain as an export file",
    description = "For bureaus only (a signed read by a bureau's admin key; `coldchain export --gateway URL --key ADMIN_KEY`): the whole chain, unmasked. JSON Lines (docs/OPERATIONS.md; `coldchain import` reads it), streamed as it is read; blocks finalized after the request started are not included. At most 2 exports run at once on a node (else 503 `overloaded`); a reader that takes nothing for 30 s is cut off. Not an envelope once it starts; a failure mid-way breaks the download.",
    responses(
        (status = 200, description = "The export file.", content_type = "application/x-ndjson", body = String),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn export(State(gw): State<Gateway>) -> Result<Response, ApiError> {
    let permit = gw.exports.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Overloaded,
            format!("{MAX_CONCURRENT_EXPORTS} exports are running on this node; retry later"),
        )
    })?;
    let (tx, rx) = mpsc::channel::<Chunk>(8);
    let store = gw.services.store.clone();
    let genesis = gw.services.genesis.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, ChannelWriter { tx: tx.clone(), runtime: runtime.clone(), stall: STALL_TIMEOUT });
        match backup::export(&store, &genesis, &mut out) {
            Ok(summary) => tracing::info!(blocks = summary.blocks, height = summary.height, "chain exported"),
            Err(e) => {
                tracing::warn!(error = %e, "export ended");
                // Ends the body with an error, so the client sees a broken
                // download rather than a short file.
                let _ =
                    runtime.block_on(async move { tokio::time::timeout(STALL_TIMEOUT, tx.send(Err(std::io::Error::other(e.to_string())))).await });
            }
        }
    });
    let chunks = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let file = format!("attachment; filename=\"{}.export.jsonl\"", gw.services.genesis.chain_id);
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson".to_string()), (header::CONTENT_DISPOSITION, file)], Body::from_stream(chunks)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_that_stops_taking_chunks_ends_the_export() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_time().build().unwrap();
        let (tx, rx) = mpsc::channel::<Chunk>(2);
        let mut writer = ChannelWriter { tx, runtime: runtime.handle().clone(), stall: Duration::from_millis(50) };
        // Two chunks fit in the channel; the third waits for a reader that never reads.
        assert!(writer.write(b"one").is_ok() && writer.write(b"two").is_ok());
        let started = std::time::Instant::now();
        let err = writer.write(b"three").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
        assert!(started.elapsed() >= Duration::from_millis(50));
        // A reader that went away ends it at once.
        drop(rx);
        assert_eq!(writer.write(b"four").unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
    }
}
