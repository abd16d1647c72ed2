//! Every route of the gateway, declared once, in [`declared`]: its handler,
//! whose `#[utoipa::path]` gives the method, the path, the parameters, the
//! request and the answers; who may call it ([`Who`]); and which limits
//! hold ([`Limit`]). From that one list come:
//!
//! - the router ([`router`]);
//! - each request's admission: its limits (rate, declared body size,
//!   timeout; [`super::limits::enforce`]), then who is asking and whether
//!   they may ([`admit`]), before the handler, which takes the [`Caller`] as
//!   an extractor;
//! - the OpenAPI document ([`document`]): the handlers' paths, with the
//!   security, the 401/403 answers and the limits' 429/503/504 that [`Who`] and
//!   [`Limit`] imply, and `x-coldchain-who`.
//!
//! The table of routes for people is `GET /openapi.json`, or docs/OPERATIONS.md.

use super::access::{self, Caller};
use super::envelope::{ApiError, ErrorCode};
use super::{
    Gateway, apps, dictionaries, epcis, epochs, explorer, export, governance, gs1, handlers, lots, metrics, national, openapi, search, state_proof,
    statistics, templates, trace, warnings,
};
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{Operation, Paths};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{OpenApi, Ref, RefOr};
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

/// Who may call a route. [`admit`] enforces it before the handler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// Anyone; the answer is the same for everyone and credentials are not read.
    Anyone,
    /// Anyone; a signed read (`x-coldchain-*`) or a seed 004 signed request
    /// (`appid`…), when sent, names the caller, and what is shown depends on
    /// who it is (docs/SECURITY.md "Who sees what"). Wrong credentials: 401.
    AnyoneScoped,
    /// A bureau's signed read with its admin key. No credentials: 401; any
    /// other caller: 403.
    Bureaus,
    /// A bureau's or a registered auditor's signed read. No credentials:
    /// 401; an enterprise: 403.
    BureausAndAuditors,
    /// Anyone may post; each transaction in the body carries its signer's
    /// signature, and the chaincode's rules decide what that signer may
    /// record (an alert or an app id only a bureau).
    Signers,
    /// As [`Who::Signers`], or a bare record with seed 004's signed-request
    /// headers of an app id a bureau issued.
    SignersOrApps,
    /// An app id by seed 004's signed request only (the node signs what the
    /// request carries for the app id's enterprise: an EPCIS capture).
    Apps,
    /// A report client a bureau registered, by HTTP Basic (the national interface).
    ReportClients,
}

impl Who {
    /// The `x-coldchain-who` of the OpenAPI document.
    pub fn label(self) -> &'static str {
        match self {
            Who::Anyone => "anyone",
            Who::AnyoneScoped => "anyone; what is shown depends on the caller",
            Who::Bureaus => "bureaus",
            Who::BureausAndAuditors => "bureaus and auditors",
            Who::Signers => "the signer of each transaction, as the chaincode's rules allow",
            Who::SignersOrApps => "the signer of the transaction, or an app id by seed 004's signed request",
            Who::Apps => "an app id, by seed 004's signed request",
            Who::ReportClients => "report clients (HTTP Basic)",
        }
    }

    /// The security requirements of the OpenAPI document (`{}`: none needed).
    fn security(self) -> Vec<SecurityRequirement> {
        let none = SecurityRequirement::default;
        let scheme = |name: &str| SecurityRequirement::new(name, Vec::<String>::new());
        match self {
            Who::Anyone | Who::Signers => vec![],
            Who::AnyoneScoped => vec![none(), scheme("signed_read"), scheme("signed_request")],
            Who::Bureaus | Who::BureausAndAuditors => vec![scheme("signed_read")],
            Who::SignersOrApps => vec![none(), scheme("signed_request")],
            Who::Apps => vec![scheme("signed_request")],
            Who::ReportClients => vec![scheme("national_basic")],
        }
    }

    /// Whether a caller may be refused for bad credentials (401) and for who it is (403).
    fn refusals(self) -> (bool, bool) {
        match self {
            Who::Anyone | Who::Signers => (false, false),
            Who::AnyoneScoped | Who::SignersOrApps | Who::Apps | Who::ReportClients => (true, false),
            Who::Bureaus | Who::BureausAndAuditors => (true, true),
        }
    }
}

