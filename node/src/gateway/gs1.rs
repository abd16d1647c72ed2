//! A GS1 Digital Link resolver over the codes the chain knows (issue 20).
//!
//! `GET /01/{gtin}/10/{lot}` parses the URI with the chaincode's one GS1
//! parser (`coldchain_chaincode::gs1`: check digit, AI lengths and
//! characters), finds the scheme whose codes are that element string (a
//! province's GS1 scheme, e.g. Hebei's `HE-GS1`), and answers as a
//! GS1-conformant resolver: a redirect to the requested link type, or with
//! `linkType=all` (or `Accept: application/linkset+json`) the RFC 9264
//! linkset of the lot: this node's resolution and trace, the state proof,
//! and every province's resolver for its own code of the same goods.
//! `GET /.well-known/gs1resolver` describes the resolver.

use super::Gateway;
use super::envelope::{ApiError, ErrorCode};
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use coldchain_chaincode::gs1::{DigitalLink, ElementString, parse_digital_link, percent_encode};
use coldchain_chaincode::state::trace::Resolution;
use serde_json::{Value, json};

/// The media type of an RFC 9264 linkset in JSON.
pub const LINKSET: &str = "application/linkset+json";

const VOC: &str = "https://gs1.org/voc/";
/// The link relation of a state proof of the code's resolution: no GS1 link
/// type means it, so it is named by a URN of this project's.
const STATE_PROOF_REL: &str = "urn:coldchain:rel:state-proof";

/// `GET /.well-known/gs1resolver`: what this resolver serves.
#[utoipa::path(
    get,
    path = "/.well-known/gs1resolver",
    tags = ["GS1 Digital Link"],
    summary = "GS1 resolver description",
    description = "The GS1-conformant resolver description of this node: its name, root, the primary keys it resolves (AI 01 with the lot, AI 10, and the serial, AI 21; AI 00, the SSCC; AI 414, the GLN, with AI 254), the GS1 link types it serves and that its default answer can be a linkset. Not an envelope.",
    responses((status = 200, description = "The description (JSON).", body = Object))
)]
pub async fn description(State(gw): State<Gateway>, headers: HeaderMap) -> Response {
    let me = &gw.services.me;
    let name = format!("coldchain node {} ({})", me.name, me.province);
    let body = json!({
        "name": name,
        "resolverRoot": root(&headers),
        "supportedPrimaryKeys": ["01", "00", "414"],
        "supportedLinkType": [{"namespace": VOC, "prefix": "gs1:", "profile": format!("{VOC}?show=linktypes")}],
        "linkTypeDefaultCanBeLinkset": true,
        "chain_id": gw.services.genesis.chain_id,
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// `GET /01/{gtin}/10/{lot}`: a lot's code in GS1 Digital Link form.
#[utoipa::path(
    get,
    path = "/01/{gtin}/10/{lot}",
    tags = ["GS1 Digital Link"],
    summary = "Resolve a GS1 Digital Link",
    description = "A GS1 Digital Link URI of a lot (GTIN and lot, optionally `?17=YYMMDD` and other data attributes), checked by the GS1 rules (check digit, lengths, characters: 400 `bad_path` naming the AI and the rule). The code is looked up in every province's scheme whose codes are GS1 element strings. Without `linkType`, or with `linkType=gs1:defaultLink`: 307 to this node's resolution of the code (`/v1/codes/...`); `linkType=gs1:traceability`: 307 to its trace; `linkType=all` or `Accept: application/linkset+json`: 200 with the linkset (RFC 9264): this node's resolution, trace and state proof, and each province's resolver for its own code of the same goods. Unknown to every scheme: 404 `unknown_code`.",
    params(
        ("gtin" = String, Path, description = "GTIN-8, -12, -13 or -14 (padded to 14 digits)."),
        ("lot" = String, Path, description = "The batch/lot (AI 10), percent-encoded."),
        ("linkType" = Option<String>, Query, description = "`all`, `gs1:defaultLink` or `gs1:traceability`."),
    ),
    responses(
        (status = 200, description = "The linkset.", content((Object = "application/linkset+json"))),
        (status = 307, description = "To the requested link."),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
    )
)]
pub async fn resolve(gw: State<Gateway>, uri: OriginalUri, headers: HeaderMap) -> Result<Response, ApiError> {
    resolve_link(gw, uri, headers)
}

/// The other forms of a Digital Link a code on chain may take: each route
/// answers as [`resolve`] does, for the key and qualifiers in its path.
macro_rules! resolver_route {
    ($name:ident, $path:literal, $summary:literal, $what:literal, $(($param:literal, $about:literal)),+) => {
        #[doc = concat!("`GET ", $path, "`: ", $what, ".")]
        #[utoipa::path(
            get,
            path = $path,
            tags = ["GS1 Digital Link"],
            summary = $summary,
            description = concat!("A GS1 Digital Link URI of ", $what, ", checked and answered as `GET /01/{gtin}/10/{lot}` is: the element string is looked up in every province's scheme whose codes are GS1 element strings; a redirect, or with `linkType=all` (or `Accept: application/linkset+json`) the linkset of the lot the code names. Unknown to every scheme: 404 `unknown_code`."),
            params($(($param = String, Path, description = $about)),+,
                ("linkType" = Option<String>, Query, description = "`all`, `gs1:defaultLink` or `gs1:traceability`.")),
            responses(
                (status = 200, description = "The linkset.", content((Object = "application/linkset+json"))),
                (status = 307, description = "To the requested link."),
                (status = 400, response = super::openapi::BadRequest),
                (status = 404, response = super::openapi::NotFound),
            )
        )]
        pub async fn $name(gw: State<Gateway>, uri: OriginalUri, headers: HeaderMap) -> Result<Response, ApiError> {
            resolve_link(gw, uri, headers)
        }
    };
}

