//! The gateway's OpenAPI 3 document, served at `GET /openapi.json`.
//!
//! It is generated from the code: each handler carries a `#[utoipa::path]`
//! attribute (method, path, parameters, request body, responses), the query
//! types derive `IntoParams`, and [`ApiDoc`] lists the handlers. The schemas
//! here describe what the handlers build as untyped JSON: the seed-004
//! envelope `{success, code, message, timestamp, result}` with each route's
//! `result`, and the error result `{error, field, rule}`.
//!
//! Which routes there are, who may call each and under which limits is
//! declared once, in `super::routes`; [`super::routes::document`] puts the
//! handlers' paths into [`ApiDoc`] with what that declaration implies.
//! `tests/openapi.rs` checks the served document against a running node.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::LazyLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse, ToSchema};

const DESCRIPTION: &str = "The HTTP gateway of a coldchain validator: the permissioned consortium chain on which the \
market-supervision bureaus of Beijing, Tianjin and Hebei and the national platform notarise and trace imported \
cold-chain food.\n\n\
Every JSON answer is the envelope of the Shenzhen interface standard (seed 004, DB4403/T §8.2): \
`{\"success\", \"code\", \"message\", \"timestamp\", \"result\"}`. `code` repeats the HTTP status \
(seed 004 annex A: 200, 401, 403, 404, 500, 503, 504; this gateway adds 202 for \"accepted, not finalized within the wait\", \
400 for a malformed request, 413 for a body over the limit, 422 for a record the chaincode refuses and 429 for a \
caller over the rate limit). \
An error's `result` is `{\"error\", \"field\", \"rule\"}`: a detail code, and where a field broke a rule, the field \
and the rule.\n\n\
Records are described in docs/RECORDS.md, the transaction and signed-request formats in docs/FORMATS.md, proofs \
in docs/PROOFS.md. Routes that answer files or streams (`/`, `/openapi.json`, `/v1/trace?format=csv|dot|svg`, \
`/v1/alerts/stream`, `/v1/images/{sha256}`, `/v1/export`, `/metrics`) are not enveloped.";

/// The OpenAPI document of the gateway.
#[derive(OpenApi)]
#[openapi(
    info(title = "coldchain gateway", version = env!("CARGO_PKG_VERSION"), description = DESCRIPTION),
    components(
        schemas(ErrorEnvelope, super::envelope::ErrorResult),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, RuleViolated, TooManyRequests, Internal, Unavailable, GatewayTimeout)
    ),
    modifiers(&Security),
    tags(
        (name = "enterprises", description = "Enterprises (or their trace systems) submitting signed records, in batches, or by app id with seed 004's signed-request headers."),
        (name = "bureaus", description = "Market-supervision bureaus: app ids, trace codes in any province's scheme, traces, alerts and notices."),
        (name = "auditors", description = "Anyone checking the chain: transactions, blocks, proof bundles verified offline, the state digest."),
        (name = "operators", description = "A bureau's node operators: status, liveness, readiness, metrics, export, this document."),
        (name = "national interface", description = "The national platform's report interfaces of seed 000 §2 (HTTP Basic)."),
        (name = "GS1 Digital Link", description = "A GS1-conformant resolver over every GS1 code on chain: `/01/{gtin}/10/{lot}` answers with a redirect or the lot's linkset (each province's resolver for its code of the same goods, the trace, the state proof)."),
    )
)]
pub struct ApiDoc;