/// The limits a route is under ([`super::limits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Rate limited, and answered within `gateway.request_timeout_ms`.
    Request,
    /// A long-lived stream: rate limited, no request timeout.
    Stream,
    /// An operator's probe: never rate limited.
    Probe,
}

impl Limit {
    pub fn rate_limited(self) -> bool {
        self != Limit::Probe
    }

    pub fn timed(self) -> bool {
        self != Limit::Stream
    }
}

/// One route: one handler, one method, one path.
pub struct Route {
    pub method: axum::http::Method,
    pub path: String,
    pub who: Who,
    pub limit: Limit,
    handler: MethodRouter<Gateway>,
    paths: Paths,
    schemas: Vec<(String, RefOr<utoipa::openapi::schema::Schema>)>,
}

fn declare(who: Who, limit: Limit, (schemas, paths, handler): UtoipaMethodRouter<Gateway>) -> Route {
    // `routes!` of one handler gives one path with one operation.
    let (path, method) = paths
        .paths
        .iter()
        .find_map(|(path, item)| {
            let methods = [
                (&item.get, axum::http::Method::GET),
                (&item.post, axum::http::Method::POST),
                (&item.put, axum::http::Method::PUT),
                (&item.delete, axum::http::Method::DELETE),
                (&item.patch, axum::http::Method::PATCH),
            ];
            methods.into_iter().find_map(|(op, m)| op.as_ref().map(|_| (path.clone(), m)))
        })
        .unwrap_or_else(|| ("/".into(), axum::http::Method::GET));
    Route { method, path, who, limit, handler, paths, schemas }
}

/// Every route of the gateway.
pub fn declared() -> Vec<Route> {
    use Limit::*;
    use Who::*;
    vec![
        declare(Anyone, Request, routes!(explorer::page)),
        declare(Anyone, Request, routes!(openapi::document)),
        declare(AnyoneScoped, Request, routes!(handlers::status)),
        declare(Signers, Request, routes!(handlers::submit_one)),
        declare(Signers, Request, routes!(handlers::submit_batch)),
        declare(AnyoneScoped, Request, routes!(handlers::transaction)),
        declare(AnyoneScoped, Request, routes!(handlers::proof)),
        declare(Anyone, Request, routes!(handlers::block)),
        declare(Anyone, Request, routes!(handlers::evidence)),
        declare(Anyone, Request, routes!(governance::list)),
        declare(Anyone, Request, routes!(epochs::list_epochs)),
        declare(SignersOrApps, Request, routes!(apps::submit_record)),
        declare(SignersOrApps, Request, routes!(apps::submit_records_batch)),
        declare(Apps, Request, routes!(epcis::capture)),
        declare(Signers, Request, routes!(apps::issue)),
        declare(AnyoneScoped, Request, routes!(trace::code)),
        declare(AnyoneScoped, Request, routes!(trace::trace)),
        declare(Signers, Request, routes!(trace::raise_alert)),
        declare(Bureaus, Request, routes!(trace::alerts)),
        declare(Bureaus, Request, routes!(search::search)),
        declare(AnyoneScoped, Request, routes!(lots::lot)),
        declare(Bureaus, Request, routes!(statistics::statistics)),
        declare(Bureaus, Request, routes!(statistics::reports)),
        declare(Bureaus, Request, routes!(statistics::unreported)),
        declare(Anyone, Request, routes!(gs1::description)),
        declare(Anyone, Request, routes!(gs1::resolve)),
        declare(Anyone, Request, routes!(gs1::resolve_serial)),
        declare(Anyone, Request, routes!(gs1::resolve_gtin_serial)),
        declare(Anyone, Request, routes!(gs1::resolve_sscc)),
        declare(Anyone, Request, routes!(gs1::resolve_gln)),
        declare(Anyone, Request, routes!(gs1::resolve_gln_extension)),
        declare(Anyone, Request, routes!(dictionaries::dictionaries)),
        declare(Anyone, Request, routes!(dictionaries::dictionary)),
        declare(Anyone, Request, routes!(templates::template)),
        declare(Bureaus, Request, routes!(trace::alert)),
        declare(Bureaus, Request, routes!(warnings::warnings)),
        declare(Bureaus, Stream, routes!(trace::alert_stream)),
        declare(Anyone, Request, routes!(trace::notices)),
        declare(BureausAndAuditors, Request, routes!(trace::access_log)),
        declare(AnyoneScoped, Request, routes!(trace::image)),
        declare(Anyone, Request, routes!(trace::state)),
        declare(AnyoneScoped, Request, routes!(state_proof::state_proof)),
        declare(Bureaus, Stream, routes!(export::export)),
        declare(ReportClients, Request, routes!(national::certification_register)),
        declare(ReportClients, Request, routes!(national::statistical_info_register)),
        declare(Anyone, Probe, routes!(handlers::healthz)),
        declare(Anyone, Probe, routes!(metrics::readyz)),
        declare(Anyone, Probe, routes!(metrics::metrics)),
    ]
}

