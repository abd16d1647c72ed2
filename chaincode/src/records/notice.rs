//! `notice` (seed 003's information publishing): a bureau publishes a notice
//! on chain, optionally about an alert.

use super::Cx;
use crate::fields::{Fields, Result};
use crate::record::RecordError;
use crate::state::ledger::{ALERTS, Counter, Ledger, NOTICE_IDS, NOTICES, Notice};
use crate::transaction::TxId;

#[derive(Clone, Debug)]
pub struct NoticeRecord {
    pub title: String,
    pub content: String,
    pub alert: Option<(TxId, String)>,
}

impl NoticeRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let title = f.req_str("title", 200)?;
        let content = f.req_str("content", 20_000)?;
        if title.is_empty() {
            return Err(RecordError::new(f.at("title"), "must not be empty"));
        }
        let alert = match f.opt_str_at("alertId", &[], 64)? {
            Some((id, path)) => {
                Some((id.parse().map_err(|_| RecordError::new(&path, "is an alert's transaction id, 64 hexadecimal characters"))?, path))
            }
            None => None,
        };
        f.finish("title, content, alertId")?;
        Ok(NoticeRecord { title, content, alert })
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        cx.require_bureau("notice")?;
        if let Some((id, path)) = &self.alert
            && !l.contains(&ALERTS, id)
        {
            return Err(RecordError::new(path, format!("no alert {id} is on chain")));
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let province = cx.province(l);
        let n = Notice {
            id: cx.tx,
            province,
            title: self.title,
            content: self.content,
            alert: self.alert.map(|a| a.0),
            height: cx.block.height,
            time_ms: cx.block.time_ms,
        };
        let i = l.next_id(Counter::Notices);
        l.put(&NOTICES, &i, &n);
        l.put(&NOTICE_IDS, &n.id, &i);
    }
}