/// Adds the two authentication schemes: seed 004's signed request
/// (`appid`, `timestamp`, `nonce`, `signature` headers) and HTTP Basic for
/// the national interface.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "signed_request",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "signature",
                "Seed 004 §8.1 table 1: the headers `appid`, `timestamp` (ms since the epoch, within ±300 s), `nonce` \
                 (10–64 of A–Z a–z 0–9 - _, once per app id) and `signature` = hex(HMAC-SHA256(the app secret's 64 characters as UTF-8, \
                 appid \"\\n\" timestamp \"\\n\" nonce \"\\n\" method \"\\n\" path and query as sent \"\\n\" hex(SHA-256(body as sent)))). \
                 See docs/FORMATS.md \"Signed requests\".",
            ))),
        );
        components.add_security_scheme(
            "signed_read",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-coldchain-signature",
                "A signed read (least privilege, seed 000 §三.(三)): the headers `x-coldchain-key` (hex ed25519 public key of a \
                 bureau admin, an enrolled enterprise or a registered auditor), `x-coldchain-timestamp` (ms, within ±300 s) and \
                 `x-coldchain-signature` = hex ed25519 over \"coldchain/read/v1\\n\" METHOD \"\\n\" PATH?QUERY \"\\n\" TIMESTAMP. \
                 Without it (or a seed 004 signed request) the caller is the public: contacts and phones masked, prices removed.",
            ))),
        );
        components.add_security_scheme(
            "national_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "`Authorization: Basic base64(clientId:secret)` of a report client a bureau registered on chain (`report_client`).",
                    ))
                    .build(),
            ),
        );
    }
}

/// `GET /openapi.json`: this document (JSON, not in the envelope).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tags = ["operators"],
    summary = "This OpenAPI 3 document",
    description = "The gateway's OpenAPI document, generated from the code. It is a document, not an envelope.",
    responses((status = 200, description = "The OpenAPI document.", content_type = "application/json", body = Object))
)]
pub async fn document() -> Response {
    static DOC: LazyLock<String> = LazyLock::new(|| {
        super::routes::document()
            .to_json()
            .unwrap_or_else(|e| serde_json::json!({"error": format!("the OpenAPI document does not serialize: {e}")}).to_string())
    });
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], DOC.as_str()).into_response()
}

// ---------------------------------------------------------------------------
// The envelope and the results of each route.