resolver_route!(
    resolve_serial,
    "/01/{gtin}/10/{lot}/21/{serial}",
    "Resolve a GS1 Digital Link of one piece",
    "one piece of a lot (GTIN, lot and serial number: a code per piece)",
    ("gtin", "GTIN-8, -12, -13 or -14 (padded to 14 digits)."),
    ("lot", "The batch/lot (AI 10), percent-encoded."),
    ("serial", "The serial number (AI 21), percent-encoded.")
);
resolver_route!(
    resolve_gtin_serial,
    "/01/{gtin}/21/{serial}",
    "Resolve a GS1 Digital Link of a serialised item",
    "a serialised item (GTIN and serial number)",
    ("gtin", "GTIN-8, -12, -13 or -14 (padded to 14 digits)."),
    ("serial", "The serial number (AI 21), percent-encoded.")
);
resolver_route!(
    resolve_sscc,
    "/00/{sscc}",
    "Resolve a GS1 Digital Link of a logistic unit",
    "a logistic unit (SSCC: a pallet or case coded as a whole)",
    ("sscc", "The SSCC, 18 digits with its check digit.")
);
resolver_route!(
    resolve_gln,
    "/414/{gln}",
    "Resolve a GS1 Digital Link of a location",
    "a physical location (GLN)",
    ("gln", "The GLN, 13 digits with its check digit.")
);
resolver_route!(
    resolve_gln_extension,
    "/414/{gln}/254/{extension}",
    "Resolve a GS1 Digital Link of a location with its extension",
    "a physical location (GLN) with its extension component (AI 254)",
    ("gln", "The GLN, 13 digits with its check digit."),
    ("extension", "The GLN extension component (AI 254), percent-encoded.")
);

fn resolve_link(State(gw): State<Gateway>, OriginalUri(uri): OriginalUri, headers: HeaderMap) -> Result<Response, ApiError> {
    let link = parse_digital_link(&uri.to_string()).map_err(|e| ApiError::field(ErrorCode::BadPath, "path", e.to_string()))?;
    let es = link.element_string();
    let resolution = {
        let state = gw.services.state.read().map_err(ApiError::internal)?;
        lookup(&state, es)
    };
    let Some(resolution) = resolution else {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            ..ApiError::field(ErrorCode::UnknownCode, "path", format!("{} is not a code of any GS1 scheme on chain", es.to_bracketed()))
        });
    };
    let own = own_links(&resolution);
    let anchor = DigitalLink::from_element_string(es).map(|l| l.to_uri("")).unwrap_or_else(|_| uri.path().to_string());
    let linkset_uri = format!("{anchor}?linkType=all");
    let wants_linkset =
        link.link_type() == Some("all") || headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains(LINKSET));
    if wants_linkset {
        let body = linkset(&anchor, &resolution, &own);
        return Ok((StatusCode::OK, [(header::CONTENT_TYPE, LINKSET)], body.to_string()).into_response());
    }
    let target = match link.link_type() {
        Some("gs1:traceability") => &own.trace,
        _ => &own.resolution,
    };
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(target) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("<{linkset_uri}>; rel=\"linkset\"; type=\"{LINKSET}\"")) {
        h.insert(header::LINK, v);
    }
    Ok(response)
}

/// The resolution of the element string in the first scheme that knows it,
/// as its codes are written there: the plain element string (as scanned),
/// or the bracketed form.
pub fn lookup(state: &coldchain_chaincode::State, es: &ElementString) -> Option<Resolution> {
    let candidates = [es.to_plain(), es.to_bracketed()];
    state.ledger().schemes().keys().find_map(|scheme| candidates.iter().find_map(|code| state.resolve_code(scheme, code).ok()))
}

