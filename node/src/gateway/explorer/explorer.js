// The coldchain explorer: plain browser JavaScript, no framework, talking only
// to the node that served it (/v1/...). Every answer is the gateway envelope
// {success, code, message, timestamp, result}. Views are chosen by the URL
// hash: #trace/SCHEME/CODE[/DIRECTION], #tx/ID, #block/HEIGHT, #statistics[/BY/FROM/TO].
// Data from records is always inserted as text, never as HTML.
// An officer may sign in with their key file: the key stays in this page's
// memory (never in storage) and signs every read (signed reads, access.rs).
'use strict';

const $ = (id) => document.getElementById(id);
const state = { status: null, blocks: new Map(), alerts: new Map(), notices: [], ticket: 0, proof: null, anchor: null, genesisAnchor: null, reader: null };
const PROVINCES = { '110000': '北京 Beijing', '120000': '天津 Tianjin', '130000': '河北 Hebei', '000000': '国家平台 National' };
const province = (code) => (PROVINCES[code] ? `${PROVINCES[code]} ${code}` : code);
const STEP_KINDS = { entry: 'entered (import)', shipment: 'shipped', stock_in: 'into cold store', stock_out: 'out of cold store' };

/** el('td', {class: 'num'}, 'text', node, [more]): attributes, then children as text or nodes. */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}
const table = (heads, rows, cls) => el('table', { class: cls }, el('thead', {}, el('tr', {}, heads.map((h) => el('th', {}, h)))), el('tbody', {}, rows));
const short = (hex) => (hex ? `${hex.slice(0, 12)}…` : '');
const txLink = (id, text) => el('a', { href: `#tx/${id}`, class: 'mono', title: id }, text || short(id));
const facts = (pairs) => el('dl', { class: 'facts' }, pairs.filter((p) => p[1] !== undefined && p[1] !== null && p[1] !== '').map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
const pad = (n) => String(n).padStart(2, '0');
function time(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
const errorBox = (what, e) => el('div', { class: 'card' }, el('div', { class: 'error' }, `${what}: ${e.message}`));

/** GET a gateway route, signed if an officer signed in; the Response. */
async function get(path, reader = state.reader) {
  // Sign exactly the path and query the browser sends.
  const url = new URL(path, location.href);
  const headers = reader ? await readHeaders(reader, 'GET', url.pathname + url.search) : {};
  try { return await fetch(url.href, { cache: 'no-store', headers }); } catch (e) { throw new Error(`this node does not answer (${e.message})`); }
}
/** GET a gateway route; the envelope's result, or an Error with its message. */
async function api(path, reader = state.reader) {
  const res = await get(path, reader);
  let env = null;
  try { env = await res.json(); } catch (_) { /* not an envelope */ }
  if (!env || typeof env !== 'object' || !('success' in env)) throw new Error(`${path}: HTTP ${res.status}`);
  if (!env.success) throw Object.assign(new Error(env.message || `HTTP ${env.code}`), { status: res.status });
  return env.result;
}

// ------------------------------------------------------------------ network status and blocks

let refreshing = false;
async function refreshStatus() {
  if (refreshing) return;
  refreshing = true;
  try { await updateStatus(); } finally { refreshing = false; }
}
async function updateStatus() {
  let s;
  try { s = await api('/v1/status'); } catch (e) {
    $('chain-line').textContent = `This node does not answer: ${e.message}`;
    $('validators').classList.add('stale');
    $('quorum-note').textContent = 'Unknown: this node does not answer. The list above is what it said last.';
    return;
  }
  state.status = s;
  $('validators').classList.remove('stale');
  // The proofs' anchor is genesis's validators: /v1/status lists the current epoch's, so after a
  // change of the validator set the node's epoch 0 (/v1/epochs) is asked for, once.
  if (!state.genesisAnchor && !s.epoch) state.anchor = anchorFromStatus(s);
  else if (!state.genesisAnchor && !(state.anchor && state.anchor.fromEpochs)) {
    try { state.anchor = anchorFromStatus(s, await api('/v1/epochs')); } catch (_) { /* asked again next time */ }
  }
  const up = s.validators.filter((v) => v.connected).length;
  $('chain-line').textContent = `Ledger “${s.chain_id}” · ${s.height} blocks · this page is served by the ${s.validator.name} node (${province(s.validator.province)})`;
  $('validators').replaceChildren(...s.validators.map((v) => el('li', {},
    el('span', { class: `dot ${v.connected ? 'up' : 'down'}` }),
    el('span', { class: 'who' }, el('b', {}, v.name), el('div', { class: 'muted small' }, province(v.province))),
    v.index === s.validator.index ? el('span', { class: 'tag' }, 'this node') : null,
    el('span', { class: `tag ${v.connected ? 'up' : 'down'}`, title: `public key ${v.public_key}` }, v.connected ? 'up' : 'down'))));
  $('quorum-note').textContent = `${up} of ${s.validators.length} up, as this node sees them. A record is final once ${s.quorum} of the ${s.validators.length} bureaus have signed its block; ` +
    (up >= s.quorum ? 'enough are up to keep confirming records.' : 'too few are up: new records wait until more return.');
  await refreshBlocks(s.height);
  if (state.evidenceHeight !== s.height) await refreshEvidence(s);
  if (state.governanceHeight !== s.height) await refreshGovernance(s);
}

const CHANGES = { rotate_admin_key: 'admin key rotated', add_validator: 'joined the consortium', remove_validator: 'left the consortium', rotate_validator_key: 'validator key rotated' };
async function refreshGovernance(s) {
  let list;
  try { list = await api('/v1/governance'); } catch (_) { return; /* shown next time */ }
  state.governanceHeight = s.height;
  const name = (p) => (s.validators.find((v) => v.province === p) || { name: p }).name;
  $('governance').replaceChildren(list.length === 0 ? el('p', { class: 'muted' }, 'None.') :
    el('ul', { class: 'evidence' }, list.map((c) => el('li', {},
      c.consensus ? el('b', {}, 'Consensus limits') : el('b', {}, c.name || name(c.province)),
      c.consensus ? ` set: records up to ${c.consensus.max_tx_bytes} bytes, ${c.consensus.max_block_txs} records and ${c.consensus.max_block_bytes} bytes a block, clocks within ${c.consensus.max_clock_drift_ms} ms · `
        : ` ${CHANGES[c.change] || c.change} · `,
      c.activated_height ? el('a', { href: `#block/${c.activated_height}` }, `in effect from block #${c.activated_height}`)
        : el('span', { class: 'tag' }, `pending, ${c.approvals.length} of ${c.quorum}`),
      c.epoch ? ` · started epoch ${c.epoch}` : '',
      el('div', { class: 'muted small' }, 'approved by ',
        ...c.approvals.flatMap((a, i) => [i ? ', ' : '', el('a', { href: `#tx/${a.tx}`, title: `at block ${a.height}` }, name(a.province))]))))));
}

const OFFENCES = { conflicting_notarize: 'voted for two blocks', conflicting_finalize: 'finalized two blocks', nullify_finalize: 'voted to skip and to finalize' };
async function refreshEvidence(s) {
  let list;
  try { list = await api('/v1/evidence'); } catch (_) { return; /* shown next time */ }
  state.evidenceHeight = s.height;
  const name = (province) => (s.validators.find((v) => v.province === province) || { name: province }).name;
  $('evidence').replaceChildren(list.length === 0 ? el('p', { class: 'muted' }, 'None recorded.') :
    el('ul', { class: 'evidence' }, list.map((e) => el('li', {},
      el('b', {}, name(e.offender)), ` ${OFFENCES[e.offence] || e.offence} in view ${e.view} · `,
      el('a', { href: `#tx/${e.id}`, title: `recorded by the ${name(e.reporter)} node at block ${e.height}` }, `block #${e.height}`)))));
}

async function refreshBlocks(height) {
  const heights = [];
  for (let h = height; h >= 1 && h > height - 10; h--) heights.push(h);
  await Promise.all(heights.filter((h) => !state.blocks.has(h)).map(async (h) => {
    try { state.blocks.set(h, await api(`/v1/blocks/${h}`)); } catch (_) { /* shown next time */ }
  }));
  for (const h of state.blocks.keys()) if (h <= height - 10) state.blocks.delete(h);
  const names = state.status ? state.status.validators.map((v) => v.name) : [];
  $('blocks').replaceChildren(el('thead', {}, el('tr', {}, ['block', 'time', 'records', 'proposed by'].map((t) => el('th', {}, t)))),
    el('tbody', {}, heights.filter((h) => state.blocks.has(h)).map((h) => {
      const b = state.blocks.get(h);
      return el('tr', { class: b.header.tx_count ? '' : 'empty' }, el('td', {}, el('a', { href: `#block/${h}` }, `#${h}`)),
        el('td', {}, time(b.header.time_ms)), el('td', { class: 'num' }, b.header.tx_count), el('td', {}, names[b.header.proposer] || b.header.proposer));
    })));
}

// ------------------------------------------------------------------ trace

/** Offers in the scheme field every scheme seen so far (there is no route listing them). */
function rememberSchemes(schemes) {
  let known = new Set();
  try { known = new Set(JSON.parse(localStorage.getItem('coldchain-schemes') || '[]')); } catch (_) { /* no storage */ }
  for (const s of schemes) known.add(s);
  try { localStorage.setItem('coldchain-schemes', JSON.stringify([...known])); } catch (_) { /* no storage */ }
  $('schemes').replaceChildren(...[...known].sort().map((s) => el('option', { value: s })));
}

/** The enterprises by how many hands from the start the goods reached them, in
 *  the order of the steps: [[null] (the port, if the lot's entry is traced), [importer], [next holders], …]. */
function routeOf(trace) {
  const next = new Map();
  for (const s of trace.steps) if (s.from && s.from !== s.to) next.set(s.from, [...(next.get(s.from) || []), s.to]);
  const known = new Set(trace.enterprises.map((e) => e.uscc));
  // The importer when the caller sees it, else the first holder it sees (a trace cut to a province).
  const reached = new Set(trace.steps.filter((s) => s.from !== s.to).map((s) => s.to));
  const first = trace.steps.map((s) => s.from).find((f) => f && known.has(f) && !reached.has(f));
  const start = known.has(trace.lot.origin_uscc) ? trace.lot.origin_uscc : first || trace.start_uscc;
  const levels = [[start]], seen = new Set([start]);
  for (;;) {
    const level = [...new Set(levels[levels.length - 1].flatMap((u) => next.get(u) || []))].filter((u) => !seen.has(u));
    if (!level.length) break;
    level.forEach((u) => seen.add(u));
    levels.push(level);
  }
  if (trace.steps.some((s) => !s.from && s.to === start)) levels.unshift([null]);
  return levels;
}

/** The gateway's SVG as a DOM node, without anything that could run. */
function safeSvg(text) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const svg = doc.documentElement;
  if (svg.nodeName !== 'svg' || doc.getElementsByTagName('parsererror').length) return null;
  svg.querySelectorAll('script, foreignObject').forEach((n) => n.remove());
  for (const n of [svg, ...svg.querySelectorAll('*')]) {
    for (const a of [...n.attributes]) if (/^on/i.test(a.name) || /javascript:/i.test(a.value)) n.removeAttribute(a.name);
  }
  return document.importNode(svg, true);
}

async function showTrace(scheme, code, direction) {
  const ticket = ++state.ticket;
  $('scheme').value = scheme;
  $('code').value = code;
  $('direction').value = direction;
  const view = $('view');
  view.replaceChildren(el('div', { class: 'card muted' }, `Tracing ${scheme} ${code} …`));
  const q = new URLSearchParams({ scheme, code, direction }).toString();
  let resolution, trace, svgText = null;
  try {
    [resolution, trace] = await Promise.all([
      api(`/v1/codes/${encodeURIComponent(scheme)}/${encodeURIComponent(code)}`),
      api(`/v1/trace?${q}&format=json`),
    ]);
    // The custody graph is drawn only for those who may see it (the consumer view has none).
    if (trace.view !== 'consumer') svgText = await get(`/v1/trace?${q}&format=svg`).then((r) => (r.ok ? r.text() : null));
  } catch (e) {
    if (ticket === state.ticket) view.replaceChildren(errorBox(`Cannot trace ${scheme} ${code}`, e));
    return;
  }
  if (ticket !== state.ticket) return;
  rememberSchemes(resolution.codes.map((c) => c.scheme));
  if (trace.view === 'consumer') return showConsumerTrace(trace);
  const lot = trace.lot;
  const names = new Map(trace.enterprises.map((e) => [e.uscc, e]));
  const who = (uscc) => (uscc ? el('span', { title: uscc }, names.get(uscc) ? names.get(uscc).name : uscc) : el('span', { class: 'muted' }, 'port of entry'));
  const svg = svgText && safeSvg(svgText);
  const graph = el('div', { class: 'graph', id: 'graph' }, svg || el('p', { class: 'muted' }, 'The graph could not be drawn.'));
  const fit = el('button', { class: 'quiet', type: 'button', onclick: () => {
    graph.classList.toggle('fit');
    fit.textContent = graph.classList.contains('fit') ? 'Actual size' : 'Fit to width';
    hint.hidden = graph.scrollWidth <= graph.clientWidth;
  } }, 'Fit to width');
  const hint = el('p', { class: 'muted small right', hidden: true }, 'Scroll the picture sideways to follow the goods →');
  const directions = ['both', 'backward', 'forward'].map((d) => (d === direction ? el('b', {}, d)
    : el('a', { href: `#trace/${encodeURIComponent(scheme)}/${encodeURIComponent(code)}/${d}` }, d)));
  view.replaceChildren(el('section', { class: 'card', id: 'trace' },
    el('h2', {}, `${lot.product_name} — trace of ${scheme} ${code}`),
    el('div', { class: 'two' },
      facts([
        ['Product', `${lot.product_name} · GTIN ${lot.product_id} · batch ${lot.label_batch}`],
        ['Certificate', `${lot.quarantine_number} / ${lot.certificate_batch}`],
        ['Entered', `${lot.entry_date}${lot.entry_time ? ' ' + lot.entry_time : ''} · port ${lot.port_of_entry} · ${lot.entered_pieces} pcs · ${lot.entered_kg} kg`],
        ['Importer', lot.consignee], ['Consignor', lot.consignor],
        ['Container', [lot.container || '', lot.nucleic_acid ? ` · nucleic acid test ${lot.nucleic_acid}` : '']],
        ['Lot record', txLink(lot.tx)],
      ]),
      el('div', {}, el('div', { class: 'muted small' }, 'The same lot under every province’s code scheme:'), el('div', { class: 'scroll' }, table(
        ['Scheme', 'Code', 'Province'],
        resolution.codes.map((c) => el('tr', {}, el('td', {}, c.scheme),
          el('td', {}, el('a', { href: `#trace/${encodeURIComponent(c.scheme)}/${encodeURIComponent(c.code)}`, class: 'mono', title: c.resolver_url }, c.code)),
          el('td', {}, province(c.province)))), 'compact codes')))),
    el('p', { class: 'route', id: 'route' }, el('b', {}, 'Route of the goods: '), routeOf(trace).flatMap((level, i) => [i ? ' → ' : '',
      level.map((u, j) => [j ? ', ' : '', u ? el('span', { class: `who p${(names.get(u) || {}).province}` }, names.get(u) ? names.get(u).name : u) : `port ${lot.port_of_entry}`])])),
    el('div', { class: 'toolbar' }, 'Direction: ', directions.flatMap((d, i) => (i ? [' · ', d] : [d])), el('span', { class: 'spacer' }), fit,
      el('a', { class: 'button-link', id: 'csv-link', href: `/v1/trace?${q}&format=csv`, download: `trace-${scheme}-${code}.csv`, onclick: signedDownload }, 'Download CSV (Excel)')),
    graph, hint,
    trace.withheld_steps || trace.withheld_enterprises ? el('p', { class: 'muted small', id: 'trace-withheld' },
      `${trace.withheld_steps} steps and ${trace.withheld_enterprises} enterprises of this lot are outside what ${state.reader ? state.reader.caller || 'your key' : 'you'} may see` +
      (trace.view === 'bureau' ? ' (other provinces’ records: a bureau sees them inside an open alert on the lot).' : '.')) : null,
    el('h3', {}, `Enterprises (${trace.enterprises.length}) and what they hold now`),
    trace.enterprises.some((e) => /\*/.test(`${e.contact || ''}${e.contact_phone || ''}`)) ? el('p', { class: 'muted small', id: 'trace-masked' }, state.reader
      ? `Some contacts are masked: as ${state.reader.caller || 'this key'} your role may not see them in full.`
      : 'Contact details are masked for you; sign in with your bureau’s or enterprise’s key to see what your role may see.') : null,
    el('div', { class: 'scroll' }, table(
      ['Enterprise', 'USCC', 'Province', 'Type', 'Holds now', 'Contact'],
      trace.enterprises.map((e) => el('tr', {}, el('td', {}, e.name, el('div', { class: 'muted small' }, e.address)), el('td', { class: 'mono' }, e.uscc),
        el('td', {}, province(e.province)), el('td', {}, e.enterprise_type_name || e.enterprise_type),
        e.holds_pieces === undefined ? el('td', { class: 'muted small', title: 'not shown to you' }, '—')
          : el('td', { class: 'num' }, `${e.holds_pieces} pcs`, el('div', { class: 'muted' }, `${e.holds_kg} kg`)),
        el('td', {}, e.contact || '', el('div', { class: 'muted' }, e.contact_phone || '')))), 'enterprises')),
    el('h3', {}, `Steps (${trace.steps.length})`),
    el('div', { class: 'scroll' }, table(
      ['Date', 'What', 'From', 'To', 'Pieces', 'kg', 'Received', 'Document', 'Record'],
      trace.steps.map((s) => el('tr', {}, el('td', {}, s.time ? `${s.date} ${s.time}` : s.date), el('td', {}, STEP_KINDS[s.kind] || s.kind), el('td', {}, who(s.from)), el('td', {}, who(s.to)),
        el('td', { class: 'num' }, s.pieces), el('td', { class: 'num' }, s.weight_kg),
        el('td', {}, s.received ? [`${s.received.pieces} pcs on ${s.received.date}${s.received.time ? ' ' + s.received.time : ''}`, s.received.short_pieces ? el('div', { class: 'error small' }, `short ${s.received.short_pieces} pcs / ${s.received.short_kg} kg`) : null] : ''),
        el('td', {}, s.document, s.vehicles.map((v) => el('div', { class: 'muted small' }, `${v.plate} ${v.driver_name}`))),
        el('td', {}, txLink(s.tx, 'verify ›')))), 'steps'))));
  hint.hidden = graph.scrollWidth <= graph.clientWidth;
}

/** What anyone scanning a pack sees: the product, its certificate, the provinces it passed, an open alert. */
function showConsumerTrace(t) {
  const p = t.product, c = t.certificate;
  $('view').replaceChildren(el('section', { class: 'card', id: 'trace', 'data-view': 'consumer' },
    el('h2', {}, `${p.product_name} — ${t.scheme} ${t.code}`),
    el('p', { id: 'alert-status', class: t.alert_open ? 'error' : 'muted' }, t.alert_open
      ? 'A bureau has raised an alert on this lot (a positive test): do not buy, use or sell it; follow the bureau’s notice.'
      : 'No open alert on this lot.'),
    el('div', { class: 'two' },
      facts([
        ['Product', `${p.product_name} · GTIN ${p.product_id} · batch ${p.label_batch}`],
        ['Produced', p.production_date],
        ['Certificate', `${c.quarantine_number} / ${c.certificate_batch}`],
        ['Entered', `${c.entry_date} · port ${c.port_of_entry}`],
        ['Nucleic acid test', c.nucleic_acid],
        ['Provinces passed', el('span', { id: 'provinces' }, t.provinces.map(province).join(' → '))],
      ]),
      el('div', {}, el('div', { class: 'muted small' }, 'The same lot under every province’s code scheme:'), el('div', { class: 'scroll' }, table(
        ['Scheme', 'Code', 'Province'],
        t.codes.map((x) => el('tr', {}, el('td', {}, x.scheme),
          el('td', {}, el('a', { href: `#trace/${encodeURIComponent(x.scheme)}/${encodeURIComponent(x.code)}`, class: 'mono', title: x.resolver_url }, x.code)),
          el('td', {}, province(x.province)))), 'compact codes')))),
    el('p', { class: 'muted small', id: 'trace-consumer' },
      'The custody chain (who held the lot, when, how much) is for the enterprises on it and for bureaus: sign in with your key to see what your role may see.')));
}

// ------------------------------------------------------------------ proof verification (docs/PROOFS.md)

const utf8 = new TextEncoder();
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
/** Big-endian integer of `bytes` bytes; refuses what the Rust types would refuse. */
function int(n, bytes, what, signed = false) {
  const max = 2n ** BigInt(8 * bytes - (signed ? 1 : 0));
  if (!Number.isSafeInteger(n) || BigInt(n) >= max || BigInt(n) < (signed ? -max : 0n)) throw new Error(`${what} is not a ${signed ? 'signed' : 'unsigned'} ${8 * bytes}-bit integer`);
  const out = new Uint8Array(bytes);
  let v = BigInt.asUintN(8 * bytes, BigInt(n));
  for (let i = bytes - 1; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}
function unhex(s, bytes, what) {
  if (typeof s !== 'string' || s.length !== 2 * bytes || !/^[0-9a-fA-F]*$/.test(s)) throw new Error(`${what} is not ${bytes} bytes of hex`);
  return Uint8Array.from({ length: bytes }, (_, i) => parseInt(s.substr(2 * i, 2), 16));
}
const tohex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const sha256 = async (...parts) => new Uint8Array(await crypto.subtle.digest('SHA-256', concat(...parts)));

/** RFC 8785: members sorted by UTF-16 code units; numbers and strings as ECMAScript prints them. */
function jcs(v) {
  if (Array.isArray(v)) return `[${v.map(jcs).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${jcs(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}
/** The transaction's canonical bytes, from exactly the members the node hashes (docs/FORMATS.md). */
function txBytes(tx) {
  const sig = tohex(unhex(tx.signature, 64, 'transaction.signature'));
  const key = tohex(unhex(tx.signer && tx.signer.public_key, 32, 'transaction.signer.public_key'));
  int(tx.nonce, 8, 'transaction.nonce');
  return utf8.encode(jcs({ chain_id: tx.chain_id, nonce: tx.nonce, record: tx.record, signature: sig, signer: { algorithm: tx.signer.algorithm, public_key: key } }));
}
function headerBytes(h, what) {
  const chain = utf8.encode(h.chain_id);
  return concat(utf8.encode('coldchain-header-v2\0'), int(chain.length, 2, `${what}.chain_id length`), chain, int(h.height, 8, `${what}.height`), int(h.view, 8, `${what}.view`),
    unhex(h.parent, 32, `${what}.parent`), unhex(h.tx_root, 32, `${what}.tx_root`), int(h.time_ms, 8, `${what}.time_ms`, true),
    int(h.proposer, 2, `${what}.proposer`), int(h.tx_count, 4, `${what}.tx_count`),
    int(h.state_height, 8, `${what}.state_height`), unhex(h.state_root, 32, `${what}.state_root`));
}
// verify_strict also refuses keys and signature points of small order: those
// whose y coordinate (mod p) is one of these five.
const P = 2n ** 255n - 19n;
const SMALL_ORDER_Y = [0n, 1n, P - 1n, 0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7n, 0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n];
function smallOrder(point) {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? point[i] & 0x7f : point[i]);
  return SMALL_ORDER_Y.includes(y % P);
}
async function ed25519(publicKey, signature, message) {
  if (smallOrder(publicKey) || smallOrder(signature.subarray(0, 32))) return false;
  const key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
  return crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message);
}

/** The validators a proof's chain of trust starts from: genesis's. `/v1/status` lists the current epoch's, which
 *  are genesis's while the set never changed; after a change, pass `epochs` (`/v1/epochs`): its epoch 0 is genesis's list. */
const anchorFromStatus = (s, epochs) => (epochs && epochs.length && epochs[0].epoch === 0
  ? { source: 'the genesis validator keys this node reports (/v1/epochs)', fromEpochs: true, chain_id: s.chain_id,
    validators: epochs[0].validators.map((v) => ({ name: v.name, public_key: v.public_key })) }
  : { source: 'the validator keys this node reports (/v1/status)', chain_id: s.chain_id, validators: s.validators.map((v) => ({ name: v.name, public_key: v.public_key })) });
function anchorFromGenesis(g, file) {
  if (!g || typeof g.chain_id !== 'string' || !Array.isArray(g.validators) || !g.validators.length) throw new Error(`${file} has no chain_id and validators: is it a genesis file?`);
  return { source: `your genesis file ${file}`, chain_id: g.chain_id, validators: g.validators.map((v) => ({ name: v.name, public_key: v.public_key })) };
}

// Check numbers are docs/PROOFS.md's (and `coldchain verify`'s); the list shows them in the order they run.
const CHECKS = {
  1: ['Chain', 'The proof is for this consortium’s ledger'],
  2: ['Transaction', 'The record is exactly what was confirmed: not one byte changed'],
  3: ['Merkle path', 'The transaction is one of its block’s records'],
  7: ['Bureau changes', 'The bureaus entitled to sign this block are those named at the ledger’s start, or each change of them since was signed by enough of the bureaus before it'],
  4: ['Header chain', 'Any later blocks in the proof link back to that block'],
  5: ['Certified hash', 'The bureaus’ certificate names exactly that block'],
  6: ['Quorum', 'Enough bureaus signed that the block is final'],
};
const quorumOf = (n) => n - Math.floor((n - 1) / 3);
/** What votes of `epoch` are signed under: the chain id in epoch 0, `chain_id/epoch-N` after. */
const namespace = (chainId, epoch) => (epoch === 0 ? chainId : `${chainId}/epoch-${epoch}`);

// ed25519-dalek reads a validator key of an epoch change only if it is a point of the curve:
// x² = (y² − 1) / (d·y² + 1) has a solution (y reduced mod p, the top bit being x's sign).
const modpow = (b, e, m) => { let r = 1n; b %= m; for (; e > 0n; e >>= 1n) { if (e & 1n) r = (r * b) % m; b = (b * b) % m; } return r; };
const D = ((P - 121665n) * modpow(121666n, P - 2n, P)) % P;
function onCurve(point) {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? point[i] & 0x7f : point[i]);
  y %= P;
  const w = (((y * y - 1n + P) % P) * modpow((D * y * y + 1n) % P, P - 2n, P)) % P;
  return w === 0n || modpow(w, (P - 1n) / 2n, P) === 1n;
}
/** A name or province as the epoch change signs it: u8 length, then at most 255 bytes of UTF-8. */
function shortText(s, what) {
  if (typeof s !== 'string') throw new Error(`${what} is not a string`);
  const bytes = utf8.encode(s).subarray(0, 255);
  return concat(Uint8Array.of(bytes.length), bytes);
}
/** What a quorum of epoch N − 1 signs to start epoch N (docs/FORMATS.md, "Epoch change"). */
function epochChangeBytes(c, keys, what) {
  const chain = utf8.encode(c.chain_id);
  return concat(utf8.encode('coldchain-epoch-v1\0'), int(chain.length, 2, `${what}.chain_id length`), chain, int(c.epoch, 8, `${what}.epoch`),
    int(c.last_height, 8, `${what}.last_height`), unhex(c.last_hash, 32, `${what}.last_hash`), int(c.last_view, 8, `${what}.last_view`),
    int(keys.length, 2, `${what}.validators length`),
    ...c.validators.flatMap((v, i) => [keys[i], shortText(v.province, `${what}.validators[${i}].province`), shortText(v.name, `${what}.validators[${i}].name`)]));
}

/** The checks of docs/PROOFS.md, stopping at the first that fails, as `coldchain verify` does: 1–3, then 7 (the
 *  chain of epoch certificates from genesis's validators to the block's epoch, version 2), then 4–6 against that
 *  epoch's validators, quorum and vote namespace. A bundle whose record is withheld from the reader
 *  (`transaction: null`) proves its `tx_id`: check 2 does not run and the Merkle leaf is the id itself.
 *  Returns {ok, recordIncluded, epoch, checks: [{number, name, what, ok: true|false|null, notRun, detail}], signers, height}. */
async function verifyProof(b, anchor) {
  const n = anchor.validators.length;
  const withheld = b.transaction === null || b.transaction === undefined;
  const epochs = b.epochs === undefined || b.epochs === null ? [] : b.epochs;
  // Epoch 0: genesis's validators, in genesis order.
  const genesis = { number: 0, afterHeight: 0, afterView: 0, members: anchor.validators, quorum: quorumOf(n) };
  const out = { ok: false, recordIncluded: !withheld, txId: b.tx_id, checks: [], signers: [], epoch: 0, quorum: genesis.quorum, validators: n, height: b.header && b.header.height };
  let failed = false, id, tip, tipHash;
  // The newest epoch the certificates reach, the one before it, and whether the block is the last of the one
  // before (no finalization: the newest epoch's certificate names it and is the proof).
  let set = genesis, before = genesis, endsEpoch = false;
  const names = (signatures, of) => signatures.map((s) => of.members[s.signer].name);
  const steps = [
    [1, async () => {
      if (!Array.isArray(epochs)) throw new Error('epochs is not a list of epoch certificates');
      if (b.version !== (epochs.length ? 2 : 1)) {
        throw new Error(b.version === 1 || b.version === 2 ? `proof version ${b.version} with ${epochs.length} epoch certificates: version 1 carries none, version 2 at least one`
          : `unsupported proof version ${b.version} (this page reads versions 1 and 2)`);
      }
      for (const found of [...(withheld ? [] : [b.transaction.chain_id]), b.header.chain_id, ...b.links.map((l) => l.chain_id)]) {
        if (found !== anchor.chain_id) throw new Error(`the proof is for chain “${found}”, the keys are for “${anchor.chain_id}”`);
      }
      return `chain “${anchor.chain_id}”`;
    }],
    [2, async () => {
      if (withheld) {
        id = unhex(b.tx_id, 32, 'tx_id');
        return { notRun: `not run: the record is withheld from you; this proof establishes that transaction id ${tohex(id)} was finalized` };
      }
      const bytes = txBytes(b.transaction);
      id = await sha256(bytes);
      if (tohex(id) !== String(b.tx_id).toLowerCase()) throw new Error(`its SHA-256 is ${tohex(id)}, the proof claims ${b.tx_id}`);
      return `SHA-256 of its ${bytes.length} canonical bytes is ${tohex(id)}; signed by key ${b.transaction.signer.public_key}`;
    }],
    [3, async () => {
      const h = b.header, root = unhex(h.tx_root, 32, 'header.tx_root'), path = b.merkle_path.map((p, i) => unhex(p, 32, `merkle_path[${i}]`));
      let node = await sha256(Uint8Array.of(0), id), index = b.leaf_index, width = h.tx_count, used = 0;
      if (!Number.isSafeInteger(index) || index < 0 || index >= width) throw new Error(`leaf ${index} is not one of the block’s ${width} transactions`);
      const next = () => { if (used === path.length) throw new Error('the Merkle path is too short'); return path[used++]; };
      while (width > 1) {
        if (index % 2 === 1) node = await sha256(Uint8Array.of(1), next(), node);
        else if (index + 1 < width) node = await sha256(Uint8Array.of(1), node, next());
        index = Math.floor(index / 2);
        width = Math.ceil(width / 2);
      }
      if (used !== path.length || !equal(node, root)) throw new Error(`leaf ${b.leaf_index} of ${h.tx_count} does not lead to the header’s tx_root ${h.tx_root}`);
      return `record ${b.leaf_index + 1} of the ${h.tx_count} in block ${h.height} (tx_root ${h.tx_root})`;
    }],
    [7, async () => {
      // From genesis's validators, each certificate is checked against the epoch before it (consensus/src/epoch.rs).
      const path = [];
      for (const [i, cert] of epochs.entries()) {
        const c = cert && cert.change, what = `epochs[${i}].change`;
        if (!c || typeof c !== 'object' || !Array.isArray(cert.signatures)) throw new Error(`epochs[${i}] is not an epoch certificate`);
        int(c.epoch, 8, `${what}.epoch`); int(c.last_height, 8, `${what}.last_height`); int(c.last_view, 8, `${what}.last_view`);
        if (c.chain_id !== anchor.chain_id) throw new Error(`the epoch change is for chain “${c.chain_id}”, not “${anchor.chain_id}”`);
        if (c.epoch <= set.number) throw new Error(`epoch ${c.epoch} does not follow epoch ${set.number}`);
        if (c.last_height < set.afterHeight || (set.number > 0 && c.last_height === set.afterHeight && c.last_view < set.afterView)) {
          throw new Error(`epoch ${c.epoch} starts after height ${c.last_height}, below epoch ${set.number}'s start (height ${set.afterHeight})`);
        }
        if (!Array.isArray(c.validators)) throw new Error(`${what}.validators is not a list`);
        const keys = c.validators.map((v, j) => unhex(v && v.public_key, 32, `${what}.validators[${j}].public_key`));
        if (!keys.length || keys.length > 64 || new Set(keys.map(tohex)).size !== keys.length || !keys.every(onCurve)) {
          throw new Error(`epoch ${c.epoch} lists no validators, more than 64, or one key twice`);
        }
        const message = epochChangeBytes(c, keys, what);
        const seen = new Set();
        for (const s of cert.signatures) {
          const v = set.members[s.signer];
          if (!Number.isInteger(s.signer) || !v) throw new Error(`signer index ${s.signer} is not a validator of epoch ${set.number}`);
          if (seen.has(s.signer)) throw new Error(`validator ${s.signer} signed the epoch change twice`);
          seen.add(s.signer);
          if (!(await ed25519(unhex(v.public_key, 32, `${v.name}'s key`), unhex(s.signature, 64, `signature of ${v.name}`), message))) {
            throw new Error(`the signature of validator ${s.signer} (${v.name}) of epoch ${set.number} does not verify for this epoch change`);
          }
        }
        if (seen.size < set.quorum) throw new Error(`only ${seen.size} validators of epoch ${set.number} signed the change to epoch ${c.epoch}; its quorum is ${set.quorum}`);
        path.push(`epoch ${c.epoch} after block ${c.last_height}, signed by ${seen.size} of the ${set.members.length} of epoch ${set.number} (${names(cert.signatures, set).join(', ')})`);
        before = set;
        set = { number: c.epoch, afterHeight: c.last_height, afterView: c.last_view, members: c.validators, quorum: quorumOf(keys.length) };
      }
      if (!epochs.length) return `no change: the block is in epoch 0, signed by the ${n} bureaus named at genesis (${genesis.quorum} needed)`;
      return `from the ${n} bureaus named at genesis to ${path.join(' → ')}; epoch ${set.number} has ${set.members.length} bureaus ` +
        `(${set.members.map((m) => m.name).join(', ')}), ${set.quorum} needed`;
    }],
    [4, async () => {
      tip = b.header;
      tipHash = await sha256(headerBytes(tip, 'header'));
      for (const [i, link] of b.links.entries()) {
        if (String(link.parent).toLowerCase() !== tohex(tipHash) || link.height !== tip.height + 1) throw new Error(`link at height ${link.height} does not extend the block before it`);
        tip = link;
        tipHash = await sha256(headerBytes(link, `links[${i}]`));
      }
      return b.links.length ? `${b.links.length} later block(s), up to block ${tip.height}, extend it one by one` : 'none needed: the block itself carries the certificate';
    }],
    // Still check 7, once the certified block is known: it is of the epoch reached (above its start), or, without
    // a finalization, the last block of the epoch before, named by the newest epoch's certificate.
    [7, async () => {
      if (b.finalization === null || b.finalization === undefined) {
        const cert = epochs[epochs.length - 1];
        if (!cert) throw new Error('the bundle has neither a finalization nor an epoch certificate');
        if (String(cert.change.last_hash).toLowerCase() !== tohex(tipHash) || cert.change.last_height !== tip.height) {
          throw new Error(`epoch ${cert.change.epoch} starts after block ${cert.change.last_hash} at height ${cert.change.last_height}, but the header chain ends at ${tohex(tipHash)} (height ${tip.height})`);
        }
        endsEpoch = true;
        return `; block ${tip.height} is the last of epoch ${before.number}: the change to epoch ${set.number} names it, and its signers certify it`;
      }
      if (set.number > 0 && tip.height <= set.afterHeight) {
        throw new Error(`the certified block (height ${tip.height}) is not of epoch ${set.number}, which starts after height ${set.afterHeight}`);
      }
      return set.number ? `; block ${tip.height} is in epoch ${set.number}, which starts after block ${set.afterHeight}` : '';
    }],
    [5, async () => {
      if (endsEpoch) return `none needed: the certificate of the change to epoch ${set.number} names block ${tip.height}, hash ${tohex(tipHash)}`;
      const f = b.finalization;
      if (String(f.hash).toLowerCase() !== tohex(tipHash) || f.view !== tip.view) throw new Error(`the certificate is for ${f.hash} at view ${f.view}, but the blocks end at ${tohex(tipHash)} (view ${tip.view})`);
      return `block ${tip.height}, hash ${tohex(tipHash)}, view ${tip.view}`;
    }],
    [6, async () => {
      if (endsEpoch) {
        // Verified in check 7: a quorum of the epoch before signed the change that names the block.
        const signatures = epochs[epochs.length - 1].signatures;
        out.signers = names(signatures, before);
        Object.assign(out, { epoch: before.number, quorum: before.quorum, validators: before.members.length });
        return `${signatures.length} of the ${before.members.length} bureaus of epoch ${before.number} (${out.signers.join(', ')}) signed the change naming it; ${before.quorum} are needed`;
      }
      const f = b.finalization;
      if (f.kind !== 'finalize') throw new Error(`certificate is a ${f.kind} certificate, expected finalize`);
      const chain = utf8.encode(namespace(anchor.chain_id, set.number));
      const message = concat(utf8.encode('coldchain-finalize-v1\0'), int(chain.length, 2, 'chain_id length'), chain, int(f.view, 8, 'finalization.view'), unhex(f.hash, 32, 'finalization.hash'));
      const seen = new Set();
      for (const s of f.signatures) {
        const v = set.members[s.signer];
        if (!Number.isInteger(s.signer) || !v) throw new Error(`signer index ${s.signer} is not a validator ${set.number ? `of epoch ${set.number}` : 'in genesis'}`);
        if (seen.has(s.signer)) throw new Error(`validator ${s.signer} signed the certificate twice`);
        seen.add(s.signer);
        if (!(await ed25519(unhex(v.public_key, 32, `${v.name}'s key`), unhex(s.signature, 64, `signature of ${v.name}`), message))) {
          throw new Error(`signature of validator ${s.signer} (${v.name}) does not verify for this chain${set.number ? ` (epoch ${set.number})` : ''}, view and hash`);
        }
        out.signers.push(v.name);
      }
      if (seen.size < set.quorum) throw new Error(`only ${seen.size} distinct validators signed; the quorum is ${set.quorum}`);
      Object.assign(out, { epoch: set.number, quorum: set.quorum, validators: set.members.length });
      return `${seen.size} of ${set.members.length}${set.number ? ` bureaus of epoch ${set.number}` : ''} signed (${out.signers.join(', ')}); ${set.quorum} are needed`;
    }],
  ];
  for (const [number, step] of steps) {
    const [name, what] = CHECKS[number];
    // A check that runs in two parts (7) keeps one row: the second part adds to it, or fails it.
    const row = out.checks.find((c) => c.number === number);
    if (failed) { if (!row) out.checks.push({ number, name, what, ok: null, detail: 'not checked: an earlier check failed' }); continue; }
    try {
      const r = await step();
      if (row) row.detail += r;
      else out.checks.push(typeof r === 'object' ? { number, name, what, ok: null, notRun: true, detail: r.notRun } : { number, name, what, ok: true, detail: r });
    } catch (e) {
      failed = true;
      if (row) Object.assign(row, { ok: false, detail: e.message }); else out.checks.push({ number, name, what, ok: false, detail: e.message });
    }
  }
  out.ok = !failed;
  return out;
}

