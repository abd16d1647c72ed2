//! A trace drawn for people: [`csv`] for a spreadsheet, [`dot`] for Graphviz
//! (`dot -Tsvg`), and [`svg`], a picture of the same custody graph drawn here
//! with no external tool. All three are pure functions of a [`Trace`].
//!
//! Colours by province, the same in DOT and SVG: Beijing (110000) red,
//! Tianjin (120000) blue, Hebei (130000) green, any other province grey.
//! A shipment still in transit (no receipt yet) is dashed; a receipt that
//! came short says "short N" on its edge.
//!
//! A step whose `from` is none (the lot's entry) starts at a "port of entry"
//! node that is not an enterprise. A step naming a USCC that is not among
//! `trace.enterprises` (the chaincode never returns one) still gets a node,
//! labelled "(not in trace)", so that no edge dangles.

use coldchain_chaincode::state::ledger::MovementKind;
use coldchain_chaincode::state::trace::{Direction, EnterpriseView, Step, Trace};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;

// ---------------------------------------------------------------------------
// Shared
// ---------------------------------------------------------------------------

fn kind_name(kind: MovementKind) -> &'static str {
    match kind {
        MovementKind::Entry => "entry",
        MovementKind::Shipment => "shipment",
        MovementKind::StockIn => "stock_in",
        MovementKind::StockOut => "stock_out",
    }
}

/// (fill, stroke) of a province's boxes.
fn province_colours(province: &str) -> (&'static str, &'static str) {
    match province {
        "110000" => ("#fde2e2", "#b91c1c"),
        "120000" => ("#dbeafe", "#1d4ed8"),
        "130000" => ("#dcfce7", "#15803d"),
        _ => ("#f3f4f6", "#4b5563"),
    }
}

fn province_label(province: &str) -> String {
    match province {
        "110000" => "110000 北京 Beijing".into(),
        "120000" => "120000 天津 Tianjin".into(),
        "130000" => "130000 河北 Hebei".into(),
        "" => "province unknown".into(),
        other => other.to_string(),
    }
}

/// Whether a shipment's receipt came short, and by how much.
fn shortfall(step: &Step) -> Option<(u64, &str)> {
    step.received.as_ref().filter(|r| r.short_pieces > 0 || r.short_kg != "0").map(|r| (r.short_pieces, r.short_kg.as_str()))
}

fn in_transit(step: &Step) -> bool {
    step.kind == MovementKind::Shipment && step.received.is_none()
}

const ENTRY_ID: &str = "(port of entry)";

/// The nodes of the graph: every enterprise of the trace (first occurrence of
/// a USCC wins), then any USCC a step names that is not among them.
struct Nodes<'a> {
    list: Vec<(&'a str, Option<&'a EnterpriseView>)>,
    index: HashMap<&'a str, usize>,
}

impl<'a> Nodes<'a> {
    fn of(trace: &'a Trace) -> Nodes<'a> {
        let mut nodes = Nodes { list: Vec::new(), index: HashMap::new() };
        for e in &trace.enterprises {
            nodes.add(&e.uscc, Some(e));
        }
        for s in &trace.steps {
            if let Some(f) = &s.from {
                nodes.add(f, None);
            }
            nodes.add(&s.to, None);
        }
        nodes
    }

    fn add(&mut self, uscc: &'a str, e: Option<&'a EnterpriseView>) {
        if !self.index.contains_key(uscc) {
            self.index.insert(uscc, self.list.len());
            self.list.push((uscc, e));
        }
    }

    fn enterprise(&self, uscc: &str) -> Option<&'a EnterpriseView> {
        self.index.get(uscc).and_then(|i| self.list[*i].1)
    }
}

fn title_line(trace: &Trace) -> String {
    format!("{} · certificate {} · batch {}", trace.lot.product_name, trace.lot.quarantine_number, trace.lot.certificate_batch)
}

// ---------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------

const CSV_HEADER: [&str; 19] = [
    "step",
    "kind",
    "date",
    "from_uscc",
    "from_name",
    "from_province",
    "to_uscc",
    "to_name",
    "to_province",
    "pieces",
    "weight_kg",
    "received_pieces",
    "received_kg",
    "short_pieces",
    "short_kg",
    "document",
    "cold_storage",
    "vehicles",
    "tx",
];

/// One row per step (numbered from 1) under a header row; RFC 4180: CRLF
/// line ends, a field holding a comma, a double quote, CR or LF is quoted and
/// its quotes doubled. The `received_*` and `short_*` columns are empty for a
/// shipment in transit and for steps that are not shipments; `from_*` are
/// empty for the lot's entry. Vehicles are `plate/driver`, joined by `; `.
pub fn csv(trace: &Trace) -> String {
    let nodes = Nodes::of(trace);
    // A UTF-8 byte-order mark (U+FEFF) first: without it Excel opens a CSV
    // in the system's legacy code page (GBK on Chinese Windows) and garbles
    // every Chinese name; with it Excel reads UTF-8. A program reading the
    // file should decode it as "UTF-8 with BOM" (Python: `utf-8-sig`), or
    // the first header reads "\u{feff}step".
    let mut out = String::from('\u{feff}');
    csv_row(&mut out, CSV_HEADER.iter().copied());
    for (i, s) in trace.steps.iter().enumerate() {
        let from = s.from.as_deref().and_then(|u| nodes.enterprise(u));
        let to = nodes.enterprise(&s.to);
        let received = s.received.as_ref();
        let vehicles = s.vehicles.iter().map(|v| format!("{}/{}", v.plate, v.driver_name)).collect::<Vec<_>>().join("; ");
        let row: [String; 19] = [
            (i + 1).to_string(),
            kind_name(s.kind).to_string(),
            s.date.to_string(),
            s.from.clone().unwrap_or_default(),
            from.map(|e| e.name.clone()).unwrap_or_default(),
            from.map(|e| e.province.clone()).unwrap_or_default(),
            s.to.clone(),
            to.map(|e| e.name.clone()).unwrap_or_default(),
            to.map(|e| e.province.clone()).unwrap_or_default(),
            s.pieces.to_string(),
            s.weight_kg.clone(),
            received.map(|r| r.pieces.to_string()).unwrap_or_default(),
            received.map(|r| r.weight_kg.clone()).unwrap_or_default(),
            received.map(|r| r.short_pieces.to_string()).unwrap_or_default(),
            received.map(|r| r.short_kg.clone()).unwrap_or_default(),
            s.document.clone(),
            s.cold_storage.clone().unwrap_or_default(),
            vehicles,
            s.tx.to_string(),
        ];
        csv_row(&mut out, row.iter().map(String::as_str));
    }
    out
}

