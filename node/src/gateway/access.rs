//! Least privilege (seed 000 §三.(三): necessity, need-time, minimum):
//! who is asking, and what of an enterprise's data they may see.
//!
//! | caller | how it proves it | sees in full |
//! |---|---|---|
//! | public | nothing | nothing: contacts and phones masked (`张**`, `138****0588`), prices removed |
//! | enterprise | its key (signed read) or its app id (seed 004 headers) | its own data |
//! | bureau | its admin key (signed read) | its province's enterprises; other provinces' only inside an open alert's trace, and every such read is recorded on chain (`access_log`) |
//! | auditor | a key a bureau registered (`auditor`) | proofs and hashes of any record; data masked as for the public |
//!
//! A signed read carries `x-coldchain-key` (hex ed25519 public key),
//! `x-coldchain-timestamp` (ms, within ±300 s of the node's clock),
//! `x-coldchain-nonce` (10–64 of `A–Z a–z 0–9 - _`, accepted once per key)
//! and `x-coldchain-signature`: hex ed25519 over
//! `"coldchain/read/v2\n" METHOD "\n" PATH?QUERY "\n" TIMESTAMP "\n" NONCE "\n" NODE`,
//! NODE being the hex public key of the validator whose gateway is asked
//! (`/v1/status` `validator.public_key`): a captured read is worth nothing
//! a second time, or at another node.

use super::Gateway;
use super::apps::WINDOW_MS;
use super::envelope::{ApiError, ErrorCode};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use coldchain_chaincode::state::ledger::{ALERTS, APP_CREDENTIALS, AUDITORS, AlertState};
use coldchain_chaincode::state::trace::{AlertAnswer, Trace};
use coldchain_chaincode::{State, TxId};
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};

#[derive(Clone, Debug, PartialEq)]
pub enum Caller {
    Public,
    Enterprise { uscc: String },
    Bureau { province: String },
    Auditor { name: String, province: String },
}

impl Caller {
    pub fn label(&self) -> String {
        match self {
            Caller::Public => "public".into(),
            Caller::Enterprise { uscc } => format!("enterprise {uscc}"),
            Caller::Bureau { province } => format!("bureau {province}"),
            Caller::Auditor { name, .. } => format!("auditor {name}"),
        }
    }
}

/// The bytes a signed read signs.
pub fn read_message(method: &str, path_and_query: &str, timestamp: &str, nonce: &str, node: &str) -> String {
    format!("coldchain/read/v2\n{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{node}")
}