// ------------------------------------------------------------------ signing in: signed reads (gateway/access.rs)

// PKCS#8 for an Ed25519 private key is this fixed prefix followed by the 32-byte seed (RFC 8410).
const PKCS8_ED25519_PREFIX = '302e020100300506032b657004220420';

/** The 32-byte seed of a key file written by `coldchain keygen` or `coldchain testnet`
 *  ({"algorithm": "ed25519", "public_key": hex, "secret_key": hex of the seed}), or a bare 64-hex seed. */
function seedOf(text, name) {
  let file = null;
  try { file = JSON.parse(text); } catch (_) { /* perhaps bare hex */ }
  if (file && typeof file === 'object') {
    if (file.algorithm !== undefined && file.algorithm !== 'ed25519') throw new Error(`the key's algorithm is “${file.algorithm}”, not ed25519`);
    return { seed: unhex(file.secret_key, 32, 'its secret_key'), claimed: typeof file.public_key === 'string' ? file.public_key.toLowerCase() : null };
  }
  return { seed: unhex(text.trim(), 32, 'the file (neither a coldchain key file nor a hex seed)'), claimed: null };
}

/** Imports a key file for signing: {key (not extractable), publicKey (hex), caller (once the node names it)}. */
async function importReader(text, name) {
  if (!window.crypto || !crypto.subtle) throw new Error('this browser signs only on https:// pages or on this computer (localhost)');
  const { seed, claimed } = seedOf(text, name);
  const der = concat(unhex(PKCS8_ED25519_PREFIX, 16, 'prefix'), seed);
  try {
    // Imported once as extractable only to learn the public key (the JWK's x), then for good without export.
    const probe = await crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, true, ['sign']);
    const { x } = await crypto.subtle.exportKey('jwk', probe);
    const publicKey = tohex(Uint8Array.from(atob(x.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)));
    if (claimed && claimed !== publicKey) throw new Error('its public_key does not match its secret_key');
    const key = await crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign']);
    return { key, publicKey, caller: null, file: name };
  } finally { seed.fill(0); der.fill(0); }
}