/// The router of every declared route, each behind its limits and its
/// admission; anything else is 404 (under the limits of a request) or 405.
pub fn router(gw: Gateway) -> Router<Gateway> {
    use axum::handler::Handler;
    let mut router = Router::new();
    for route in declared() {
        let handler = route
            .handler
            .route_layer(from_fn_with_state((gw.clone(), route.who), admit))
            .layer(from_fn_with_state(route.limit, super::limits::enforce));
        router = router.route(&route.path, handler);
    }
    router
        .fallback(handlers::no_route.layer(from_fn_with_state(Limit::Request, super::limits::enforce)))
        .method_not_allowed_fallback(handlers::wrong_method)
}

/// The admission of a request: who is asking, by the route's [`Who`]; the
/// [`Caller`] is left in the request for the handler.
pub async fn admit(State((gw, who)): State<(Gateway, Who)>, mut request: Request, next: Next) -> Response {
    // The handler authenticates a signed request itself: the signature covers the body.
    if matches!(who, Who::Anyone | Who::Signers | Who::SignersOrApps | Who::Apps | Who::ReportClients) {
        return next.run(request).await;
    }
    let caller = match access::caller(&gw, request.method(), request.uri(), request.headers()) {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = allowed(who, &caller, request.method(), request.uri().path()) {
        return e.into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Whether `caller` may call a route for `who`: 401 when credentials are
/// needed and none were sent, 403 when they name someone else.
fn allowed(who: Who, caller: &Caller, method: &axum::http::Method, path: &str) -> Result<(), ApiError> {
    let ok = match who {
        Who::Bureaus => matches!(caller, Caller::Bureau { .. }),
        Who::BureausAndAuditors => matches!(caller, Caller::Bureau { .. } | Caller::Auditor { .. }),
        _ => true,
    };
    if ok {
        return Ok(());
    }
    let rule = format!(
        "{method} {path} is for {}: a signed read (x-coldchain-* headers, docs/FORMATS.md) with {}; this request is from {}",
        who.label(),
        if who == Who::Bureaus { "a bureau's admin key" } else { "a bureau's admin key or a registered auditor's key" },
        caller.label()
    );
    let (status, code) =
        if *caller == Caller::Public { (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized) } else { (StatusCode::FORBIDDEN, ErrorCode::Forbidden) };
    Err(ApiError { status, ..ApiError::field(code, "x-coldchain-key", rule) })
}

/// The caller, as the route's admission found it.
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::internal("this route's declaration does not name its caller (gateway/routes.rs)"))
    }
}

