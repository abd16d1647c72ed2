//! `GET /v1/export`: the finalized chain as an export file
//! ([`crate::backup`]), streamed as it is read, for `coldchain export
//! --gateway`. Blocks finalized after the request started are not included.

use super::Gateway;
use crate::backup;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::io::Write;
use tokio::sync::mpsc;

type Chunk = Result<Vec<u8>, std::io::Error>;

/// Hands what the exporter writes to the response body; a client that went
/// away ends the export with a broken pipe.
struct ChannelWriter(mpsc::Sender<Chunk>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.blocking_send(Ok(buf.to_vec())).map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
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
    description = "JSON Lines (docs/OPERATIONS.md, `coldchain export --gateway`; `coldchain import` reads it), streamed as it is read; blocks finalized after the request started are not included. Not an envelope; a failure mid-way breaks the download.",
    responses((status = 200, description = "The export file.", content_type = "application/x-ndjson", body = String))
)]
pub async fn export(State(gw): State<Gateway>) -> Response {
    let (tx, rx) = mpsc::channel::<Chunk>(8);
    let store = gw.services.store.clone();
    let genesis = gw.services.genesis.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, ChannelWriter(tx.clone()));
        match backup::export(&store, &genesis, &mut out) {
            Ok(summary) => tracing::info!(blocks = summary.blocks, height = summary.height, "chain exported"),
            Err(e) => {
                tracing::warn!(error = %e, "export failed");
                // Ends the body with an error, so the client sees a broken
                // download rather than a short file.
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let chunks = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let file = format!("attachment; filename=\"{}.export.jsonl\"", gw.services.genesis.chain_id);
    ([(header::CONTENT_TYPE, "application/x-ndjson".to_string()), (header::CONTENT_DISPOSITION, file)], Body::from_stream(chunks)).into_response()
}