/** The four headers of a signed read: ed25519 over
 *  "coldchain/read/v2\n" METHOD "\n" PATH?QUERY "\n" TIMESTAMP "\n" NONCE "\n" NODE,
 *  NODE being this node's validator key: a fresh nonce each time, so a captured read cannot be replayed. */
async function readHeaders(reader, method, pathAndQuery) {
  if (!state.status) state.status = (await (await fetch('/v1/status')).json()).result;
  const node = state.status.validator.public_key;
  const timestamp = String(Date.now());
  const nonce = tohex(crypto.getRandomValues(new Uint8Array(16)));
  const message = utf8.encode(`coldchain/read/v2\n${method}\n${pathAndQuery}\n${timestamp}\n${nonce}\n${node}`);
  const signature = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, reader.key, message));
  return { 'x-coldchain-key': reader.publicKey, 'x-coldchain-timestamp': timestamp, 'x-coldchain-nonce': nonce, 'x-coldchain-signature': tohex(signature) };
}

async function signIn(file) {
  const error = $('signin-error');
  error.hidden = true;
  $('key-file').value = '';
  let reader;
  try {
    reader = await importReader(await file.text(), file.name);
    // Whether this node knows the key, and as whom: a signed read of the status names the caller
    // (401 for a key it does not know).
    try { reader.caller = (await api('/v1/status', reader)).caller || null; } catch (e) {
      throw new Error(`this node does not accept the key: ${e.message}`);
    }
  } catch (e) {
    error.textContent = `Cannot sign in with ${file.name}: ${e.message}`;
    error.hidden = false;
    return;
  }
  state.reader = reader;
  renderReader();
  route();
  loadAlerts();
  connectAlertStream();
}