/// This node's links for a resolved code.
pub struct OwnLinks {
    pub resolution: String,
    pub trace: String,
    pub proof: String,
}

fn own_links(r: &Resolution) -> OwnLinks {
    let q = query(&r.scheme, &r.code);
    OwnLinks {
        resolution: format!("/v1/codes/{}/{}", encode(&r.scheme), encode(&r.code)),
        trace: format!("/v1/trace?{q}"),
        proof: format!("/v1/state/proof?{q}"),
    }
}

/// The linkset (RFC 9264, JSON) of a resolved code: relative references
/// resolve against this node.
pub fn linkset(anchor: &str, r: &Resolution, own: &OwnLinks) -> Value {
    let product = &r.lot.product_name;
    let mut traceability = vec![json!({
        "href": own.trace,
        "title": format!("{product}: the lot's trace on this node (coldchain)"),
        "type": "application/json",
    })];
    // Every province's platform for its own code of the same goods.
    for c in &r.codes {
        traceability.push(json!({
            "href": c.resolver_url.replace("{code}", &encode(&c.code)),
            "title": format!("{product}: {} {} ({})", c.scheme, c.code, c.province),
            "hreflang": ["zh"],
        }));
    }
    json!({
        "linkset": [{
            "anchor": anchor,
            format!("{VOC}defaultLink"): [{"href": own.resolution, "title": format!("{product}: the lot and its codes in every province's scheme"), "type": "application/json"}],
            format!("{VOC}traceability"): traceability,
            STATE_PROOF_REL: [{"href": own.proof, "title": "A state proof of the code's resolution, verifiable offline against the genesis file (coldchain verify)", "type": "application/json"}],
        }]
    })
}

/// `scheme=S&code=C`, percent-encoded.
fn query(scheme: &str, code: &str) -> String {
    format!("scheme={}&code={}", encode(scheme), encode(code))
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    percent_encode(s, "")
}

/// `//host` of the request (a scheme-relative reference: the node may
/// answer over HTTP or HTTPS), or `/` without a Host header.
fn root(headers: &HeaderMap) -> String {
    headers.get(header::HOST).and_then(|h| h.to_str().ok()).map_or_else(|| "/".to_string(), |h| format!("//{h}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use coldchain_chaincode::gs1::parse_element_string;
    use coldchain_chaincode::scenario::{self, HEBEI_CODE};
    use coldchain_chaincode::testkit::Chain;

    #[test]
    fn a_hebei_gs1_code_resolves_to_every_provinces_code_of_the_lot() {
        let mut story = Chain::new();
        scenario::play(&mut story);
        let es = parse_element_string(HEBEI_CODE).unwrap();
        let r = lookup(&story.state, &es).expect("the demo's Hebei code is on chain");
        assert_eq!((r.scheme.as_str(), r.code.as_str()), ("HE-GS1", HEBEI_CODE));
        let own = own_links(&r);
        let set = linkset("/01/06901234001235/10/1BY9066", &r, &own);
        let links = &set["linkset"][0];
        assert_eq!(links["anchor"], "/01/06901234001235/10/1BY9066");
        assert_eq!(links[format!("{VOC}defaultLink")][0]["href"], format!("/v1/codes/HE-GS1/{HEBEI_CODE}"));
        let hrefs: Vec<&str> = links[format!("{VOC}traceability")].as_array().unwrap().iter().map(|l| l["href"].as_str().unwrap()).collect();
        assert_eq!(hrefs[0], format!("/v1/trace?scheme=HE-GS1&code={HEBEI_CODE}"));
        for c in &r.codes {
            assert!(hrefs.contains(&c.resolver_url.replace("{code}", &encode(&c.code)).as_str()), "{} missing: {hrefs:?}", c.scheme);
        }
        let provinces: std::collections::BTreeSet<&str> = r.codes.iter().map(|c| c.province.as_str()).collect();
        assert!(provinces.len() >= 3, "Hebei's code reaches Tianjin's and Beijing's: {provinces:?}");
        assert_eq!(links[STATE_PROOF_REL][0]["href"], format!("/v1/state/proof?scheme=HE-GS1&code={HEBEI_CODE}"));
        // Another lot of the same GTIN is no code on chain.
        let other = parse_element_string("(01)06901234001235(10)NOSUCHLOT").unwrap();
        assert!(lookup(&story.state, &other).is_none());
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query("HE-GS1", "(01)1&2"), "scheme=HE-GS1&code=%2801%291%262");
        assert_eq!(encode("批次 A"), "%E6%89%B9%E6%AC%A1%20A");
    }
}