macro_rules! envelope {
    ($(#[doc = $doc:literal])* $name:ident => $($result:tt)+) => {
        $(#[doc = $doc])*
        #[derive(Serialize, ToSchema)]
        #[allow(dead_code)]
        pub struct $name {
            /// `true` for a 2xx answer.
            pub success: bool,
            /// The HTTP status code, repeated (seed 004 annex A).
            pub code: u16,
            /// What happened, for people; may be empty.
            pub message: String,
            /// When the node answered: RFC 3339, UTC, milliseconds.
            #[schema(format = DateTime, example = "2026-11-24T02:31:07.412Z")]
            pub timestamp: String,
            pub result: $($result)+,
        }
    };
}

envelope!(
    /// An error: `success` is false and `result` names the detail code and, where a field broke a rule, the field and the rule.
    ErrorEnvelope => super::envelope::ErrorResult
);

envelope!(
    /// `GET /v1/status`.
    StatusEnvelope => super::handlers::StatusResult
);
envelope!(
    /// One submission: pending, or finalized at a height.
    SubmitEnvelope => super::handlers::SubmitResult
);
envelope!(
    /// An EPCIS capture: the record each event became.
    CaptureEnvelope => super::epcis::CaptureResult
);
envelope!(
    /// A batch: one result per item.
    BatchEnvelope => super::handlers::BatchResult
);
envelope!(
    /// `GET /v1/tx/{id}`.
    TxEnvelope => super::handlers::TxResult
);
envelope!(
    /// `GET /v1/proofs/{id}`: the proof bundle (docs/PROOFS.md).
    ProofEnvelope => crate::proof::ProofBundle
);
envelope!(
    /// `GET /v1/blocks/{height}`.
    BlockEnvelope => super::handlers::BlockResult
);
envelope!(
    /// `POST /v1/apps`.
    AppEnvelope => super::apps::AppResult
);
envelope!(
    /// `GET /v1/codes/{scheme}/{code}`.
    ResolutionEnvelope => super::scope::ScopedResolution
);
envelope!(
    /// `GET /v1/trace` (format json): the custody graph as far as the caller may see it, or the consumer view.
    TraceEnvelope => super::scope::Scoped
);
envelope!(
    /// One alert with its affected set.
    AlertEnvelope => coldchain_chaincode::state::trace::AlertAnswer
);
envelope!(
    /// `GET /v1/dictionaries`.
    DictionariesEnvelope => Vec<super::dictionaries::DictionarySummary>
);
envelope!(
    /// `GET /v1/dictionaries/{name}`.
    DictionaryEnvelope => super::dictionaries::DictionaryView
);
envelope!(
    /// `GET /v1/search`.
    SearchEnvelope => super::search::SearchResult
);
envelope!(
    /// `GET /v1/lots/{quarantine_number}/{batch}`: the lot in seed 004 annex B's members.
    LotEnvelope => serde_json::Value
);
envelope!(
    /// `GET /v1/statistics`.
    StatisticsEnvelope => coldchain_chaincode::state::statistics::Statistics
);
envelope!(
    /// `GET /v1/statistics/reports`.
    ProvinceReportsEnvelope => coldchain_chaincode::state::statistics::ProvinceReports
);
envelope!(
    /// `GET /v1/statistics/unreported`.
    UnreportedEnvelope => coldchain_chaincode::state::statistics::Unreported
);
envelope!(
    /// `GET /v1/alerts`.
    AlertsEnvelope => Vec<coldchain_chaincode::state::trace::AlertView>
);
envelope!(
    /// `GET /v1/warnings`.
    WarningsEnvelope => Vec<coldchain_chaincode::state::warning::WarningView>
);
envelope!(
    /// `GET /v1/access-log`.
    AccessLogEnvelope => Vec<coldchain_chaincode::state::ledger::AccessLog>
);
envelope!(
    /// `GET /v1/notices`, newest first.
    NoticesEnvelope => Vec<coldchain_chaincode::state::ledger::Notice>
);
envelope!(
    /// `GET /v1/evidence`.
    EvidenceEnvelope => Vec<coldchain_chaincode::state::ledger::Evidence>
);
envelope!(
    /// `GET /v1/governance`.
    GovernanceEnvelope => Vec<super::governance::GovernanceView>
);
envelope!(
    /// `GET /v1/epochs`.
    EpochsEnvelope => Vec<super::epochs::EpochView>
);
envelope!(
    /// `GET /v1/state`.
    StateEnvelope => super::trace::StateResult
);
envelope!(
    /// `GET /v1/state/proof`.
    StateProofEnvelope => crate::state_proof::StateProofBundle
);
envelope!(
    /// A national report, registered on chain.
    ReportEnvelope => super::national::ReportResult
);
envelope!(
    /// `GET /healthz`: `result` is an empty object.
    HealthEnvelope => Empty
);
envelope!(
    /// `GET /readyz`, ready (200) or not (503).
    ReadyEnvelope => super::metrics::ReadyResult
);

/// Bytes of a file (an image, a PDF).
#[derive(Serialize, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(Vec<u8>);

/// An empty JSON object.
#[derive(Serialize, ToSchema)]
pub struct Empty {}

/// A 400 answer of a batch: the request itself was refused, or every item was.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)]
pub enum BatchRefused {
    Error(ErrorEnvelope),
    AllRefused(BatchEnvelope),
}

/// The 200 answer of `POST /v1/alerts`: the alert and its affected set, or
/// (if the alert cannot be read back) the plain submission result.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)]
pub enum AlertRaised {
    Alert(AlertEnvelope),
    Submitted(SubmitEnvelope),
}

/// The body of `POST /v1/records`: a signed transaction, or a bare record
/// with the signed-request headers.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code, clippy::large_enum_variant)]
pub enum RecordRequest {
    Signed(coldchain_chaincode::Transaction),
    Bare(coldchain_chaincode::canonical::CanonicalJson),
}

// ---------------------------------------------------------------------------
// Reusable error responses.

/// A malformed request, or a field that breaks a rule.
#[derive(ToResponse)]
#[response(
    description = "Malformed JSON, a bad query or path parameter, or a field that breaks a rule (`malformed_json`, `bad_query`, `bad_signature`, `unsupported_key_type`, `wrong_chain`, `invalid_transaction`, `invalid_image`, …).",
    example = json!(examples::error(400, "bad_signature", Some(("signature", "does not verify under signer.public_key over the transaction's signed bytes"))))
)]
#[allow(dead_code)]
pub struct BadRequest(ErrorEnvelope);

