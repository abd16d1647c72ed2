//! `code_scheme` (seed 000 §3.5, "异构识别"): a province's bureau registers
//! one of its trace-code schemes: the coding rule (a regular expression every
//! code must match, and the SHA-256 of the rule document), the resolution
//! URL template and the issued-code count. Only the owning province's bureau
//! may register or change a scheme; re-submitting updates it.

use super::Cx;
use crate::fields::{Fields, Result};
use crate::hash::Hash;
use crate::record::RecordError;
use crate::state::ledger::{CodeScheme, Ledger};

#[derive(Clone, Debug)]
pub struct CodeSchemeRecord {
    pub scheme_id: (String, String),
    pub province: (String, String),
    pub name: String,
    pub pattern: String,
    pub resolver_url: String,
    pub rule_doc_sha256: Hash,
    pub issued_count: u64,
    /// `codeSyntax: "gs1"`: the codes are GS1 element strings.
    pub gs1: bool,
}

const FIELDS: &str = "schemeId, province, name, pattern, resolverUrl, ruleDocSha256, issuedCount, codeSyntax";

/// Compiles a scheme's pattern, anchored so that it must match a whole code.
///
/// Trace codes are ASCII, so `\d`, `\w` and `\s` (and `\D`, `\W`, `\S`)
/// mean their ASCII classes (`[0-9]`, `[0-9A-Za-z_]`, `[\t\n\v\f\r ]`), as
/// a bureau writing `^01\d{14}10\w{1,20}$` means them: the Unicode classes
/// would make such a GS1 pattern compile past the size limit. `\p{…}` and `.`
/// keep their Unicode meaning, written out as they are.
pub fn compile(pattern: &str) -> std::result::Result<regex::Regex, String> {
    use regex_syntax::ast::{parse::Parser, print::Printer};
    let mut tree = Parser::new().parse(pattern).map_err(|e| {
        let at = e.span();
        format!(
            "is not a valid regular expression: {} at characters {}–{} (`{}`)",
            e.kind(),
            at.start.offset,
            at.end.offset,
            &pattern[at.start.offset..at.end.offset.max(at.start.offset)]
        )
    })?;
    let largest = largest_repetition(&tree).map(|span| pattern[span.start.offset..span.end.offset].to_string());
    ascii_perl_classes(&mut tree);
    let mut ascii = String::new();
    Printer::new().print(&tree, &mut ascii).map_err(|_| "cannot be written back out".to_string())?;
    regex::RegexBuilder::new(&format!("^(?:{ascii})$")).size_limit(PATTERN_SIZE_LIMIT).build().map_err(|e| match e {
        regex::Error::CompiledTooBig(limit) => match largest {
            Some(rep) => format!("compiles to more than {limit} bytes; the repetition `{rep}` is the largest: repeat less, or split the scheme"),
            None => format!("compiles to more than {limit} bytes; write a shorter pattern"),
        },
        e => format!("is not a valid regular expression: {}", e.to_string().lines().last().unwrap_or_default().trim_start_matches("error: ")),
    })
}

/// The compiled size a pattern may reach (the regex crate's own measure).
pub const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Rewrites every Perl class (`\d`, `\w`, `\s`, negated too) as its ASCII class.
fn ascii_perl_classes(tree: &mut regex_syntax::ast::Ast) {
    use regex_syntax::ast::{Ast, ClassAscii, ClassAsciiKind, ClassBracketed, ClassPerl, ClassPerlKind, ClassSet, ClassSetItem};
    fn ascii(p: &ClassPerl) -> ClassAscii {
        let kind = match p.kind {
            ClassPerlKind::Digit => ClassAsciiKind::Digit,
            ClassPerlKind::Space => ClassAsciiKind::Space,
            ClassPerlKind::Word => ClassAsciiKind::Word,
        };
        ClassAscii { span: p.span, kind, negated: p.negated }
    }
    fn in_set(set: &mut ClassSet) {
        match set {
            ClassSet::Item(item) => in_item(item),
            ClassSet::BinaryOp(op) => {
                in_set(&mut op.lhs);
                in_set(&mut op.rhs);
            }
        }
    }
    fn in_item(item: &mut ClassSetItem) {
        match item {
            ClassSetItem::Perl(p) => *item = ClassSetItem::Ascii(ascii(p)),
            ClassSetItem::Bracketed(b) => in_set(&mut b.kind),
            ClassSetItem::Union(u) => u.items.iter_mut().for_each(in_item),
            _ => {}
        }
    }
    match tree {
        Ast::ClassPerl(p) => {
            let span = p.span;
            *tree = Ast::class_bracketed(ClassBracketed { span, negated: false, kind: ClassSet::Item(ClassSetItem::Ascii(ascii(p))) });
        }
        Ast::ClassBracketed(b) => in_set(&mut b.kind),
        Ast::Repetition(r) => ascii_perl_classes(&mut r.ast),
        Ast::Group(g) => ascii_perl_classes(&mut g.ast),
        Ast::Alternation(a) => a.asts.iter_mut().for_each(ascii_perl_classes),
        Ast::Concat(c) => c.asts.iter_mut().for_each(ascii_perl_classes),
        _ => {}
    }
}

