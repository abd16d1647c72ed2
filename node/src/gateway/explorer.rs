//! The explorer page at `GET /`: one self-contained HTML page (CSS and
//! JavaScript inlined, no framework, nothing fetched from outside the node)
//! for a bureau officer: chain status, validators and whether each is up,
//! recent blocks, a trace code search in any province's scheme drawn as a
//! graph with its enterprises, quantities and a CSV download, a transaction
//! view whose proof the browser itself verifies (SHA-256 and Ed25519 from
//! WebCrypto, the checks of docs/PROOFS.md), the alerts with their
//! disposal state, updated live from `GET /v1/alerts/stream`, and for
//! bureaus the statistics (`#statistics`, from `GET /v1/statistics…`).
//!
//! The page only reads the gateway's routes. As the public it sees what the
//! public may (contacts masked, and proofs that establish a transaction id
//! when the record is withheld); an officer who signs in with a key file
//! (`admin.key` from `coldchain testnet`, or a `coldchain keygen` file) has
//! every read signed in the browser (`x-coldchain-*` headers, see
//! `access.rs`) and sees what that bureau or enterprise may. The key is
//! imported into WebCrypto as not extractable and kept in the page's memory
//! only. The sources are in `explorer/` (index.html, explorer.css,
//! explorer.js) and are compiled in.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const HTML: &str = include_str!("explorer/index.html");
const CSS: &str = include_str!("explorer/explorer.css");
const JS: &str = include_str!("explorer/explorer.js");

/// The page with its stylesheet and script put in, and the
/// Content-Security-Policy that allows exactly that script and nothing from
/// elsewhere: data shown on the page (enterprise names, notes) comes from
/// signed records, and must never be able to run as code.
struct Page {
    html: String,
    csp: HeaderValue,
}

static PAGE: LazyLock<Page> = LazyLock::new(|| {
    let html = HTML.replacen("/*EXPLORER_CSS*/", CSS, 1).replacen("/*EXPLORER_JS*/", JS, 1);
    let script_hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(JS.as_bytes()));
    let csp = format!(
        "default-src 'none'; script-src 'sha256-{script_hash}'; style-src 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    // Base64 and ASCII only; were it not a header value, the page would
    // run nothing rather than anything.
    Page { html, csp: HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'none'")) }
});

/// `GET /`: the explorer page.
#[utoipa::path(
    get,
    path = "/",
    tags = ["bureaus", "auditors"],
    summary = "The explorer page",
    description = "One self-contained HTML page for officers: bureaus up or down, latest blocks, trace search with the custody graph, transactions with an in-browser proof check, live alerts, statistics for bureaus. Officers may sign in with their key file: the page then signs its reads (`x-coldchain-*` headers) and shows what their role may see. Nothing is fetched from outside the node.",
    responses((status = 200, description = "The page.", content_type = "text/html; charset=utf-8", body = String))
)]
pub async fn page() -> Response {
    let page = &*PAGE;
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CONTENT_SECURITY_POLICY, page.csp.clone()),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        page.html.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_holds_its_style_and_script_once_and_the_policy_allows_that_script() {
        let page = &*PAGE;
        assert!(!page.html.contains("/*EXPLORER_CSS*/") && !page.html.contains("/*EXPLORER_JS*/"));
        assert_eq!(page.html.matches("<script>").count(), 1);
        // The script is inlined byte for byte, so its hash in the policy matches.
        let start = page.html.find("<script>").unwrap() + "<script>".len();
        let end = page.html[start..].find("</script>").unwrap() + start;
        assert_eq!(&page.html[start..end], JS);
        assert!(!JS.contains("</script"), "the script must not close its own element");
        assert!(page.csp.to_str().unwrap().contains("script-src 'sha256-"));
        // Nothing loaded from outside the node: the machine may have no internet.
        for outside in ["http://", "https://", "//cdn"] {
            assert!(!HTML.contains(outside) && !CSS.contains(outside), "{outside} in the page");
        }
    }
}
