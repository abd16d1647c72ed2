//! `notarise`: any JSON document, notarised on chain by its signer (any key).

use super::Cx;
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{Ledger, NOTARISATIONS, Notarisation};

pub fn parse(f: &mut Fields) -> Result<()> {
    match f.opt_value("document") {
        Some((_, v)) if v.is_object() => {}
        Some((path, _)) => return Err(RecordError::new(path, "must be a JSON object")),
        None => return Err(RecordError::new("record.document", "is required")),
    }
    f.finish("document")
}

pub fn apply(l: &mut Ledger, cx: &Cx) {
    l.put(&NOTARISATIONS, &cx.tx, &Notarisation { signer: cx.signer, height: cx.block.height });
}