/// Missing or wrong credentials.
#[derive(ToResponse)]
#[response(
    description = "Missing or wrong credentials (seed 004 annex A 401): signed-request headers (`missing_header`, `bad_nonce`, `bad_timestamp`, `stale_timestamp`, `unknown_appid`, `revoked_appid`, `bad_signature`, `replayed_nonce`) or HTTP Basic (`unauthorized`).",
    example = json!(examples::error(401, "missing_header", Some(("appid", "is required: a signed request carries the headers appid, timestamp, nonce and signature (seed 004 table 1)"))))
)]
#[allow(dead_code)]
pub struct Unauthorized(ErrorEnvelope);

/// Refused to this caller at this node.
#[derive(ToResponse)]
#[response(
    description = "The server refuses the request (seed 004 annex A 403): `wrong_node`, the app id or admin key belongs to another bureau's node.",
    example = json!(examples::error(403, "wrong_node", Some(("appid", "app id bj-fengze-erp is served by the beijing node's gateway, which issued it"))))
)]
#[allow(dead_code)]
pub struct Forbidden(ErrorEnvelope);

/// Not found.
#[derive(ToResponse)]
#[response(
    description = "Not found (seed 004 annex A 404): an unknown route, transaction, block, code, scheme, alert or image.",
    example = json!(examples::error_message(404, "unknown_transaction", &format!("transaction {} is unknown to this node", examples::TX_ID)))
)]
#[allow(dead_code)]
pub struct NotFound(ErrorEnvelope);

/// The request conflicts with what the node already holds.
#[derive(ToResponse)]
#[response(
    description = "The request conflicts with what the node already holds: `already_submitted`, an `app_credential` transaction this node already has (its secret went once, to the request that submitted it).",
    example = json!(examples::error(409, "already_submitted", Some(("(body)", "transaction … is already held by this node; its secret was given once, to the request that submitted it. To replace a lost secret, revoke app id bj-fengze-erp and issue it again (`coldchain app rotate`)"))))
)]
#[allow(dead_code)]
pub struct Conflict(ErrorEnvelope);

/// The body is over the node's limit.
#[derive(ToResponse)]
#[response(
    description = "The request body exceeds `gateway.max_body_bytes` (`body_too_large`).",
    example = json!(examples::error_message(413, "body_too_large", "the request body exceeds the limit of 4194304 bytes"))
)]
#[allow(dead_code)]
pub struct PayloadTooLarge(ErrorEnvelope);

/// The chaincode refuses the record.
#[derive(ToResponse)]
#[response(
    description = "The chaincode refuses the record (`rule_violated`, with the field and the rule); nothing is stored.",
    example = json!(examples::error(422, "rule_violated", Some(("record.productLibraryId", "GS1 check digit is 2 but the mod-10 rule gives 5"))))
)]
#[allow(dead_code)]
pub struct RuleViolated(ErrorEnvelope);

/// Too many requests from this caller.
#[derive(ToResponse)]
#[response(
    description = "More requests from this caller (its IP address; an IPv6 client by its /64) than `gateway.rate_per_second` with burst `gateway.rate_burst` (`rate_limited`). Retry after `Retry-After` seconds. The probes `/healthz`, `/readyz` and `/metrics` are never limited.",
    headers(("Retry-After" = u64, description = "Seconds to wait before retrying.")),
    example = json!(examples::error_message(429, "rate_limited", "more than 200 requests per second (burst 400) from 203.0.113.7: `gateway.rate_per_second`; retry after 1 s"))
)]
#[allow(dead_code)]
pub struct TooManyRequests(ErrorEnvelope);