/// A nonce is 10–64 of `A–Z a–z 0–9 - _` (seed 004: at least 10 characters).
pub fn valid_nonce(nonce: &str) -> bool {
    (10..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn unauthorized(error: ErrorCode, field: &str, rule: impl Into<String>) -> ApiError {
    ApiError { status: StatusCode::UNAUTHORIZED, ..ApiError::field(error, field, rule) }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .ok_or_else(|| {
            unauthorized(
                ErrorCode::MissingHeader,
                name,
                "is required with x-coldchain-key: a signed read carries key, timestamp, nonce and signature",
            )
        })?
        .to_str()
        .map_err(|_| unauthorized(ErrorCode::BadHeader, name, "must be ASCII text"))
}

/// Who is asking: from a signed read, an app id's signed request, or nobody.
/// Credentials that are present but wrong are refused, never taken as public.
pub fn caller(gw: &Gateway, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<Caller, ApiError> {
    if headers.contains_key("appid") {
        let uscc = super::apps::authenticate(gw, method, uri, headers, b"")?.2;
        return Ok(Caller::Enterprise { uscc });
    }
    let Some(key) = headers.get("x-coldchain-key") else { return Ok(Caller::Public) };
    let key = key.to_str().map_err(|_| unauthorized(ErrorCode::BadHeader, "x-coldchain-key", "must be ASCII text"))?;
    let timestamp = header(headers, "x-coldchain-timestamp")?;
    let nonce = header(headers, "x-coldchain-nonce")?;
    let signature = header(headers, "x-coldchain-signature")?;
    if !valid_nonce(nonce) {
        return Err(unauthorized(ErrorCode::BadNonce, "x-coldchain-nonce", "is 10–64 letters, digits, '-' or '_', new for every request"));
    }
    let mut public = [0u8; 32];
    hex::decode_to_slice(key, &mut public).map_err(|_| unauthorized(ErrorCode::BadKey, "x-coldchain-key", "is an ed25519 public key, 64 hex"))?;
    let verifying =
        ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|_| unauthorized(ErrorCode::BadKey, "x-coldchain-key", "is not an ed25519 key"))?;
    let sent: i64 =
        timestamp.parse().map_err(|_| unauthorized(ErrorCode::BadTimestamp, "x-coldchain-timestamp", "is milliseconds since the Unix epoch"))?;
    let now = gw.services.clock.now_ms();
    if (sent - now).abs() > WINDOW_MS {
        return Err(unauthorized(
            ErrorCode::StaleTimestamp,
            "x-coldchain-timestamp",
            format!("is more than ±{} s from this node's clock", WINDOW_MS / 1000),
        ));
    }
    let mut sig = [0u8; 64];
    hex::decode_to_slice(signature, &mut sig).map_err(|_| unauthorized(ErrorCode::BadSignature, "x-coldchain-signature", "is 128 hex"))?;
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let node = hex::encode(gw.services.node_key.verifying_key().to_bytes());
    verifying
        .verify_strict(read_message(method.as_str(), path, timestamp, nonce, &node).as_bytes(), &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| {
            unauthorized(
                ErrorCode::BadSignature,
                "x-coldchain-signature",
                format!(
                    "does not verify: ed25519 over \"coldchain/read/v2\\n\" METHOD \"\\n\" PATH?QUERY \"\\n\" TIMESTAMP \"\\n\" NONCE \"\\n\" NODE, NODE being this validator's public key {node}"
                ),
            )
        })?;
    if !gw.nonces.first_use("read", key, nonce, now)? {
        return Err(unauthorized(
            ErrorCode::ReplayedNonce,
            "x-coldchain-nonce",
            format!("{nonce} was already used with this key; every signed read needs a new nonce"),
        ));
    }
    let state = gw.services.state.read().map_err(ApiError::internal)?;
    let l = state.ledger();
    if let Some(b) = l.bureau_of_admin(&public) {
        return Ok(Caller::Bureau { province: b.province.clone() });
    }
    if let Some(id) = l.enterprise_of_key(&public) {
        return Ok(Caller::Enterprise { uscc: l.enterprise_at(id).uscc });
    }
    match l.get(&AUDITORS, &public) {
        Some(a) if !a.revoked => Ok(Caller::Auditor { name: a.name, province: a.province }),
        _ => Err(unauthorized(ErrorCode::UnknownKey, "x-coldchain-key", "is not a bureau's, an enrolled enterprise's or a registered auditor's key")),
    }
}

/// Decides, enterprise by enterprise, what one answer may show a caller.
pub struct Visibility<'a> {
    caller: &'a Caller,
    state: &'a State,
    /// Province of each enterprise asked about, by USCC, read once.
    provinces: HashMap<String, String>,
    /// An open alert the answer is inside of, and the enterprises of its trace.
    alert: Option<(TxId, BTreeSet<String>)>,
    /// Other provinces whose data this answer shows a bureau in full.
    pub crossed: BTreeSet<String>,
}

impl<'a> Visibility<'a> {
    pub fn new(caller: &'a Caller, state: &'a State, alert: Option<TxId>) -> Visibility<'a> {
        let alert = alert.and_then(|id| {
            let answer = state.alert(&id).ok()?;
            let open = !matches!(answer.alert.state, AlertState::Closed);
            open.then(|| (id, answer.trace.enterprises.iter().map(|e| e.uscc.clone()).collect()))
        });
        Visibility { caller, state, provinces: HashMap::new(), alert, crossed: BTreeSet::new() }
    }

    /// The province of enterprise `uscc` (empty if it is not enrolled).
    fn province(&mut self, uscc: &str) -> String {
        let l = self.state.ledger();
        self.provinces.entry(uscc.to_string()).or_insert_with(|| l.enterprise(uscc).map(|(_, e)| e.province).unwrap_or_default()).clone()
    }

    /// Whether enterprise `uscc`'s contacts may be shown in full.
    pub fn full(&mut self, uscc: &str) -> bool {
        let caller = self.caller;
        match caller {
            Caller::Public | Caller::Auditor { .. } => false,
            Caller::Enterprise { uscc: me } => me == uscc,
            Caller::Bureau { province: mine } => {
                let province = self.province(uscc);
                if *mine == province {
                    return true;
                }
                match &self.alert {
                    Some((_, inside)) if inside.contains(uscc) => {
                        self.crossed.insert(province);
                        true
                    }
                    _ => false,
                }
            }
        }
    }

    pub fn alert(&self) -> Option<TxId> {
        self.alert.as_ref().map(|(id, _)| *id)
    }
}