function signOut() {
  state.reader = null;
  $('signin-error').hidden = true;
  renderReader();
  route();
  loadAlerts();
  connectAlertStream();
}

function renderReader() {
  const r = state.reader;
  $('reader-who').replaceChildren(...(r
    ? [el('b', { id: 'reader-caller' }, r.caller || 'signed in'), ' · key ', el('span', { class: 'mono', title: r.publicKey }, `${r.publicKey.slice(0, 8)}…${r.publicKey.slice(-4)}`),
      r.caller ? '' : el('span', { class: 'small' }, ' (role shown when the node first names it)')]
    : [el('b', { id: 'reader-caller' }, 'the public'), el('span', { class: 'small' }, ' · contact details masked')]));
  $('signin').hidden = !!r;
  $('signout').hidden = !r;
}

/** Links to gateway files (the trace CSV) download through a signed read when signed in. */
async function signedDownload(e) {
  if (!state.reader) return;
  e.preventDefault();
  const a = e.currentTarget;
  try {
    const res = await get(a.getAttribute('href'));
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const link = el('a', { href: URL.createObjectURL(await res.blob()), download: a.getAttribute('download') });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  } catch (err) { a.after(el('div', { class: 'error small' }, `Download: ${err.message}`)); }
}

// ------------------------------------------------------------------ transaction and block views