/// The node failed.
#[derive(ToResponse)]
#[response(description = "The node met an error (seed 004 annex A 500): storage, or a task that failed (`internal`).", example = json!(examples::error_message(500, "internal", "indexed transaction missing")))]
#[allow(dead_code)]
pub struct Internal(ErrorEnvelope);

/// Overloaded or shutting down.
#[derive(ToResponse)]
#[response(
    description = "Overloaded or stopping (seed 004 annex A 503): mempool full or too many submissions in flight (`overloaded`), or `shutting_down`. Retry later.",
    example = json!(examples::error_message(503, "overloaded", "too many submissions in flight; retry later"))
)]
#[allow(dead_code)]
pub struct Unavailable(ErrorEnvelope);

/// No answer in time.
#[derive(ToResponse)]
#[response(
    description = "No answer within `gateway.request_timeout_ms` (seed 004 annex A 504, `timeout`). A submission may still be finalized: look it up by its id (`GET /v1/tx/{id}`) before sending it again.",
    example = json!(examples::error_message(504, "timeout", "no answer within 60000 ms (`gateway.request_timeout_ms`); retry later"))
)]
#[allow(dead_code)]
pub struct GatewayTimeout(ErrorEnvelope);

// ---------------------------------------------------------------------------
// Examples, from seed 004 annex B where they apply.

pub mod examples {
    use serde_json::{Value, json};

    pub const CHAIN_ID: &str = "coldchain-jjj-example";
    pub const TX_ID: &str = "3f1c9a4e7b2d8f60a5c4e3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918f7e6";
    const PUBLIC_KEY: &str = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";
    const SIGNATURE: &str =
        "b128759b22ed106b6084914e082fca0cbe1977960c9ecad7d50d5e16d217e1ec23e2df08d29550254fb18d4c75e705cb6acdf4729aa2806604d6d7ac2340ce00";
    /// A 1×1 PNG: stands for annex B's `data:image/jpg;Base64+Base64转换码` placeholders.
    pub const PNG: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

    /// Seed 004 annex B's example (the product batch interface) as a
    /// `product_batch` record. Changed from the annex, which is not valid
    /// JSON and fails two rules: the GTIN's check digit is fixed
    /// (17896448006462 fails the GS1 mod-10 check, which gives 5, so
    /// `productLibraryId` and the two trace codes that embed the GTIN use
    /// 17896448006465); `numberOfPieces` (required; 900 cases of 15 kg =
    /// 13 500 kg) is added; `StorageName`'s value is quoted; the missing and
    /// trailing commas are fixed; the image placeholders are a real (tiny)
    /// Base64 image; the nucleic-acid image, named `Disinfectimg` in the
    /// annex, is `naImg`.
    pub fn annex_b_record() -> Value {
        json!({
            "type": "product_batch",
            "productLibraryId": "17896448006465",
            "productName": "冷冻鸡两节翅",
            "containerNo": "MNBU3167382",
            "parentTraceCode": "0117896448006465101138885683196",
            "traceCode": "0117896448006465101138896901150",
            "batch": "L1",
            "numberOfPieces": 900,
            "weight": 13500.00,
            "productionDate": "2021-02-08",
            "inventory": 501,
            "inventoryWeight": 7515.00,
            "StorageName": "深圳市龙岗区同城食品配送行",
            "quarantineInfo": {
                "batch": "BY9066",
                "consignee": "深圳业俊贸易有限公司",
                "consignor": "COOPAVEL COOPERATTVA AGROINDUSTRIAL",
                "dateOfentry": "2021-07-16",
                "portOfEntry": "盐田",
                "quarantineNumber": "531620211160071009001",
                "Quarantineimg": PNG
            },
            "customsInfo": {
                "consumerEnterprises": "深圳市业俊贸易有限公司",
                "customsNo": "531620211160071009",
                "waybillNumber": "608370090",
                "Consumerimg": PNG
            },
            "disinfectInfo": {
                "disinfectDate": "2021-07-18",
                "placeOfDisinfection": "CustomsPort",
                "disinfectNumber": "HL20210718YL1",
                "disinfectState": 1,
                "Disinfectimg": PNG
            },
            "nucleicInfo": {
                "naResult": "阴性",
                "naDate": "2021-07-18",
                "naUnit": "广州市赛泰特医学检验实验室",
                "verifyMode": "SelfCheck",
                "naImg": PNG
            }
        })
    }