/// `13812340588` → `138****0588`; shorter numbers keep only their last two digits.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() >= 11 {
        format!("{}****{}", chars[..3].iter().collect::<String>(), chars[chars.len() - 4..].iter().collect::<String>())
    } else {
        format!("{}{}", "*".repeat(chars.len().saturating_sub(2)), chars[chars.len().saturating_sub(2)..].iter().collect::<String>())
    }
}

/// `张经理` → `张**`: the family name only.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count().max(1))),
        None => String::new(),
    }
}

fn normalized(key: &str) -> String {
    key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

enum Sensitive {
    Phone,
    Person,
    Price,
}

fn sensitive(key: &str) -> Option<Sensitive> {
    let k = normalized(key);
    if k.contains("price") || k.contains("amount") {
        Some(Sensitive::Price)
    } else if k.contains("phone") || k.contains("mobile") || k.contains("telephone") {
        Some(Sensitive::Phone)
    } else if ["contact", "sendcontact", "receivecontact", "legalperson", "drivername", "driveridcard", "idcard"].contains(&k.as_str()) {
        Some(Sensitive::Person)
    } else {
        None
    }
}

/// Masks one object's sensitive members in place.
fn mask_members(obj: &mut Map<String, Value>) {
    let keys: Vec<String> = obj.keys().cloned().collect();
    for key in keys {
        match (sensitive(&key), obj.get(&key)) {
            (Some(Sensitive::Price), _) => {
                obj.remove(&key);
            }
            // Every representation is masked: a phone sent as a JSON
            // number, or a name inside an array or object, shows no more
            // than one sent as a string.
            (Some(kind @ (Sensitive::Phone | Sensitive::Person)), Some(value)) if !value.is_null() => {
                let masked = mask_value(value, &|s| if matches!(kind, Sensitive::Phone) { mask_phone(s) } else { mask_name(s) });
                obj.insert(key, masked);
            }
            _ => {}
        }
    }
}

/// `value` with every string or number in it masked by `mask` (numbers and
/// booleans by their text, becoming strings).
fn mask_value(value: &Value, mask: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(mask(s)),
        Value::Number(n) => Value::String(mask(&n.to_string())),
        Value::Bool(b) => Value::String(mask(&b.to_string())),
        Value::Array(items) => Value::Array(items.iter().map(|i| mask_value(i, mask)).collect()),
        Value::Object(obj) => Value::Object(obj.iter().map(|(k, v)| (k.clone(), mask_value(v, mask))).collect()),
        Value::Null => Value::Null,
    }
}