async function showTx(id) {
  const ticket = ++state.ticket;
  const view = $('view');
  view.replaceChildren(el('div', { class: 'card muted' }, `Looking up transaction ${id} …`));
  let tx;
  try { tx = await api(`/v1/tx/${encodeURIComponent(id)}`); } catch (e) {
    if (ticket === state.ticket) view.replaceChildren(errorBox(`Transaction ${id}`, e));
    return;
  }
  if (ticket !== state.ticket) return;
  if (state.reader && tx.caller && state.reader.caller !== tx.caller) { state.reader.caller = tx.caller; renderReader(); }
  const t = tx.transaction, record = t && t.record;
  const outcome = tx.outcome && (tx.outcome.status === 'applied' ? 'applied to the ledger'
    : `refused by the rules: ${tx.outcome.field || ''} ${tx.outcome.rule || JSON.stringify(tx.outcome)}`);
  const proofArea = el('div', { id: 'proof' });
  view.replaceChildren(el('section', { class: 'card', id: 'tx' },
    el('h2', {}, `Record ${record ? `“${record.type}”` : ''} — transaction`),
    facts([
      ['Transaction id', el('span', { class: 'mono' }, tx.tx_id)],
      ['State', tx.state === 'finalized' ? 'final: confirmed by the bureaus' : 'pending: not yet confirmed'],
      ['Block', tx.height !== undefined ? el('a', { href: `#block/${tx.height}` }, `#${tx.height}, record ${tx.index + 1}`) : null],
      ['Outcome', outcome],
      ['Signed by key', t && el('span', { class: 'mono' }, t.signer.public_key)],
      ['Read as', tx.caller],
    ]),
    tx.masked ? el('p', { class: 'note', id: 'masked-note' }, state.reader
      ? `Contact details are masked for you: as ${tx.caller || 'this key'} your role may not see this enterprise’s contacts in full. What you see is a view of the record, not the signed record itself.`
      : 'Contact details are masked for you; sign in with your bureau’s or enterprise’s key to see what your role may see.') : null,
    record ? el('details', { open: tx.masked || undefined }, el('summary', {}, tx.masked ? 'The record, masked for you' : 'The record as signed'),
      el('pre', { class: 'record', id: 'record' }, JSON.stringify(record, null, 2))) : null,
    el('h3', {}, 'Proof that the bureaus confirmed it'), proofArea));
  if (tx.state === 'finalized') await loadProof(id, proofArea, ticket);
  else {
    proofArea.append(el('p', { class: 'muted' }, 'A proof exists once the record is final; this view looks again every few seconds.'));
    setTimeout(() => { if (ticket === state.ticket) showTx(id); }, 3000);
  }
}