/// The OpenAPI document: [`openapi::ApiDoc`]'s description and components,
/// with every declared route's path, and what its [`Who`] and [`Limit`] imply.
pub fn document() -> OpenApi {
    let mut doc = <openapi::ApiDoc as utoipa::OpenApi>::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    for route in declared() {
        for (name, schema) in route.schemas {
            components.schemas.entry(name).or_insert(schema);
        }
        let mut paths = route.paths;
        for item in paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch];
            for op in operations.into_iter().flatten() {
                describe(op, route.who, route.limit);
            }
        }
        doc.paths.merge(paths);
    }
    doc
}

/// What `who` and `limit` add to an operation.
fn describe(op: &mut Operation, who: Who, limit: Limit) {
    let security = who.security();
    op.security = (!security.is_empty()).then_some(security);
    let mut extensions = op.extensions.take().unwrap_or_default();
    extensions.merge(ExtensionsBuilder::new().add("x-coldchain-who", who.label()).build());
    op.extensions = Some(extensions);
    let responses = &mut op.responses.responses;
    let mut add = |status: &str, name: &str| {
        responses.entry(status.into()).or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    };
    let (unauthorized, forbidden) = who.refusals();
    if unauthorized {
        add("401", "Unauthorized");
    }
    if forbidden {
        add("403", "Forbidden");
    }
    if limit.rate_limited() {
        add("429", "TooManyRequests");
    }
    if limit.timed() {
        add("503", "Unavailable");
        add("504", "GatewayTimeout");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn each_route_is_declared_once_with_one_method() {
        let routes = declared();
        let mut seen = BTreeSet::new();
        for r in &routes {
            let operations: usize =
                r.paths.paths.values().map(|i| [&i.get, &i.post, &i.put, &i.delete, &i.patch].iter().filter(|o| o.is_some()).count()).sum();
            assert_eq!((r.paths.paths.len(), operations), (1, 1), "{} {}: one handler, one path, one method", r.method, r.path);
            assert!(seen.insert((r.method.to_string(), r.path.clone())), "{} {} is declared twice", r.method, r.path);
        }
        assert_eq!(routes.len(), 48);
    }

    #[test]
    fn the_document_says_who_may_call_each_route_and_its_limits() {
        let doc = serde_json::to_value(document()).unwrap();
        for r in declared() {
            let op = &doc["paths"][&r.path][r.method.as_str().to_lowercase()];
            assert_eq!(op["x-coldchain-who"], r.who.label(), "{} {}", r.method, r.path);
            let has = |s: &str| op["responses"].get(s).is_some();
            assert_eq!(has("429"), r.limit != Limit::Probe, "{} {} 429", r.method, r.path);
            if matches!(r.who, Who::Bureaus | Who::BureausAndAuditors) {
                assert!(has("401") && has("403"), "{} {}: 401 and 403", r.method, r.path);
                assert_eq!(op["security"], serde_json::json!([{"signed_read": []}]), "{} {}", r.method, r.path);
            }
        }
    }

    #[test]
    fn a_bureaus_route_refuses_the_public_with_401_and_others_with_403() {
        let path = "/v1/alerts";
        let get = axum::http::Method::GET;
        let public = allowed(Who::Bureaus, &Caller::Public, &get, path).unwrap_err();
        assert_eq!(
            (public.status, public.error, public.field.as_deref()),
            (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, Some("x-coldchain-key"))
        );
        let enterprise = allowed(Who::Bureaus, &Caller::Enterprise { uscc: "x".into() }, &get, path).unwrap_err();
        assert_eq!((enterprise.status, enterprise.error), (StatusCode::FORBIDDEN, ErrorCode::Forbidden));
        let auditor = Caller::Auditor { name: "a".into(), province: "110000".into() };
        assert!(allowed(Who::Bureaus, &auditor, &get, path).is_err());
        assert!(allowed(Who::BureausAndAuditors, &auditor, &get, path).is_ok());
        assert!(allowed(Who::Bureaus, &Caller::Bureau { province: "110000".into() }, &get, path).is_ok());
        assert!(allowed(Who::AnyoneScoped, &Caller::Public, &get, path).is_ok());
    }
}