/// The span of the counted repetition with the largest upper bound, which is
/// what makes a pattern compile large.
fn largest_repetition(tree: &regex_syntax::ast::Ast) -> Option<regex_syntax::ast::Span> {
    use regex_syntax::ast::{Ast, RepetitionKind, RepetitionRange};
    fn walk(tree: &Ast, best: &mut Option<(u32, regex_syntax::ast::Span)>) {
        match tree {
            Ast::Repetition(r) => {
                if let RepetitionKind::Range(RepetitionRange::Exactly(n) | RepetitionRange::AtLeast(n) | RepetitionRange::Bounded(_, n)) = r.op.kind
                    && best.is_none_or(|(m, _)| n > m)
                {
                    *best = Some((n, r.span));
                }
                walk(&r.ast, best);
            }
            Ast::Group(g) => walk(&g.ast, best),
            Ast::Alternation(a) => a.asts.iter().for_each(|t| walk(t, best)),
            Ast::Concat(c) => c.asts.iter().for_each(|t| walk(t, best)),
            _ => {}
        }
    }
    let mut best = None;
    walk(tree, &mut best);
    best.map(|(_, span)| span)
}

impl CodeSchemeRecord {
    pub fn parse(f: &mut Fields) -> Result<Self> {
        let scheme_id = f.req_str_at("schemeId", &[], 32)?;
        if !scheme_id.0.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) || scheme_id.0.is_empty() {
            return Err(RecordError::new(&scheme_id.1, "a scheme id is 1–32 letters, digits, '-', '_' or '.'"));
        }
        let province = f.req_str_at("province", &[], 6)?;
        let name = f.req_str("name", 100)?;
        let (pattern, pattern_path) = f.req_str_at("pattern", &[], 500)?;
        compile(&pattern).map_err(|rule| RecordError::new(&pattern_path, rule))?;
        let (resolver_url, url_path) = f.req_str_at("resolverUrl", &[], 500)?;
        if !(resolver_url.starts_with("https://") || resolver_url.starts_with("http://")) || !resolver_url.contains("{code}") {
            return Err(RecordError::new(url_path, "is an http(s) URL template containing {code}, e.g. https://trace.example.gov.cn/c/{code}"));
        }
        let (doc, doc_path) = f.req_str_at("ruleDocSha256", &[], 64)?;
        let rule_doc_sha256 =
            doc.parse().map_err(|_| RecordError::new(doc_path, "is the SHA-256 of the coding rule document, 64 hexadecimal characters"))?;
        let (issued_count, _) = f.opt_count("issuedCount", &[])?.unwrap_or((0, String::new()));
        let gs1 = match f.opt_str_at("codeSyntax", &[], 16)? {
            None => false,
            Some((syntax, _)) if syntax == "gs1" => true,
            Some((_, path)) => return Err(RecordError::new(path, "is \"gs1\" (the codes are GS1 element strings) or absent")),
        };
        f.finish(FIELDS)?;
        Ok(CodeSchemeRecord { scheme_id, province, name, pattern, resolver_url, rule_doc_sha256, issued_count, gs1 })
    }

    pub fn validate(&self, l: &Ledger, cx: &Cx) -> Result<()> {
        let bureau = cx.require_bureau("code_scheme")?;
        if self.province.0 != bureau {
            return Err(RecordError::new(
                &self.province.1,
                format!("bureau {bureau} registers schemes of its own province only, not {}", self.province.0),
            ));
        }
        if let Some(existing) = l.schemes().get(&self.scheme_id.0)
            && existing.province != bureau
        {
            return Err(RecordError::new(&self.scheme_id.1, format!("scheme {} belongs to province {}", self.scheme_id.0, existing.province)));
        }
        Ok(())
    }

    pub fn apply(self, l: &mut Ledger, cx: &Cx) {
        let regex = compile(&self.pattern).ok();
        l.put_scheme(CodeScheme {
            scheme_id: self.scheme_id.0,
            province: self.province.0,
            name: self.name,
            pattern: self.pattern,
            resolver_url: self.resolver_url,
            rule_doc_sha256: self.rule_doc_sha256,
            issued_count: self.issued_count,
            updated_at: cx.block.height,
            tx: cx.tx,
            gs1: self.gs1,
            regex,
        });
    }
}