async function loadProof(id, area, ticket) {
  let bundle;
  try { bundle = await api(`/v1/proofs/${encodeURIComponent(id)}`); } catch (e) {
    area.replaceChildren(el('div', { class: 'error' }, `No proof: ${e.message}`));
    return;
  }
  if (ticket !== state.ticket) return;
  state.proof = bundle;
  const download = el('button', { type: 'button', id: 'download-proof', onclick: () => {
    const a = el('a', { href: URL.createObjectURL(new Blob([JSON.stringify(bundle, null, 1)], { type: 'application/json' })), download: `proof-${id}.json` });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } }, 'Download proof');
  const genesis = el('input', { type: 'file', accept: '.json,application/json', onchange: async () => {
    const file = genesis.files[0];
    try { state.genesisAnchor = state.anchor = anchorFromGenesis(JSON.parse(await file.text()), file.name); } catch (e) { result.replaceChildren(el('div', { class: 'error' }, e.message)); return; }
    await render();
  } });
  const result = el('div', { id: 'proof-result' });
  area.replaceChildren(el('div', { class: 'toolbar' }, download, el('span', { class: 'spacer' }), el('label', { class: 'small' }, 'Check against my own genesis.json: ', genesis)), result);
  async function render() {
    if (!window.crypto || !crypto.subtle) {
      result.replaceChildren(el('div', { class: 'verdict bad' }, 'This browser allows hashing and signature checks only on https:// pages or on this computer (localhost). ' +
        'Download the proof and run: coldchain verify --genesis genesis.json proof.json'));
      return;
    }
    if (!state.anchor) { result.replaceChildren(el('div', { class: 'error' }, 'The validator keys are not known yet (no status from this node).')); return; }
    result.replaceChildren(el('div', { class: 'verdict wait' }, 'Verifying in this browser …'));
    let v;
    try { v = await verifyProof(bundle, state.anchor); } catch (e) { v = { ok: false, checks: [{ name: 'Reading the proof', what: '', ok: false, detail: e.message }] }; }
    const failed = v.checks.find((c) => c.ok === false);
    const signed = v.ok && `${v.signers.length} of the ${v.validators} bureaus (${v.signers.join(', ')}) signed as final`;
    // Which validator set the block is in: epoch 0 is genesis's; each later one a governance change of the bureaus.
    const epoch = v.ok && (v.epoch ? `of epoch ${v.epoch} (the bureaus as changed by governance since the ledger’s start, each change signed by the bureaus before it)`
      : 'of epoch 0 (the bureaus named at the ledger’s start)');
    result.replaceChildren(
      el('div', { class: `verdict ${v.ok ? 'ok' : 'bad'}`, id: 'verdict', 'data-valid': String(v.ok), 'data-record': v.recordIncluded === false ? 'withheld' : 'included', 'data-epoch': v.ok ? v.epoch : null },
        !v.ok ? `✘ INVALID — ${failed ? `${failed.name}: ${failed.detail}` : 'the proof could not be checked'}`
          : v.recordIncluded ? `✔ VALID (record included) — verified in this browser: this record, byte for byte, is in block ${v.height} ${epoch}, which ${signed}.`
            : `✔ VALID (transaction id proven) — verified in this browser: transaction ${short(String(v.txId))} is in block ${v.height} ${epoch}, which ${signed}. ` +
              'The record itself is withheld from you, so its content is not part of this check.'),
      el('ol', { class: 'checks' }, v.checks.map((c) => el('li', { class: c.ok ? 'ok' : c.ok === false ? 'bad' : c.notRun ? 'na' : 'skip', 'data-check': c.number, title: c.number && `check ${c.number} of docs/PROOFS.md` },
        el('span', { class: 'mark' }, c.ok ? '✔' : c.ok === false ? '✘' : c.notRun ? '○' : '–'), el('b', {}, c.name),
        el('span', {}, el('span', { class: 'what' }, c.what), el('span', { class: 'detail' }, c.detail))))),
      el('p', { class: 'muted small' }, `Checked with ${state.anchor.source}. `, state.genesisAnchor ? ''
        : 'A node could report false keys: for a check that trusts no node, choose the consortium’s genesis.json above, or run coldchain verify.',
        v.recordIncluded === false ? ' Whoever holds the record can check that it hashes to this transaction id; coldchain verify accepts this proof likewise.' : ''));
  }
  await render();
}

async function showBlock(height) {
  const ticket = ++state.ticket;
  let b;
  try { b = await api(`/v1/blocks/${encodeURIComponent(height)}`); } catch (e) {
    if (ticket === state.ticket) $('view').replaceChildren(errorBox(`Block ${height}`, e));
    return;
  }
  if (ticket !== state.ticket) return;
  const h = b.header, names = state.status ? state.status.validators.map((v) => v.name) : [];
  const cert = b.finality && b.finality.certificate;
  $('view').replaceChildren(el('section', { class: 'card', id: 'block' },
    el('h2', {}, `Block #${b.height}`),
    facts([
      ['Time', time(h.time_ms)], ['Hash', el('span', { class: 'mono' }, b.hash)], ['Previous block', el('span', { class: 'mono' }, h.parent)],
      ['Proposed by', names[h.proposer] || h.proposer], ['Records', h.tx_count],
      ['Final', cert ? `signed by ${cert.signatures.map((s) => names[s.signer] || s.signer).join(', ')}`
        : b.finality ? el('span', {}, 'through the certificate of block ', el('a', { href: `#block/${b.finality.covered_by}` }, `#${b.finality.covered_by}`), ', which extends it') : 'genesis'],
    ]),
    b.tx_ids.length ? table(['#', 'Transaction'], b.tx_ids.map((id, i) => el('tr', {}, el('td', {}, i + 1), el('td', {}, txLink(id, id)))), 'compact') : el('p', { class: 'muted' }, 'No records in this block.')));
}

function showWelcome() {
  ++state.ticket;
  const first = [...state.alerts.values()][0];
  $('view').replaceChildren(el('section', { class: 'card welcome' },
    el('h2', {}, 'Trace imported cold-chain food across Beijing, Tianjin and Hebei'),
    el('p', {}, 'The market-supervision bureaus of Beijing, Tianjin and Hebei and the national platform each keep an identical copy of the trace ledger. ' +
      'A record counts once at least three of the four have signed it; after that no single bureau can change or remove it.'),
    el('ol', {},
      el('li', {}, 'Type the trace code from a pack in the box above, in its province’s code scheme, and press Trace: you see where the lot entered the country, every enterprise that held it and what each holds now.'),
      el('li', {}, 'Click “verify” next to any step to see its record and a proof this browser checks by itself.'),
      el('li', {}, 'Bureaus signed in with their admin key see alerts raised by any bureau on the right as soon as they are final.')),
    first ? el('p', {}, 'For example, the code of the latest alert: ', el('a', { href: `#trace/${encodeURIComponent(first.scheme)}/${encodeURIComponent(first.code)}` }, `${first.scheme} ${first.code}`)) : null));
}