    /// A signed transaction around `record` (the key and signature are
    /// illustrative: `coldchain submit` signs; docs/FORMATS.md).
    pub fn signed(record: Value, nonce: u64) -> Value {
        json!({
            "chain_id": CHAIN_ID,
            "nonce": nonce,
            "record": record,
            "signer": {"algorithm": "ed25519", "public_key": PUBLIC_KEY},
            "signature": SIGNATURE
        })
    }

    pub fn annex_b_signed() -> Value {
        signed(annex_b_record(), 1)
    }

    /// Annex B's record with the GTIN as published (17896448006462): the chain refuses it.
    pub fn annex_b_as_published() -> Value {
        let mut r = annex_b_record();
        r["productLibraryId"] = json!("17896448006462");
        r["parentTraceCode"] = json!("0117896448006462101138885683196");
        r["traceCode"] = json!("0117896448006462101138896901150");
        signed(r, 2)
    }

    pub fn notarise() -> Value {
        signed(json!({"type": "notarise", "document": {"batch": "L1", "quarantineNumber": "531620211160071009001"}}), 3)
    }

    pub fn batch() -> Value {
        json!([annex_b_signed(), notarise()])
    }

    pub fn app_credential() -> Value {
        signed(json!({"type": "app_credential", "appid": "bj-fengze-erp", "unifSociCredCode": "91110106MA01QF8J7U"}), 4)
    }

    pub fn alert() -> Value {
        signed(
            json!({"type": "alert", "scheme": "BJ-ZS", "code": "BJ110105000000000B7",
                   "reason": "packaging positive for SARS-CoV-2 RNA", "testedAt": "2026-11-23", "lab": "北京市疾控中心"}),
            5,
        )
    }

    /// The body of `certification.register` (seed 000; the interface sets `type` and `clientId`).
    pub fn certificate_report() -> Value {
        json!({"quarantineNumber": "020220261102000458001", "productionBatch": "BY9066", "portOfEntry": "0202",
               "dateOfEntry": "2026-11-02", "country": "BR", "declaredWeight": 13500,
               "consignor": "COOPAVEL COOPERATIVA AGROINDUSTRIAL", "consignee": "唐山冀港进口贸易有限公司",
               "specification": "15kg/箱", "productBigClass": "冷链禽肉", "hsCode": "020714", "sourceType": "一般贸易"})
    }

    /// The body of `statistical.info.register`.
    pub fn flow_report() -> Value {
        json!({"productionBatch": "BY9066", "quarantineNumber": "020220261102000458001", "productName": "巴西冷冻鸡两节翅",
               "actualWeight": 4500, "direction": "in", "counterpartType": "province", "counterpart": "河北省"})
    }

    pub fn envelope(code: u16, message: &str, result: Value) -> Value {
        json!({"success": (200..300).contains(&code), "code": code, "message": message,
               "timestamp": "2026-11-24T02:31:07.412Z", "result": result})
    }

    pub fn error(code: u16, error: &str, field_rule: Option<(&str, &str)>) -> Value {
        match field_rule {
            Some((field, rule)) => envelope(code, &format!("field `{field}`: {rule}"), json!({"error": error, "field": field, "rule": rule})),
            None => envelope(code, error, json!({"error": error})),
        }
    }

    /// An error without a field, with the message the node gives.
    pub fn error_message(code: u16, error: &str, message: &str) -> Value {
        envelope(code, message, json!({"error": error}))
    }

    pub fn accepted() -> Value {
        envelope(200, "accepted", json!({"tx_id": TX_ID, "state": "pending"}))
    }