/// A dictionary as CSV (`code,name`), with the byte-order mark [`csv`] explains.
pub fn dictionary_csv(d: &coldchain_chaincode::dictionary::Dictionary) -> String {
    let mut out = String::from('\u{feff}');
    csv_row(&mut out, ["code", "name"].into_iter());
    for (code, name) in d.entries() {
        csv_row(&mut out, [code, name].into_iter());
    }
    out
}

/// A table as CSV (a header row, then the rows), with the byte-order mark [`csv`] explains.
pub fn table_csv(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut out = String::from('\u{feff}');
    csv_row(&mut out, header.iter().copied());
    for row in rows {
        csv_row(&mut out, row.iter().map(String::as_str));
    }
    out
}

fn csv_row<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>) {
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push_str("\r\n");
}

// ---------------------------------------------------------------------------
// DOT
// ---------------------------------------------------------------------------

/// The body of a DOT double-quoted string: backslash and quote escaped, a
/// line break as DOT's `\n`.
fn dot_esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Graphviz DOT of the custody graph, left to right: a node per enterprise
/// (id its USCC), an edge per step.
pub fn dot(trace: &Trace) -> String {
    let nodes = Nodes::of(trace);
    let mut out = String::new();
    out.push_str("digraph trace {\n  rankdir=LR;\n");
    let _ = writeln!(out, "  label=\"{}\";", dot_esc(&title_line(trace)));
    out.push_str("  labelloc=t;\n  fontname=\"sans-serif\";\n");
    out.push_str("  node [shape=box, style=\"rounded,filled\", fontname=\"sans-serif\", fontsize=11];\n");
    out.push_str("  edge [fontname=\"sans-serif\", fontsize=9, color=\"#555555\"];\n");
    for (uscc, e) in &nodes.list {
        let (label, province) = match e {
            Some(e) => (format!("{}\n{}\n{}", e.name, e.uscc, province_label(&e.province)), e.province.as_str()),
            None => (format!("(not in trace)\n{uscc}"), ""),
        };
        let (fill, stroke) = province_colours(province);
        let _ = writeln!(out, "  \"{}\" [label=\"{}\", fillcolor=\"{fill}\", color=\"{stroke}\"];", dot_esc(uscc), dot_esc(&label));
    }
    if trace.steps.iter().any(|s| s.from.is_none()) {
        let label = format!("port of entry\n{}", trace.lot.port_of_entry);
        let _ = writeln!(out, "  \"{}\" [shape=ellipse, style=filled, fillcolor=\"#ffffff\", label=\"{}\"];", dot_esc(ENTRY_ID), dot_esc(&label));
    }
    for s in &trace.steps {
        let from = s.from.as_deref().unwrap_or(ENTRY_ID);
        let mut label = format!("{}\n{}\n{} pcs / {} kg", kind_name(s.kind), s.date, s.pieces, s.weight_kg);
        let mut attrs = String::new();
        if let Some((pieces, kg)) = shortfall(s) {
            let _ = write!(label, "\nshort {pieces} pcs / {kg} kg");
            attrs.push_str(", fontcolor=\"#b91c1c\"");
        }
        if in_transit(s) {
            label.push_str("\nin transit");
            attrs.push_str(", style=dashed");
        }
        let _ = writeln!(out, "  \"{}\" -> \"{}\" [label=\"{}\"{attrs}];", dot_esc(from), dot_esc(&s.to), dot_esc(&label));
    }
    out.push_str("}\n");
    out
}

// ---------------------------------------------------------------------------
// SVG
// ---------------------------------------------------------------------------

/// Text for XML content or a double-quoted attribute. Characters XML 1.0
/// forbids (most C0 controls, U+FFFE, U+FFFF) become a space.
fn xml_esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with at most one decimal.
fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 { format!("{}", r as i64) } else { format!("{r:.1}") }
}

fn wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// Estimated width of a line of text at a font size: CJK a full em, the
/// rest a little over half (generous for Latin in a sans-serif font).
fn text_width(s: &str, size: f64) -> f64 {
    s.chars().map(|c| if wide(c) { size } else { size * 0.6 }).sum()
}