// ------------------------------------------------------------------ alerts, live (bureaus only)

const isBureau = () => !!(state.reader && (state.reader.caller || '').startsWith('bureau '));

async function loadAlerts() {
  try {
    const notices = await api('/v1/notices');
    state.notices = notices;
    if (!isBureau()) {
      state.alerts = new Map();
      $('alerts').replaceChildren(el('p', { class: 'muted small', id: 'alerts-for-bureaus' },
        'Alerts are for bureaus: sign in with your bureau’s admin key file to see them, live. ',
        'Public notices of positive tests: ', String(notices.length), '.'));
      return;
    }
    const alerts = await api('/v1/alerts');
    state.alerts = new Map(alerts.map((a) => [a.id, a]));
    rememberSchemes(alerts.map((a) => a.scheme));
    renderAlerts();
  } catch (e) { $('alerts').replaceChildren(el('div', { class: 'error' }, `Alerts: ${e.message}`)); }
}

function renderAlerts(fresh) {
  if (!isBureau()) return;
  const list = [...state.alerts.values()].sort((a, b) => (a.state === 'closed') - (b.state === 'closed') || b.height - a.height);
  const open = list.filter((a) => a.state !== 'closed').length;
  $('alerts').replaceChildren(el('p', { class: 'muted small' }, list.length ? `${open} open of ${list.length}.` : 'No alerts: no bureau has reported a positive test.'),
    ...list.map((a) => el('div', { class: `alert ${a.state === 'closed' ? 'closed' : ''} ${a.id === fresh ? 'fresh' : ''}`, 'data-id': a.id, 'data-state': a.state },
      el('div', {}, el('span', { class: `state ${a.state}` }, a.state), ' ',
        el('a', { href: `#trace/${encodeURIComponent(a.scheme)}/${encodeURIComponent(a.code)}` }, `${a.scheme} ${a.code}`)),
      el('div', { class: 'reason' }, a.reason),
      el('div', { class: 'small muted' }, `raised by ${province(a.province)} · tested ${a.tested_at} by ${a.lab} · `, txLink(a.id, 'record')),
      el('ul', {}, a.disposals.map((d) => el('li', {}, el('b', {}, province(d.province)), `: ${d.state}`, d.note ? ` — ${d.note}` : '', ' ', txLink(d.tx, '›'))),
        state.notices.filter((n) => n.alert === a.id).map((n) => el('li', {}, el('b', {}, 'Public notice: '), n.title, ' ', txLink(n.id, '›')))))));
}

/** One server-sent event ("event: K\ndata: D"), as the stream's reader gives it. */
function onAlertEvent(kind, text) {
  let data = null;
  try { data = JSON.parse(text); } catch (_) { return; }
  if (kind === 'alert' || kind === 'alert_disposal') {
    if (!data.alert) return loadAlerts();
    state.alerts.set(data.alert.id, data.alert);
    renderAlerts(data.alert.id);
  } else if (kind === 'notice') {
    if (data.notice) state.notices.unshift(data.notice);
    renderAlerts(data.notice && data.notice.alert);
  } else if (kind === 'lagged') loadAlerts();
}

let alertStream = null;
/** The alert stream, read with fetch (an EventSource cannot sign its request) while a bureau is
 *  signed in; reconnects after a drop, with a fresh signature, until the reader changes. */
async function connectAlertStream() {
  if (alertStream) alertStream.abort();
  alertStream = null;
  const live = (on, text) => { $('live').className = `live ${on ? 'on' : 'off'}`; $('live').textContent = text; };
  const reader = state.reader;
  if (!isBureau()) return live(false, 'bureaus only');
  const stop = new AbortController();
  alertStream = stop;
  let dropped = false;
  while (!stop.signal.aborted && state.reader === reader) {
    try {
      const res = await fetch('/v1/alerts/stream', { cache: 'no-store', signal: stop.signal, headers: await readHeaders(reader, 'GET', '/v1/alerts/stream') });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      live(true, '● live');
      if (dropped) loadAlerts();
      const lines = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await lines.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let kind = 'message';
          const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) kind = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if (data.length) onAlertEvent(kind, data.join('\n'));
        }
      }
    } catch (e) {
      if (stop.signal.aborted) return;
    }
    live(false, 'reconnecting…');
    dropped = true;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// ------------------------------------------------------------------ statistics (bureaus only)

const STAT_BY = { province: 'province 省份', day: 'day 日期', category: 'product category 品类', origin: 'country of origin 原产国', port: 'port of entry 口岸', type: 'record type 记录类型' };
const FIGURES = [['records', 'Records'], ['batches', 'Batches'], ['pieces', 'Pieces'], ['weight_kg', 'kg'], ['enrolled', 'Enrolled'],
  ['reporting', 'Reporting enterprises'], ['certificate_reports', 'Certificate reports'], ['flow_reports', 'Flow reports']];
/** A day in China Standard Time (the chain's days), `n` days before today. */
const cstDay = (n = 0) => new Date(Date.now() + 8 * 3600e3 - n * 86400e3).toISOString().slice(0, 10);

/** #statistics[/BY[/FROM[/TO[/PROVINCE]]]]: the figures of every province, and for the reader's own
 *  province (the national platform: the one chosen) its sent reports and who has not reported today. */