    pub fn finalized() -> Value {
        envelope(200, "finalized", json!({"tx_id": TX_ID, "state": "finalized", "height": 1204}))
    }

    pub fn not_yet() -> Value {
        envelope(202, "accepted; not finalized within 10000 ms", json!({"tx_id": TX_ID, "state": "pending"}))
    }

    pub fn batch_answer() -> Value {
        envelope(
            200,
            "1 of 2 refused; see each result's field and rule",
            json!({"results": [
                {"index": 0, "tx_id": TX_ID, "state": "pending"},
                {"index": 1, "state": "refused", "error": "bad_signature", "field": "signature",
                 "rule": "does not verify under signer.public_key over the transaction's signed bytes"}
            ]}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeSet;

    fn document() -> Value {
        serde_json::to_value(super::super::routes::document()).unwrap()
    }

    #[test]
    fn openapi_document_is_structurally_sound() {
        let doc = document();
        if let Ok(path) = std::env::var("OPENAPI_DUMP") {
            std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        }
        // The structural rules ($refs resolve, responses, tags, parameters) are
        // checked on the served document by tests/openapi.rs.
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        let tags: BTreeSet<&str> = doc["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        for audience in ["enterprises", "bureaus", "auditors", "operators", "national interface"] {
            assert!(tags.contains(audience), "tag {audience}");
        }
        let examples = &doc["paths"]["/v1/records"]["post"]["requestBody"]["content"]["application/json"]["examples"];
        assert_eq!(examples["annex_b_product_batch"]["value"]["record"]["productLibraryId"], "17896448006465");
    }

    /// The annex B example applies on a chain that holds the records of
    /// docs/RECORDS.md before its `product_batch` section (bureaus, schemes,
    /// enterprises, products), signed by the Hebei importer; with the GTIN
    /// as the annex publishes it, the chain refuses it as the examples say.
    #[test]
    fn openapi_annex_b_example_applies_and_the_published_gtin_is_refused() {
        use coldchain_chaincode::testkit::{self, Chain};
        use coldchain_chaincode::{Outcome, images};
        let doc = include_str!("../../../docs/RECORDS.md");
        let doc = &doc[..doc.find("\n## product_batch").expect("a product_batch section")];
        let mut chain = Chain::new();
        let mut signer = None;
        let mut lines = doc.lines();
        while let Some(line) = lines.next() {
            if let Some(list) = line.trim().strip_prefix("<!-- signer:").and_then(|r| r.strip_suffix("-->")) {
                signer = Some(list.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>());
            } else if line.trim() == "```json" {
                let text: String = lines.by_ref().take_while(|l| l.trim() != "```").map(|l| format!("{l}\n")).collect();
                let record: Value = serde_json::from_str(&text).expect("a JSON record");
                for who in signer.take().expect("a signer comment") {
                    let key = match who.split_once(':') {
                        Some(("admin", b)) => testkit::admin_key(b),
                        Some(("validator", b)) => testkit::validator_key(b),
                        Some(("enterprise", l)) => testkit::key(l),
                        _ => panic!("signer {who}"),
                    };
                    let receipt = chain.submit(&key, record.clone());
                    assert_eq!(receipt.outcome, Outcome::Applied, "docs/RECORDS.md record {} by {who}", record["type"]);
                }
            }
        }
        let importer = testkit::key("hebei-importer");
        let mut published = examples::annex_b_as_published()["record"].clone();
        images::extract(&mut published).unwrap();
        match chain.submit(&importer, published).outcome {
            Outcome::Rejected { field, rule } => {
                assert_eq!(field, "record.productLibraryId");
                assert!(rule.contains("mod-10 rule gives 5"), "{rule}");
            }
            Outcome::Applied => panic!("annex B's published GTIN was accepted"),
        }
        let mut record = examples::annex_b_record();
        assert_eq!(images::extract(&mut record).unwrap().len(), 4, "the example's four images are Base64");
        let receipt = chain.submit(&importer, record);
        assert_eq!(receipt.outcome, Outcome::Applied, "the annex B example as documented");
    }
}