/// The text cut to fit `max` (with "…" when cut).
fn fit(s: &str, size: f64, max: f64) -> String {
    if text_width(s, size) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = size; // room for the ellipsis
    for c in s.chars() {
        w += if wide(c) { size } else { size * 0.6 };
        if w > max {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

#[derive(Clone, Copy)]
struct Box2 {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    col: i64,
}

impl Box2 {
    fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }
    fn right(&self) -> f64 {
        self.x + self.w
    }
}

struct Bounds {
    min_x: f64,
    min_y: f64,
    max_x: f64,
    max_y: f64,
}

impl Bounds {
    fn new() -> Bounds {
        Bounds { min_x: f64::INFINITY, min_y: f64::INFINITY, max_x: f64::NEG_INFINITY, max_y: f64::NEG_INFINITY }
    }
    fn point(&mut self, x: f64, y: f64) {
        self.min_x = self.min_x.min(x);
        self.min_y = self.min_y.min(y);
        self.max_x = self.max_x.max(x);
        self.max_y = self.max_y.max(y);
    }
    /// A line of text whose baseline starts (or centres, or ends) at x, y.
    fn text(&mut self, x: f64, y: f64, width: f64, size: f64, anchor: &str) {
        let left = match anchor {
            "middle" => x - width / 2.0,
            "end" => x - width,
            _ => x,
        };
        self.point(left, y - size);
        self.point(left + width, y + size * 0.3);
    }
}

const FONT: &str = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif";
const NAME_SIZE: f64 = 13.0;
const SMALL_SIZE: f64 = 11.0;
const LABEL_SIZE: f64 = 11.0;
const BOX_H: f64 = 62.0;
/// Between rows of a column; more when a box carries self-loops on its top.
const ROW_GAP: f64 = 22.0;
const LOOP_H: f64 = 22.0;
const MARGIN: f64 = 24.0;
const GRAPH_TOP: f64 = 92.0;
const EDGE: &str = "#555555";
const SHORT: &str = "#b91c1c";

fn svg_label(s: &Step) -> String {
    let mut label = format!("{} {} · {} pcs", kind_name(s.kind), s.date, s.pieces);
    if let Some((pieces, _)) = shortfall(s) {
        let _ = write!(label, " · short {pieces}");
    }
    label
}

/// Columns by breadth-first depth from the root over the steps (from → to);
/// nodes the search does not reach go in column 0 after the root. Rows keep
/// the order of discovery, which keeps siblings together.
fn columns(trace: &Trace, nodes: &Nodes) -> Vec<Vec<usize>> {
    let n = nodes.list.len();
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for s in &trace.steps {
        if let Some(f) = s.from.as_deref()
            && f != s.to
        {
            next[nodes.index[f]].push(nodes.index[s.to.as_str()]);
        }
    }
    // The lot's origin; a forward trace from a later holder does not reach
    // back to it, so then the code's issuer, where the trace starts.
    let root = nodes.index.get(trace.lot.origin_uscc.as_str()).or_else(|| nodes.index.get(trace.start_uscc.as_str())).copied();
    let mut depth: Vec<Option<usize>> = vec![None; n];
    let mut cols: Vec<Vec<usize>> = Vec::new();
    if let Some(root) = root {
        depth[root] = Some(0);
        let mut queue = VecDeque::from([root]);
        while let Some(a) = queue.pop_front() {
            let d = depth[a].unwrap_or(0);
            if cols.len() <= d {
                cols.resize(d + 1, Vec::new());
            }
            cols[d].push(a);
            for &b in &next[a] {
                if depth[b].is_none() {
                    depth[b] = Some(d + 1);
                    queue.push_back(b);
                }
            }
        }
    }
    if cols.is_empty() {
        cols.push(Vec::new());
    }
    cols[0].extend((0..n).filter(|i| depth[*i].is_none()));
    cols
}

fn cubic_mid(p: [(f64, f64); 4]) -> (f64, f64) {
    ((p[0].0 + 3.0 * p[1].0 + 3.0 * p[2].0 + p[3].0) / 8.0, (p[0].1 + 3.0 * p[1].1 + 3.0 * p[2].1 + p[3].1) / 8.0)
}

fn cubic_path(p: [(f64, f64); 4]) -> String {
    format!("M{} {} C{} {} {} {} {} {}", num(p[0].0), num(p[0].1), num(p[1].0), num(p[1].1), num(p[2].0), num(p[2].1), num(p[3].0), num(p[3].1))
}

/// A self-contained SVG of the custody graph: enterprises in columns by
/// their depth from the lot's origin, an arrow per step labelled at its
/// midpoint, a title and a colour legend. Every enterprise is one `<rect>`
/// and every step one `<path>` (the arrowhead is a `<polygon>` marker, the
/// legend uses circles); the viewBox fits the content.
pub fn svg(trace: &Trace) -> String {
    let nodes = Nodes::of(trace);
    let cols = columns(trace, &nodes);
    let has_entry = trace.steps.iter().any(|s| s.from.is_none());

    // Sizes from the content.
    let box_w = nodes
        .list
        .iter()
        .map(|(uscc, e)| {
            let name = e.map(|e| e.name.as_str()).unwrap_or("(not in trace)");
            let province = province_label(e.map(|e| e.province.as_str()).unwrap_or(""));
            text_width(name, NAME_SIZE).max(text_width(uscc, SMALL_SIZE)).max(text_width(&province, SMALL_SIZE)) + 22.0
        })
        .fold(170.0_f64, f64::max)
        .min(300.0);
    let labels: Vec<String> = trace.steps.iter().map(svg_label).collect();
    let gap = labels.iter().map(|l| text_width(l, LABEL_SIZE)).fold(0.0_f64, f64::max);
    let gap = (gap + 64.0).clamp(140.0, 320.0);
    // A step from an enterprise to itself (a stock-in to its own store) is a
    // small loop on top of its box, its label beside it: room above each row.
    let mut loops = vec![0usize; nodes.list.len()];
    for s in &trace.steps {
        if s.from.as_deref() == Some(s.to.as_str()) {
            loops[nodes.index[s.to.as_str()]] += 1;
        }
    }
    let most_loops = loops.iter().copied().max().unwrap_or(0);
    let loop_room = if most_loops == 0 { 0.0 } else { LOOP_H + 13.0 * most_loops as f64 - 6.0 };
    let row_gap = ROW_GAP + loop_room;
    let graph_top = GRAPH_TOP + loop_room;
    let pitch = BOX_H + row_gap;
    let entry_label = fit(&trace.lot.port_of_entry, SMALL_SIZE, 200.0);
    let entry_w = (text_width(&entry_label, SMALL_SIZE).max(text_width("port of entry", SMALL_SIZE)) + 36.0).clamp(120.0, 236.0);

    // Places.
    let tallest = cols.iter().map(Vec::len).max().unwrap_or(0) as f64;
    let graph_h = (tallest * pitch - row_gap).max(0.0);
    let x0 = MARGIN + if has_entry { entry_w + gap } else { 0.0 };
    let mut boxes = vec![Box2 { x: 0.0, y: 0.0, w: box_w, h: BOX_H, col: 0 }; nodes.list.len()];
    for (c, col) in cols.iter().enumerate() {
        let top = graph_top + (graph_h - (col.len() as f64 * pitch - row_gap)) / 2.0;
        for (r, &i) in col.iter().enumerate() {
            boxes[i] = Box2 { x: x0 + c as f64 * (box_w + gap), y: top + r as f64 * pitch, w: box_w, h: BOX_H, col: c as i64 };
        }
    }
    let entry_box = has_entry.then(|| {
        let target = trace.steps.iter().find(|s| s.from.is_none()).map(|s| boxes[nodes.index[s.to.as_str()]]);
        let cy = target.map(|b| b.cy()).unwrap_or(graph_top + BOX_H / 2.0);
        Box2 { x: MARGIN, y: cy - BOX_H / 2.0, w: entry_w, h: BOX_H, col: -1 }
    });
    // A step from outside the trace starts at the entry node, which exists
    // whenever such a step does (has_entry).
    let outside = Box2 { x: MARGIN, y: graph_top, w: entry_w, h: BOX_H, col: -1 };
    let place = |uscc: Option<&str>| -> Box2 {
        match uscc {
            Some(u) => boxes[nodes.index[u]],
            None => entry_box.unwrap_or(outside),
        }
    };

    let mut bounds = Bounds::new();
    for b in boxes.iter().chain(entry_box.iter()) {
        bounds.point(b.x, b.y);
        bounds.point(b.right(), b.y + b.h);
    }

    // Edges, grouped by the pair of nodes they join so parallel ones fan out.
    let key = |u: Option<&str>| u.map(|u| nodes.index[u] as i64).unwrap_or(-1);
    let mut groups: BTreeMap<(i64, i64), Vec<usize>> = BTreeMap::new();
    for (i, s) in trace.steps.iter().enumerate() {
        let (a, b) = (key(s.from.as_deref()), key(Some(&s.to)));
        groups.entry((a.min(b), a.max(b))).or_default().push(i);
    }
    // (offset from the middle of the group, index in it, size of it)
    let mut slot = vec![(0.0_f64, 0usize, 1usize); trace.steps.len()];
    for members in groups.values() {
        for (k, &i) in members.iter().enumerate() {
            slot[i] = (k as f64 - (members.len() as f64 - 1.0) / 2.0, k, members.len());
        }
    }
    let mut edges = String::new();
    let mut edge_labels = String::new();
    for (i, s) in trace.steps.iter().enumerate() {
        let (src, dst) = (place(s.from.as_deref()), place(Some(&s.to)));
        let (offset, k, n) = slot[i];
        let (p, mid, anchor) = if s.from.as_deref() == Some(s.to.as_str()) {
            // Loops side by side on the top edge, labels stacked to their right.
            let lx = src.x + 16.0 + 32.0 * k as f64;
            let p = [(lx, src.y), (lx - 8.0, src.y - LOOP_H - 8.0), (lx + 32.0, src.y - LOOP_H - 8.0), (lx + 24.0, src.y)];
            (p, (src.x + 16.0 + 32.0 * n as f64, src.y - 6.0 - 13.0 * (n - 1 - k) as f64), "start")
        } else if src.col == dst.col {
            // Same column: out of the right side and back in, bulging right.
            let o = (offset * 8.0).clamp(-BOX_H / 2.0 + 6.0, BOX_H / 2.0 - 6.0);
            let bulge = (30.0 + 0.15 * (src.cy() - dst.cy()).abs()).min(gap * 0.45) + 14.0 * k as f64;
            let p =
                [(src.right(), src.cy() + o), (src.right() + bulge, src.cy() + o), (dst.right() + bulge, dst.cy() + o), (dst.right(), dst.cy() + o)];
            let (mx, my) = cubic_mid(p);
            (p, (mx + 4.0, my + LABEL_SIZE * 0.35 + offset * 13.0), "start")
        } else {
            // Across columns: from the right side of the left box to the left
            // side of the right one, whichever way the goods went.
            let o = (offset * 8.0).clamp(-BOX_H / 2.0 + 6.0, BOX_H / 2.0 - 6.0);
            let co = offset * 16.0;
            let (l, r) = if src.col < dst.col { (src, dst) } else { (dst, src) };
            let (pl, pr) = ((l.right(), l.cy() + o), (r.x, r.cy() + o));
            let dx = ((pr.0 - pl.0) * 0.5).max(30.0);
            let (cl, cr) = ((pl.0 + dx, pl.1 + co), (pr.0 - dx, pr.1 + co));
            let p = if src.col < dst.col { [pl, cl, cr, pr] } else { [pr, cr, cl, pl] };
            let (mx, my) = cubic_mid(p);
            (p, (mx, my - 4.0), "middle")
        };
        // A cubic Bézier lies within the hull of its control points.
        for (x, y) in p {
            bounds.point(x, y);
        }
        let d = cubic_path(p);
        let dash = if in_transit(s) { " stroke-dasharray=\"6 4\"" } else { "" };
        let mut tip = format!(
            "{} {}: {} → {}\n{} pcs / {} kg · document {}",
            kind_name(s.kind),
            s.date,
            s.from.as_deref().unwrap_or(ENTRY_ID),
            s.to,
            s.pieces,
            s.weight_kg,
            s.document
        );
        if let Some(r) = &s.received {
            let _ = write!(tip, "\nreceived {} {} pcs / {} kg, short {} pcs / {} kg", r.date, r.pieces, r.weight_kg, r.short_pieces, r.short_kg);
        } else if in_transit(s) {
            tip.push_str("\nin transit");
        }
        if let Some(c) = &s.cold_storage {
            let _ = write!(tip, "\ncold storage {c}");
        }
        for v in &s.vehicles {
            let _ = write!(tip, "\nvehicle {}/{}", v.plate, v.driver_name);
        }
        let _ = write!(tip, "\ntx {}", s.tx);
        let _ = writeln!(
            edges,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{EDGE}\" stroke-width=\"1.4\"{dash} marker-end=\"url(#coldchain-arrow)\"><title>{}</title></path>",
            xml_esc(&tip)
        );
        let colour = if shortfall(s).is_some() { SHORT } else { "#333333" };
        let lw = text_width(&labels[i], LABEL_SIZE);
        bounds.text(mid.0, mid.1, lw, LABEL_SIZE, anchor);
        let _ = writeln!(
            edge_labels,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" font-size=\"{LABEL_SIZE}\" fill=\"{colour}\" stroke=\"#ffffff\" stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\">{}</text>",
            num(mid.0),
            num(mid.1),
            xml_esc(&labels[i])
        );
    }

    // Boxes.
    let mut boxes_svg = String::new();
    for (i, (uscc, e)) in nodes.list.iter().enumerate() {
        let b = boxes[i];
        let (name, province) = match e {
            Some(e) => (e.name.as_str(), e.province.as_str()),
            None => ("(not in trace)", ""),
        };
        let (fill, stroke) = province_colours(province);
        let mut tip = format!("{name}\n{uscc}\n{}", province_label(province));
        if let Some(e) = e {
            let _ = write!(tip, "\n{} {}", e.enterprise_type, e.enterprise_type_name);
            if let (Some(pieces), Some(kg)) = (e.holds_pieces, &e.holds_kg) {
                let _ = write!(tip, "\nholds {pieces} pcs / {kg} kg");
            }
        }
        let inner = b.w - 20.0;
        let _ = writeln!(
            boxes_svg,
            "<g><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"8\" ry=\"8\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"{NAME_SIZE}\" font-weight=\"600\" fill=\"#111111\">{}</text>\
             <text x=\"{}\" y=\"{}\" font-size=\"{SMALL_SIZE}\" fill=\"#333333\">{}</text>\
             <text x=\"{}\" y=\"{}\" font-size=\"{SMALL_SIZE}\" fill=\"{stroke}\">{}</text></g>",
            xml_esc(&tip),
            num(b.x),
            num(b.y),
            num(b.w),
            num(b.h),
            num(b.x + 10.0),
            num(b.y + 20.0),
            xml_esc(&fit(name, NAME_SIZE, inner)),
            num(b.x + 10.0),
            num(b.y + 37.0),
            xml_esc(&fit(uscc, SMALL_SIZE, inner)),
            num(b.x + 10.0),
            num(b.y + 53.0),
            xml_esc(&fit(&province_label(province), SMALL_SIZE, inner)),
        );
    }
    if let Some(b) = entry_box {
        let _ = writeln!(
            boxes_svg,
            "<g><title>port of entry {}</title><ellipse cx=\"{}\" cy=\"{}\" rx=\"{}\" ry=\"{}\" fill=\"#ffffff\" stroke=\"{EDGE}\" stroke-width=\"1.5\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{SMALL_SIZE}\" fill=\"#333333\">port of entry</text>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"{SMALL_SIZE}\" font-weight=\"600\" fill=\"#111111\">{}</text></g>",
            xml_esc(&trace.lot.port_of_entry),
            num(b.x + b.w / 2.0),
            num(b.cy()),
            num(b.w / 2.0),
            num(b.h / 2.0),
            num(b.x + b.w / 2.0),
            num(b.cy() - 3.0),
            num(b.x + b.w / 2.0),
            num(b.cy() + 13.0),
            xml_esc(&entry_label),
        );
    }

    // Title and legend.
    let title = title_line(trace);
    let subtitle = format!(
        "label batch {} · trace of {} {} ({}) · {} enterprises · {} steps",
        trace.lot.label_batch,
        trace.scheme,
        trace.code,
        match trace.direction {
            Direction::Forward => "forward",
            Direction::Backward => "backward",
            Direction::Both => "both",
        },
        trace.enterprises.len(),
        trace.steps.len()
    );
    let mut head = String::new();
    let _ = writeln!(head, "<text x=\"{MARGIN}\" y=\"30\" font-size=\"17\" font-weight=\"700\" fill=\"#111111\">{}</text>", xml_esc(&title));
    bounds.text(MARGIN, 30.0, text_width(&title, 17.0), 17.0, "start");
    let _ = writeln!(head, "<text x=\"{MARGIN}\" y=\"50\" font-size=\"12\" fill=\"#555555\">{}</text>", xml_esc(&subtitle));
    bounds.text(MARGIN, 50.0, text_width(&subtitle, 12.0), 12.0, "start");
    let mut x = MARGIN;
    for province in ["110000", "120000", "130000", ""] {
        let (fill, stroke) = province_colours(province);
        let text = if province.is_empty() { "other province".to_string() } else { province_label(province) };
        let _ = writeln!(
            head,
            "<circle cx=\"{}\" cy=\"68\" r=\"6\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"/><text x=\"{}\" y=\"72\" font-size=\"{SMALL_SIZE}\" fill=\"#333333\">{}</text>",
            num(x + 6.0),
            num(x + 16.0),
            xml_esc(&text)
        );
        x += 16.0 + text_width(&text, SMALL_SIZE) + 18.0;
    }
    let note = "dashed: in transit · red: received short";
    let _ = writeln!(head, "<text x=\"{}\" y=\"72\" font-size=\"{SMALL_SIZE}\" fill=\"#555555\">{note}</text>", num(x));
    bounds.text(x, 72.0, text_width(note, SMALL_SIZE), SMALL_SIZE, "start");

    // The title is always there, so the bounds are finite.
    let (vx, vy) = (bounds.min_x - MARGIN, bounds.min_y - MARGIN / 2.0);
    let (vw, vh) = (bounds.max_x - bounds.min_x + 2.0 * MARGIN, bounds.max_y - bounds.min_y + 1.5 * MARGIN);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"{} {} {} {}\" width=\"{}\" height=\"{}\" font-family=\"{}\" role=\"img\">",
        num(vx),
        num(vy),
        num(vw),
        num(vh),
        num(vw),
        num(vh),
        xml_esc(FONT)
    );
    let _ = writeln!(out, "<title>{}</title>", xml_esc(&title));
    let _ = writeln!(
        out,
        "<defs><marker id=\"coldchain-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\" markerUnits=\"userSpaceOnUse\"><polygon points=\"0,0 10,5 0,10\" fill=\"{EDGE}\"/></marker></defs>"
    );
    let _ = writeln!(out, "<g class=\"head\">\n{head}</g>");
    let _ = writeln!(out, "<g class=\"edges\">\n{edges}</g>");
    let _ = writeln!(out, "<g class=\"enterprises\">\n{boxes_svg}</g>");
    let _ = writeln!(out, "<g class=\"labels\">\n{edge_labels}</g>");
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use coldchain_chaincode::Hash;
    use coldchain_chaincode::state::trace::{LotView, ReceivedView, VehicleView};

    const BJ: &str = "91110000MA0000001A";
    const TJ: &str = "91120000MA0000002B";
    const HE: &str = "91130000MA0000003C";
    const SH: &str = "91310000MA0000004D";
    const ODD_NAME: &str = "Hebei \"Frost, Co\" <Cold> & Sons";

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    fn tx(n: u8) -> Hash {
        Hash([n; 32])
    }

    fn lot(origin: &str) -> LotView {
        LotView {
            quarantine_number: "110000226000123".into(),
            certificate_batch: "01".into(),
            product_id: "P1".into(),
            product_name: "冷冻牛肉 Frozen beef".into(),
            label_batch: "LB-7".into(),
            container: Some("MSKU1234565".into()),
            production_date: date(1),
            entry_date: date(2),
            entry_time: None,
            port_of_entry: "天津港 Tianjin port".into(),
            consignor: "Exporter".into(),
            consignee: "Importer".into(),
            origin_uscc: origin.into(),
            entered_pieces: 100,
            entered_kg: "1000".into(),
            nucleic_acid: None,
            stopped: None,
            tx: tx(0),
        }
    }

    fn enterprise(uscc: &str, name: &str, province: &str) -> EnterpriseView {
        EnterpriseView {
            uscc: uscc.into(),
            name: name.into(),
            enterprise_type: "02".into(),
            enterprise_type_name: "cold storage".into(),
            province: province.into(),
            address: "somewhere".into(),
            latitude: 39.9,
            longitude: 116.4,
            contact: None,
            contact_phone: None,
            holds_pieces: Some(10),
            holds_kg: Some("100".into()),
            outside: false,
        }
    }

    fn step(kind: MovementKind, from: Option<&str>, to: &str, pieces: u64, day: u32, n: u8) -> Step {
        Step {
            kind,
            from: from.map(String::from),
            to: to.into(),
            pieces,
            weight_kg: format!("{}", pieces * 10),
            date: date(day),
            time: None,
            document: format!("DOC-{n}"),
            cold_storage: None,
            cold_storage_latitude: None,
            cold_storage_longitude: None,
            tx: tx(n),
            height: n as u64,
            vehicles: Vec::new(),
            received: None,
            counterpart: Default::default(),
        }
    }

    fn received(pieces: u64, short: u64, day: u32, n: u8) -> Option<ReceivedView> {
        Some(ReceivedView {
            pieces,
            weight_kg: format!("{}", pieces * 10),
            date: date(day),
            time: None,
            tx: tx(n),
            document: format!("RCV-{n}"),
            short_pieces: short,
            short_kg: format!("{}", short * 10),
        })
    }

    /// Beijing importer → (own store) → Tianjin (short by 2) → Hebei (the odd
    /// name) → back to Tianjin; Beijing → Shanghai still in transit.
    fn sample() -> Trace {
        let mut entry = step(MovementKind::Entry, None, BJ, 100, 2, 1);
        entry.document = "110000226000123".into();
        let mut own_store = step(MovementKind::StockIn, Some(BJ), BJ, 100, 3, 2);
        own_store.cold_storage = Some("北京一号冷库".into());
        let mut to_tj = step(MovementKind::Shipment, Some(BJ), TJ, 60, 4, 3);
        to_tj.vehicles = vec![
            VehicleView { plate: "京A12345".into(), driver_name: "张三".into(), driver_phone: None, tx: tx(3) },
            VehicleView { plate: "京B67890".into(), driver_name: "李四".into(), driver_phone: None, tx: tx(3) },
        ];
        to_tj.received = received(58, 2, 5, 4);
        let mut to_he = step(MovementKind::Shipment, Some(TJ), HE, 30, 6, 5);
        to_he.received = received(30, 0, 7, 6);
        to_he.document = "SH-6, line \"2\"\nsecond line".into();
        let to_sh = step(MovementKind::Shipment, Some(BJ), SH, 20, 8, 7);
        let mut back = step(MovementKind::Shipment, Some(HE), TJ, 5, 9, 8);
        back.received = received(5, 0, 10, 9);
        Trace {
            scheme: "bj-trace".into(),
            code: "BJ0001".into(),
            direction: Direction::Both,
            start_uscc: BJ.into(),
            lot: lot(BJ),
            codes: Vec::new(),
            codes_omitted: 0,
            enterprises: vec![
                enterprise(BJ, "北京进口冷链有限公司", "110000"),
                enterprise(TJ, "天津冷库", "120000"),
                enterprise(HE, ODD_NAME, "130000"),
                enterprise(SH, "上海超市", "310000"),
            ],
            steps: vec![entry, own_store, to_tj, to_he, to_sh, back],
        }
    }

    /// RFC 4180 records (CRLF or LF ends; quoted fields may hold anything).
    fn parse_csv(s: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let (mut row, mut field) = (Vec::new(), String::new());
        let mut chars = s.chars().peekable();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            if quoted {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        quoted = false;
                    }
                } else {
                    field.push(c);
                }
                continue;
            }
            match c {
                '"' => {
                    assert!(field.is_empty(), "a quote inside an unquoted field: {field}");
                    quoted = true;
                }
                ',' => row.push(std::mem::take(&mut field)),
                '\r' => assert_eq!(chars.next(), Some('\n'), "CR without LF"),
                '\n' => panic!("a bare LF ends a record"),
                c => field.push(c),
            }
            if c == '\r' {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
        }
        assert!(!quoted, "unterminated quoted field");
        assert!(field.is_empty() && row.is_empty(), "the last record lacks its CRLF");
        rows
    }

    #[test]
    fn csv_has_a_header_and_a_row_per_step_quoted_per_rfc_4180() {
        let t = sample();
        let out = csv(&t);
        let body = out.strip_prefix('\u{feff}').expect("starts with a UTF-8 BOM");
        assert!(body.starts_with(
            "step,kind,date,from_uscc,from_name,from_province,to_uscc,to_name,to_province,pieces,weight_kg,received_pieces,received_kg,short_pieces,short_kg,document,cold_storage,vehicles,tx\r\n"
        ));
        let rows = parse_csv(body);
        assert_eq!(rows.len(), 1 + t.steps.len());
        assert!(rows.iter().all(|r| r.len() == 19), "{rows:?}");
        assert_eq!(rows[0], CSV_HEADER);
        // The odd name is quoted, its quotes doubled, and reads back whole.
        assert!(body.contains("\"Hebei \"\"Frost, Co\"\" <Cold> & Sons\""));
        let to_he = &rows[4];
        assert_eq!((to_he[6].as_str(), to_he[7].as_str(), to_he[8].as_str()), (HE, ODD_NAME, "130000"));
        assert_eq!(to_he[15], "SH-6, line \"2\"\nsecond line");
        assert_eq!(rows[6][4], ODD_NAME);
        // Entry: no sender.
        assert_eq!(&rows[1][..6], ["1", "entry", "2026-03-02", "", "", ""]);
        assert_eq!(rows[2][16], "北京一号冷库");
        // Short receipt, vehicles.
        let short = &rows[3];
        assert_eq!(&short[9..15], ["60", "600", "58", "580", "2", "20"]);
        assert_eq!(short[17], "京A12345/张三; 京B67890/李四");
        assert_eq!(short[18], tx(3).to_string());
        assert_eq!((short[4].as_str(), short[5].as_str(), short[7].as_str()), ("北京进口冷链有限公司", "110000", "天津冷库"));
        // In transit: nothing received yet.
        assert_eq!(&rows[5][11..15], ["", "", "", ""]);
        assert_eq!(rows[5][1], "shipment");
    }

    #[test]
    fn csv_of_no_steps_is_the_header() {
        let mut t = sample();
        t.steps.clear();
        assert_eq!(parse_csv(csv(&t).trim_start_matches('\u{feff}')).len(), 1);
    }

    /// Braces outside strings balance, strings close, and a quote inside a
    /// string is always escaped (else the scan would go out of step).
    fn check_dot_syntax(dot: &str) {
        let (mut depth, mut in_string, mut escaped) = (0i64, false, false);
        for c in dot.chars() {
            if in_string {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    (false, '\n') => panic!("a raw newline inside a DOT string"),
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_string = true,
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    assert!(depth >= 0, "unbalanced braces");
                }
                '<' => panic!("an HTML-like label outside a string"),
                _ => {}
            }
        }
        assert!(!in_string, "an unterminated string");
        assert_eq!(depth, 0, "unbalanced braces");
    }

    #[test]
    fn dot_has_a_node_per_enterprise_an_edge_per_step_and_escapes() {
        let t = sample();
        let out = dot(&t);
        assert!(out.starts_with("digraph trace {\n  rankdir=LR;\n"));
        assert!(out.trim_end().ends_with('}'));
        check_dot_syntax(&out);
        for e in &t.enterprises {
            assert_eq!(out.matches(&format!("\n  \"{}\" [label=", e.uscc)).count(), 1, "{}", e.uscc);
        }
        let edges: Vec<&str> = out.lines().filter(|l| l.contains("\" -> \"")).collect();
        assert_eq!(edges.len(), t.steps.len());
        for (s, line) in t.steps.iter().zip(&edges) {
            let from = s.from.as_deref().unwrap_or(ENTRY_ID);
            assert!(line.starts_with(&format!("  \"{from}\" -> \"{}\" [", s.to)), "{line}");
        }
        let dashed: Vec<&&str> = edges.iter().filter(|l| l.contains("style=dashed")).collect();
        assert_eq!(dashed.len(), 1);
        assert!(dashed[0].starts_with(&format!("  \"{BJ}\" -> \"{SH}\"")) && dashed[0].contains("in transit"));
        assert!(edges[2].contains("short 2 pcs / 20 kg"));
        assert!(out.contains("label=\"Hebei \\\"Frost, Co\\\" <Cold> & Sons\\n91130000MA0000003C\\n130000"));
        assert!(
            out.contains("\"91110000MA0000001A\" [label=\"北京进口冷链有限公司\\n91110000MA0000001A\\n110000 北京 Beijing\", fillcolor=\"#fde2e2\"")
        );
        assert!(out.contains("fillcolor=\"#dbeafe\"") && out.contains("fillcolor=\"#dcfce7\"") && out.contains("fillcolor=\"#f3f4f6\""));
        // The port of entry is the entry's source.
        assert!(out.contains("\"(port of entry)\" [shape=ellipse"));
        assert!(edges[3].ends_with("[label=\"shipment\\n2026-03-06\\n30 pcs / 300 kg\"];"), "{}", edges[3]);
    }

    #[test]
    fn dot_escapes_backslashes() {
        assert_eq!(dot_esc("a\\b\"c\nd\r"), "a\\\\b\\\"c\\nd");
        let mut t = sample();
        t.enterprises[1].name = "back\\slash\"".into();
        let out = dot(&t);
        check_dot_syntax(&out);
        assert!(out.contains("back\\\\slash\\\""));
    }

    /// A small XML well-formedness check: one root, tags nest and close,
    /// attributes are `name="value"`, `&` only starts an entity, no `<` in
    /// text or values.
    fn check_xml(xml: &str) {
        fn text_ok(t: &str) {
            assert!(!t.contains('<') && !t.contains('>'), "raw angle bracket in {t:?}");
            let mut rest = t;
            while let Some(i) = rest.find('&') {
                let tail = &rest[i..];
                let end = tail.find(';').unwrap_or_else(|| panic!("unterminated entity in {t:?}"));
                let entity = &tail[1..end];
                let ok = matches!(entity, "amp" | "lt" | "gt" | "quot" | "apos")
                    || entity.strip_prefix('#').is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
                assert!(ok, "bad entity &{entity}; in {t:?}");
                rest = &tail[end..];
            }
            assert!(!t.chars().any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r')), "control character in {t:?}");
        }
        let mut stack: Vec<&str> = Vec::new();
        let mut roots = 0;
        let mut rest = xml;
        while let Some(lt) = rest.find('<') {
            let text = &rest[..lt];
            if stack.is_empty() {
                assert!(text.trim().is_empty(), "text outside the root: {text:?}");
            }
            text_ok(text);
            let tail = &rest[lt + 1..];
            let gt = tail.find('>').expect("an unclosed tag");
            let tag = &tail[..gt];
            rest = &tail[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name.trim()), "mismatched </{name}>");
                continue;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
            let name = &body[..name_end];
            assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'), "bad tag name {name:?}");
            let mut attrs = body[name_end..].trim_start();
            let mut seen = Vec::new();
            while !attrs.is_empty() {
                let eq = attrs.find("=\"").unwrap_or_else(|| panic!("bad attribute in <{tag}>"));
                let attr = &attrs[..eq];
                assert!(attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'), "bad attribute name {attr:?}");
                assert!(!seen.contains(&attr), "duplicate attribute {attr}");
                seen.push(attr);
                let value_and_rest = &attrs[eq + 2..];
                let close = value_and_rest.find('"').expect("unterminated attribute value");
                text_ok(&value_and_rest[..close]);
                let after = &value_and_rest[close + 1..];
                assert!(after.is_empty() || after.starts_with(char::is_whitespace), "no space after attribute {attr} in <{tag}>");
                attrs = after.trim_start();
            }
            if stack.is_empty() {
                roots += 1;
            }
            if !self_closing {
                stack.push(name);
            }
        }
        assert!(rest.trim().is_empty(), "text after the root");
        assert!(stack.is_empty(), "unclosed {stack:?}");
        assert_eq!(roots, 1, "one root element");
    }

    fn view_box(svg: &str) -> [f64; 4] {
        let start = svg.find("viewBox=\"").unwrap() + 9;
        let v: Vec<f64> = svg[start..].split('"').next().unwrap().split(' ').map(|n| n.parse().unwrap()).collect();
        [v[0], v[1], v[2], v[3]]
    }

    /// (x, y, width, height) of every rect.
    fn rects(svg: &str) -> Vec<[f64; 4]> {
        let attr = |tag: &str, name: &str| -> f64 {
            let start = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            tag[start..].split('"').next().unwrap().parse().unwrap()
        };
        svg.split("<rect").skip(1).map(|t| [attr(t, "x"), attr(t, "y"), attr(t, "width"), attr(t, "height")]).collect()
    }

    fn assert_inside_view_box(svg: &str) {
        let [vx, vy, vw, vh] = view_box(svg);
        assert!(vw > 0.0 && vh > 0.0);
        for [x, y, w, h] in rects(svg) {
            assert!(x >= vx && y >= vy && x + w <= vx + vw && y + h <= vy + vh, "rect {x},{y} outside the viewBox");
        }
    }

    fn assert_no_overlap(svg: &str) {
        let r = rects(svg);
        for (i, a) in r.iter().enumerate() {
            for b in &r[i + 1..] {
                let apart = a[0] + a[2] <= b[0] || b[0] + b[2] <= a[0] || a[1] + a[3] <= b[1] || b[1] + b[3] <= a[1];
                assert!(apart, "boxes overlap: {a:?} {b:?}");
            }
        }
    }

    #[test]
    fn svg_is_well_formed_with_a_box_per_enterprise_and_an_arrow_per_step() {
        let t = sample();
        let out = svg(&t);
        assert!(out.starts_with("<svg"));
        assert!(out.ends_with("</svg>"));
        check_xml(&out);
        assert!(out.contains("Hebei &quot;Frost, Co&quot; &lt;Cold&gt; &amp; Sons"));
        assert!(!out.contains("<Cold>"));
        assert_eq!(out.matches("<rect").count(), t.enterprises.len());
        assert_eq!(out.matches("<path").count(), t.steps.len());
        assert_eq!(out.matches("<line").count(), 0);
        assert_eq!(out.matches("marker-end=\"url(#coldchain-arrow)\"").count(), t.steps.len());
        assert_eq!(out.matches("stroke-dasharray").count(), 1, "one shipment in transit");
        assert!(out.contains("<marker id=\"coldchain-arrow\""));
        // Title: product, certificate and batch.
        assert!(out.contains("冷冻牛肉 Frozen beef · certificate 110000226000123 · batch 01"));
        // Labels: kind, date, pieces; the short receipt in red.
        assert!(out.contains(">shipment 2026-03-04 · 60 pcs · short 2</text>"));
        assert!(out.contains(&format!("fill=\"{SHORT}\"")));
        // Colours per province and the legend.
        for (fill, _) in ["110000", "120000", "130000", "310000"].map(province_colours) {
            assert!(out.matches(&format!("fill=\"{fill}\"")).count() >= 2, "{fill} in a box and the legend");
        }
        assert!(out.contains("port of entry"));
        assert_inside_view_box(&out);
        assert_no_overlap(&out);
    }

    #[test]
    fn svg_columns_follow_depth_from_the_origin() {
        let mut t = sample();
        t.enterprises.push(enterprise("91110000MA0000005E", "孤立企业", "110000"));
        let out = svg(&t);
        let r = rects(&out);
        let x = |i: usize| r[i][0];
        // BJ at depth 0, TJ and SH at 1, HE at 2; the unreachable one in column 0.
        assert!(x(0) < x(1) && x(1) < x(2));
        assert_eq!(x(1), x(3));
        assert_eq!(x(4), x(0));
        assert_no_overlap(&out);
        check_xml(&out);
    }

    #[test]
    fn svg_falls_back_to_the_start_when_the_origin_is_not_traced() {
        // A forward trace from Tianjin: the Beijing origin is not in it.
        let mut t = sample();
        t.direction = Direction::Forward;
        t.start_uscc = TJ.into();
        t.enterprises.retain(|e| e.uscc == TJ || e.uscc == HE);
        t.steps.retain(|s| s.from.as_deref() == Some(TJ) || s.from.as_deref() == Some(HE));
        let out = svg(&t);
        check_xml(&out);
        let r = rects(&out);
        assert_eq!((r.len(), out.matches("<path").count()), (2, 2));
        assert!(r[0][0] < r[1][0], "Tianjin left of Hebei");
        assert!(!out.contains("port of entry</text>"));
    }

    #[test]
    fn svg_of_one_enterprise_and_of_nothing() {
        let mut t = sample();
        t.enterprises.truncate(1);
        t.steps.truncate(2);
        let out = svg(&t);
        check_xml(&out);
        assert_eq!((out.matches("<rect").count(), out.matches("<path").count()), (1, 2));
        assert_inside_view_box(&out);

        t.enterprises.clear();
        t.steps.clear();
        let out = svg(&t);
        check_xml(&out);
        assert_eq!((out.matches("<rect").count(), out.matches("<path").count()), (0, 0));
        assert!(view_box(&out)[2] > 0.0);
    }

    #[test]
    fn svg_draws_three_hundred_enterprises_without_overlap() {
        // An importer ships to 60 distributors, each to 4 shops, and one
        // shop is missing from the tree (in column 0).
        let mut t = sample();
        let uscc = |i: usize| format!("9111000{i:011}");
        t.enterprises =
            (0..300).map(|i| enterprise(&uscc(i), &format!("企业 {i} 冷链物流有限公司"), ["110000", "120000", "130000"][i % 3])).collect();
        t.lot.origin_uscc = uscc(0);
        let mut steps = vec![step(MovementKind::Entry, None, &uscc(0), 100, 2, 0)];
        for d in 1..=60 {
            steps.push(step(MovementKind::Shipment, Some(&uscc(0)), &uscc(d), 4, 3, d as u8));
            for s in 0..4 {
                let shop = 61 + (d - 1) * 4 + s;
                if shop < 299 {
                    steps.push(step(MovementKind::StockOut, Some(&uscc(d)), &uscc(shop), 1, 4, 1));
                }
            }
        }
        t.steps = steps;
        let out = svg(&t);
        check_xml(&out);
        assert_eq!(out.matches("<rect").count(), 300);
        assert_eq!(out.matches("<path").count(), t.steps.len());
        assert_no_overlap(&out);
        assert_inside_view_box(&out);
        let r = rects(&out);
        let columns: std::collections::BTreeSet<i64> = r.iter().map(|r| r[0] as i64).collect();
        assert_eq!(columns.len(), 3);
    }

    #[test]
    fn xml_escapes_the_five_and_drops_controls() {
        assert_eq!(xml_esc("a&b<c>d\"e'f\u{1}g"), "a&amp;b&lt;c&gt;d&quot;e&apos;f g");
    }

    #[test]
    fn long_names_are_cut_to_the_box() {
        let name = "北".repeat(80);
        let cut = fit(&name, NAME_SIZE, 200.0);
        assert!(cut.ends_with('…') && text_width(&cut, NAME_SIZE) <= 200.0 + NAME_SIZE);
        assert_eq!(fit("short", NAME_SIZE, 200.0), "short");
    }

    /// A step's counterpart (the receiver's contact a shipment named) is
    /// masked for a caller who may see neither end in full, and shown whole
    /// to an end of the step.
    #[test]
    fn a_steps_counterpart_contact_is_masked_unless_the_caller_is_an_end_of_it() {
        use super::super::access::{Caller, Visibility, mask_trace};
        use coldchain_chaincode::state::ledger::Party;
        let state = coldchain_chaincode::testkit::Chain::new().state;
        let named = Party {
            name: Some("天津冷链物流有限公司".into()),
            contact: Some("王五".into()),
            contact_phone: Some("13812340588".into()),
            address: Some("天津市滨海新区港城大道 1 号".into()),
        };
        let with_counterpart = || {
            let mut t = sample();
            let shipment = t.steps.iter_mut().find(|s| s.kind == MovementKind::Shipment && s.to == TJ).expect("a shipment to Tianjin");
            shipment.counterpart = named.clone();
            t
        };
        let counterpart = |t: &Trace| t.steps.iter().find(|s| s.kind == MovementKind::Shipment && s.to == TJ).unwrap().counterpart.clone();
        let mut public = with_counterpart();
        mask_trace(&mut public, &mut Visibility::new(&Caller::Public, &state, None));
        assert_eq!(
            counterpart(&public),
            Party { contact: Some("王*".into()), contact_phone: Some("138****0588".into()), ..named.clone() },
            "the public sees the company, not the person or the phone"
        );
        let mut receiver = with_counterpart();
        mask_trace(&mut receiver, &mut Visibility::new(&Caller::Enterprise { uscc: TJ.into() }, &state, None));
        assert_eq!(counterpart(&receiver), named, "the receiver, an end of the step, sees it whole");
    }
}