async function showStatistics(by, from, to, chosen) {
  const ticket = ++state.ticket;
  const view = $('view');
  if (!isBureau()) {
    view.replaceChildren(el('section', { class: 'card', id: 'statistics' }, el('h2', {}, 'Statistics ', el('span', { class: 'zh' }, '统计')),
      el('p', { class: 'muted', id: 'statistics-for-bureaus' }, 'Statistics are for bureaus: sign in with your bureau’s admin key file.')));
    return;
  }
  by = STAT_BY[by] ? by : 'province';
  to = /^\d{4}-\d{2}-\d{2}$/.test(to || '') ? to : cstDay();
  from = /^\d{4}-\d{2}-\d{2}$/.test(from || '') ? from : cstDay(6);
  const mine = state.reader.caller.slice('bureau '.length);
  const national = mine === '000000';
  const own = national ? (PROVINCES[chosen] && chosen !== '000000' ? chosen : '110000') : mine;
  const q = new URLSearchParams({ from, to, by }).toString();
  const scope = national ? `&province=${own}` : '';
  view.replaceChildren(el('div', { class: 'card muted' }, `Reading the statistics from ${from} to ${to} …`));
  let s, reports, unreported;
  try {
    [s, reports, unreported] = await Promise.all([api(`/v1/statistics?${q}`), api(`/v1/statistics/reports?from=${from}&to=${to}${scope}`),
      api(`/v1/statistics/unreported?day=${cstDay()}${scope}`)]);
  } catch (e) {
    if (ticket === state.ticket) view.replaceChildren(errorBox('Statistics', e));
    return;
  }
  if (ticket !== state.ticket) return;
  const shown = FIGURES.filter(([k]) => s.total[k] !== undefined);
  const label = (r) => (!r.key ? r.name || '(none)' : by === 'province' ? province(r.key) : r.name ? `${r.key} ${r.name}` : r.key);
  const input = (id, value) => el('input', { id, type: 'date', value, required: true });
  const form = el('form', { class: 'toolbar', id: 'statistics-form', onsubmit: (e) => {
    e.preventDefault();
    go(`#statistics/${$('stat-by').value}/${$('stat-from').value}/${$('stat-to').value}${national ? `/${$('stat-province').value}` : ''}`);
  } }, 'From ', input('stat-from', from), ' to ', input('stat-to', to), ' by ',
  el('select', { id: 'stat-by' }, Object.entries(STAT_BY).map(([k, v]) => el('option', { value: k, selected: k === by }, v))),
  national ? [' reports of ', el('select', { id: 'stat-province' }, Object.keys(PROVINCES).filter((p) => p !== '000000').map((p) => el('option', { value: p, selected: p === own }, province(p))))] : null,
  el('button', { type: 'submit' }, 'Show'), el('span', { class: 'spacer' }),
  el('a', { class: 'button-link', id: 'statistics-csv', href: `/v1/statistics?${q}&format=csv`, download: `statistics-${by}-${from}-${to}.csv`, onclick: signedDownload }, 'Download CSV (Excel)'));
  view.replaceChildren(
    el('section', { class: 'card', id: 'statistics' },
      el('h2', {}, `Statistics by ${STAT_BY[by]}, ${from} to ${to} `, el('span', { class: 'zh' }, '统计（摸清底数）')),
      el('p', { class: 'muted small' }, 'Every province’s figures, from indexes the chain keeps as records apply. A record counts on the day (China Standard Time) its block was made, under its submitter’s province; ' +
        'categories, origins and ports count the goods entered (lots, pieces, weight).'),
      form,
      el('div', { class: 'scroll' }, table([STAT_BY[by], ...shown.map(([, h]) => h)],
        [...s.rows, s.total].map((r) => el('tr', { class: r.key === 'total' ? 'total' : '' }, el('td', {}, r.key === 'total' ? el('b', {}, 'Total') : label(r)),
          shown.map(([k]) => el('td', { class: 'num' }, r[k])))), 'compact statistics')),
      s.rows.length ? null : el('p', { class: 'muted', id: 'statistics-empty' }, 'Nothing recorded in this range.'),
      el('h3', {}, 'Enterprises enrolled now ', el('span', { class: 'zh' }, '备案企业数')),
      el('div', { class: 'scroll' }, table(['Province', 'Type', 'Enrolled', 'of them suspended'],
        s.enterprises.map((c) => el('tr', {}, el('td', {}, province(c.province)), el('td', {}, `${c.enterprise_type} ${c.enterprise_type_name}`),
          el('td', { class: 'num' }, c.enrolled), el('td', { class: 'num' }, c.suspended))), 'compact'))),
    el('section', { class: 'card', id: 'statistics-reports' },
      el('h2', {}, `Reports ${province(own)} sent, ${from} to ${to} `, el('span', { class: 'zh' }, '本省/市上报数据')),
      el('div', { class: 'toolbar' }, `${reports.reports.length} reports${reports.truncated ? ' (more were sent; narrow the range)' : ''}`, el('span', { class: 'spacer' }),
        el('a', { class: 'button-link', id: 'reports-csv', href: `/v1/statistics/reports?from=${from}&to=${to}${scope}&format=csv`, download: `reports-${own}-${from}-${to}.csv`, onclick: signedDownload }, 'Download CSV')),
      table(['Day', 'Certificate reports', 'Flow reports'], reports.days.map((d) => el('tr', {}, el('td', {}, d.day), el('td', { class: 'num' }, d.certificate_reports), el('td', { class: 'num' }, d.flow_reports))), 'compact'),
      el('div', { class: 'scroll' }, table(['Day', 'Kind', 'Certificate / batch', 'kg', 'Product', 'Port, country or flow', 'Record'],
        reports.reports.map((r) => el('tr', {}, el('td', {}, r.reported_on), el('td', {}, r.kind), el('td', { class: 'mono' }, `${r.quarantine_number} / ${r.production_batch || ''}`),
          el('td', { class: 'num' }, r.weight_kg), el('td', {}, r.product),
          el('td', {}, r.kind === 'flow' ? `${r.direction} · ${province(r.counterpart)}` : `${r.port_of_entry} · ${r.country}`), el('td', {}, txLink(r.tx, 'verify ›')))), 'compact'))),
    el('section', { class: 'card', id: 'statistics-unreported' },
      el('h2', {}, `Not reported today (${unreported.day}) in ${province(own)} `, el('span', { class: 'zh' }, '每日一报')),
      el('div', { class: 'toolbar' }, el('span', { id: 'unreported-count' }, `${unreported.enrolled - unreported.reported} of ${unreported.enrolled} enterprises recorded nothing today`),
        el('span', { class: 'spacer' }),
        el('a', { class: 'button-link', id: 'unreported-csv', href: `/v1/statistics/unreported?day=${unreported.day}${scope}&format=csv`, download: `unreported-${own}-${unreported.day}.csv`, onclick: signedDownload }, 'Download CSV')),
      el('div', { class: 'scroll' }, table(['Enterprise', 'USCC', 'Type', 'Contact', 'Last record'],
        unreported.enterprises.map((e) => el('tr', {}, el('td', {}, e.name), el('td', { class: 'mono' }, e.uscc), el('td', {}, e.enterprise_type_name || e.enterprise_type),
          el('td', {}, e.contact || '', el('div', { class: 'muted' }, e.contact_phone || '')), el('td', {}, e.last_record || 'never'))), 'compact unreported'))));
}

// ------------------------------------------------------------------ find from a notice

const FIND_BY = { certificate: 'certificate number 检验检疫证明编号', container: 'container 集装箱号', uscc: 'enterprise USCC 统一社会信用代码',
  name: 'enterprise name 企业名称', plate: 'vehicle plate 车牌号', driver: 'driver 司机' };

/** #find[/BY/VALUE[/BATCH]]: the lots a positive-test notice names (bureaus only, GET /v1/search),
 *  each with what matched, whether it may move, and its codes to trace from. */
async function showFind(by, value, batch) {
  const ticket = ++state.ticket;
  const view = $('view');
  const heading = el('h2', {}, 'Find from a notice ', el('span', { class: 'zh' }, '按通报查找'));
  if (!isBureau()) {
    view.replaceChildren(el('section', { class: 'card', id: 'find' }, heading,
      el('p', { class: 'muted', id: 'find-for-bureaus' }, 'Finding lots is for bureaus: sign in with your bureau’s admin key file.')));
    return;
  }
  by = FIND_BY[by] ? by : 'certificate';
  const form = el('form', { class: 'toolbar', id: 'find-form', onsubmit: (e) => {
    e.preventDefault();
    const v = $('find-value').value.trim();
    const b = $('find-batch').value.trim();
    if (v) go(`#find/${$('find-by').value}/${encodeURIComponent(v)}${$('find-by').value === 'certificate' && b ? `/${encodeURIComponent(b)}` : ''}`);
  } }, el('select', { id: 'find-by' }, Object.entries(FIND_BY).map(([k, v]) => el('option', { value: k, selected: k === by }, v))), ' ',
  el('input', { id: 'find-value', value: value || '', required: true, placeholder: 'as the notice names it', size: 24 }), ' batch ',
  el('input', { id: 'find-batch', value: batch || '', placeholder: 'with a certificate', size: 10 }), ' ',
  el('button', { type: 'submit' }, 'Find'));
  if (!value) {
    view.replaceChildren(el('section', { class: 'card', id: 'find' }, heading, form));
    return;
  }
  view.replaceChildren(el('section', { class: 'card', id: 'find' }, heading, form, el('p', { class: 'muted' }, 'Searching …')));
  const q = new URLSearchParams({ [by]: value });
  if (by === 'certificate' && batch) q.set('batch', batch);
  let found;
  try {
    found = await api(`/v1/search?${q}`);
  } catch (e) {
    if (ticket === state.ticket) view.replaceChildren(el('section', { class: 'card', id: 'find' }, heading, form), errorBox('Find', e));
    return;
  }
  if (ticket !== state.ticket) return;
  const rows = found.hits.map((h) => el('tr', { 'data-certificate': h.lot.quarantine_number },
    el('td', {}, `${h.lot.quarantine_number} / ${h.lot.certificate_batch}`, el('div', { class: 'muted small' }, `${h.lot.product_name} · entered ${h.lot.entry_date} · ${h.lot.entered_kg} kg`)),
    el('td', {}, h.matched.join('; ')),
    el('td', {}, h.lot.stopped ? el('span', { class: 'error' }, h.lot.stopped) : 'may move'),
    el('td', {}, h.codes.map(([s, c]) => el('div', {}, el('a', { href: `#trace/${encodeURIComponent(s)}/${encodeURIComponent(c)}/both` }, `${s} ${c}`))))));
  view.replaceChildren(el('section', { class: 'card', id: 'find' }, heading, form,
    el('p', { id: 'find-count' }, `${found.hits.length} lot${found.hits.length === 1 ? '' : 's'}${found.truncated ? ' (more matched: narrow the search)' : ''}`),
    found.hits.length ? table(['Lot (certificate / batch)', 'What matched', 'May it move?', 'Codes: trace from'], rows, 'compact find') : null));
}

// ------------------------------------------------------------------ routing and start

function route() {
  const [kind, ...rest] = location.hash.slice(1).split('/').map((p) => { try { return decodeURIComponent(p); } catch (_) { return p; } });
  if (kind === 'trace' && rest.length >= 2) return showTrace(rest[0], rest[1], ['backward', 'forward'].includes(rest[2]) ? rest[2] : 'both');
  if (kind === 'tx' && rest[0]) return showTx(rest[0]);
  if (kind === 'block' && rest[0]) return showBlock(rest[0]);
  if (kind === 'statistics') return showStatistics(...rest);
  if (kind === 'find') return showFind(...rest);
  return showWelcome();
}
function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}
$('search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  go(`#trace/${encodeURIComponent($('scheme').value.trim())}/${encodeURIComponent($('code').value.trim())}/${$('direction').value}`);
});
$('tx-form').addEventListener('submit', (e) => { e.preventDefault(); go(`#tx/${$('tx-id').value.trim().toLowerCase()}`); });
$('key-file').addEventListener('change', () => { if ($('key-file').files[0]) signIn($('key-file').files[0]); });
$('signout').addEventListener('click', signOut);
renderReader();
window.addEventListener('hashchange', route);
rememberSchemes([]);
// For tests and the curious: the verifier, callable from the console.
window.coldchain = { verifyProof, anchorFromStatus, anchorFromGenesis, state, api, get };

(async () => {
  connectAlertStream();
  await Promise.all([refreshStatus(), loadAlerts()]);
  route();
  setInterval(refreshStatus, 3000);
})();