/// The USCC an object of a record or view is about, if it names one.
fn uscc_of(obj: &Map<String, Value>) -> Option<&str> {
    obj.iter().find(|(k, _)| matches!(normalized(k).as_str(), "uscc" | "unifsocicredcode")).and_then(|(_, v)| v.as_str())
}

/// Masks a JSON answer: each object is judged by the enterprise it names, or
/// inherits its parent's judgement (`full` at the top).
pub fn mask_json(v: &mut Value, vis: &mut Visibility, full: bool) {
    match v {
        Value::Object(obj) => {
            let full = match uscc_of(obj) {
                Some(uscc) => {
                    let uscc = uscc.to_string();
                    vis.full(&uscc)
                }
                None => full,
            };
            if !full {
                mask_members(obj);
            }
            for child in obj.values_mut() {
                mask_json(child, vis, full);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| mask_json(i, vis, full)),
        _ => {}
    }
}

/// Masks a trace (also what its CSV, DOT and SVG are drawn from).
pub fn mask_trace(t: &mut Trace, vis: &mut Visibility) {
    for e in &mut t.enterprises {
        if !vis.full(&e.uscc) {
            e.contact = e.contact.as_deref().map(mask_name);
            e.contact_phone = e.contact_phone.as_deref().map(mask_phone);
        }
    }
    for s in &mut t.steps {
        let full = [s.from.as_deref(), Some(s.to.as_str())].into_iter().flatten().any(|u| vis.full(u));
        if !full {
            for v in &mut s.vehicles {
                v.driver_name = mask_name(&v.driver_name);
                v.driver_phone = v.driver_phone.as_deref().map(mask_phone);
            }
            s.counterpart.contact = s.counterpart.contact.as_deref().map(mask_name);
            s.counterpart.contact_phone = s.counterpart.contact_phone.as_deref().map(mask_phone);
        }
    }
}

pub fn mask_alert(a: &mut AlertAnswer, vis: &mut Visibility) {
    for list in a.affected.values_mut() {
        for e in list {
            if !vis.full(&e.uscc) {
                e.contact = e.contact.as_deref().map(mask_name);
                e.contact_phone = e.contact_phone.as_deref().map(mask_phone);
            }
        }
    }
    mask_trace(&mut a.trace, vis);
}

/// Records on chain that a bureau read other provinces' unmasked data inside
/// an alert's trace, before the answer leaves: durable on this node (and
/// finalized like any record) or the read is refused.
pub async fn record_access(gw: &Gateway, caller: &Caller, alert: Option<TxId>, crossed: &BTreeSet<String>, what: String) -> Result<(), ApiError> {
    let (Caller::Bureau { province }, Some(alert)) = (caller, alert) else { return Ok(()) };
    if crossed.is_empty() {
        return Ok(());
    }
    let provinces: Vec<&str> = crossed.iter().map(String::as_str).collect();
    let record = json!({"type": "access_log", "readerProvince": province, "alertId": alert.to_hex(), "provinces": provinces.join(","), "what": what});
    let tx = coldchain_chaincode::Transaction::sign(&gw.services.genesis.chain_id, crate::crypto::fresh_nonce(), record, &gw.services.node_key);
    let value = serde_json::to_value(&tx).map_err(ApiError::internal)?;
    let (id, _) = super::handlers::submit_value(gw, value, None).await?;
    tracing::info!(reader = %province, %alert, provinces = %provinces.join(","), tx = %id, "cross-province read recorded");
    Ok(())
}

/// What a caller may see of one transaction's record.
pub struct Judged {
    /// The record, masked where the caller may not see it.
    pub record: Value,
    /// Nothing was masked.
    pub full: bool,
    pub alert: Option<TxId>,
    pub crossed: BTreeSet<String>,
}

/// The enterprise a transaction is by: its signer, or the enterprise whose
/// app id a validator submitted it for.
fn owner(state: &State, tx: &coldchain_chaincode::Transaction, record: &Value) -> Option<String> {
    let l = state.ledger();
    if let Some(id) = l.enterprise_of_key(&tx.signer.public_key) {
        return Some(l.enterprise_at(id).uscc);
    }
    let appid = record["via"]["appid"].as_str()?;
    l.get(&APP_CREDENTIALS, &appid.to_string()).map(|c| c.uscc)
}

pub fn judge(state: &State, caller: &Caller, tx: &coldchain_chaincode::Transaction) -> Judged {
    let original = tx.record.to_value();
    let owner = owner(state, tx, &original);
    // The enterprise the record is about: its submitter, or the one a
    // bureau's record names (an enrolment).
    let subject = owner.clone().or_else(|| original.as_object().and_then(uscc_of).map(str::to_string));
    let alert = match (caller, &subject) {
        (Caller::Bureau { .. }, Some(uscc)) => alert_holding(state, uscc),
        _ => None,
    };
    let mut vis = Visibility::new(caller, state, alert);
    let top = match &owner {
        Some(uscc) => vis.full(uscc),
        // A bureau's own records (enrolments, alerts...): in full to that bureau.
        // (Also when signed by a key of that bureau's that was rotated since.)
        None => match (caller, state.ledger().province_of_admin_key(&tx.signer.public_key)) {
            (Caller::Bureau { province }, Some(signer)) => signer == *province,
            _ => false,
        },
    };
    let mut record = original.clone();
    mask_json(&mut record, &mut vis, top);
    Judged { full: record == original, record, alert: vis.alert(), crossed: vis.crossed }
}

/// The open alert a trace of lot `code` is inside, if any (the newest).
pub fn alert_on_lot(state: &State, scheme: &str, code: &str) -> Option<TxId> {
    let l = state.ledger();
    let lot = l.code(scheme, code)?.lot;
    l.scan_all(&ALERTS)
        .map(|(_, a)| a)
        .filter(|a| a.lot == lot && !matches!(a.state, AlertState::Closed))
        .max_by_key(|a| (a.height, a.time_ms))
        .map(|a| a.id)
}

/// The open alert whose trace holds enterprise `uscc`, if any.
pub fn alert_holding(state: &State, uscc: &str) -> Option<TxId> {
    let ids: Vec<TxId> = state.ledger().scan_all(&ALERTS).map(|(_, a)| a).filter(|a| !matches!(a.state, AlertState::Closed)).map(|a| a.id).collect();
    ids.into_iter().rev().find(|id| state.alert(id).is_ok_and(|a| a.trace.enterprises.iter().any(|e| e.uscc == uscc)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_names_are_masked_as_the_issue_shows() {
        assert_eq!(mask_phone("13812340588"), "138****0588");
        assert_eq!(mask_phone("022-5866"), "******66");
        assert_eq!(mask_name("张经理"), "张**");
        assert_eq!(mask_name("Li"), "L*");
    }

    #[test]
    fn sensitive_members_are_masked_and_prices_removed() {
        let mut obj = json!({"Contact": "赵磊", "Contact_phone": "13812340588", "unitPrice": 12.5, "Ent_name": "北京丰泽"});
        mask_members(obj.as_object_mut().unwrap());
        assert_eq!(obj, json!({"Contact": "赵*", "Contact_phone": "138****0588", "Ent_name": "北京丰泽"}));
    }

    #[test]
    fn phones_and_names_in_any_json_shape_are_masked() {
        let mut obj = json!({
            "Contact_phone": 13812340588u64, "driverPhone": [13900001111u64, "13900002222"], "mobile": {"work": 13700003333u64},
            "Contact": ["赵磊", 42], "telephone": null,
        });
        mask_members(obj.as_object_mut().unwrap());
        assert_eq!(
            obj,
            json!({
                "Contact_phone": "138****0588", "driverPhone": ["139****1111", "139****2222"], "mobile": {"work": "137****3333"},
                "Contact": ["赵*", "4*"], "telephone": null,
            })
        );
        assert!(!obj.to_string().contains("12340588"));
    }
}
