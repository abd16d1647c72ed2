//! `coldchain`: the one binary of the consortium chain.

#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod backup;
mod bench;
mod bench_trace;
mod client;
mod cluster;
mod demo;
mod import;
mod testnet;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use client::Gateway;
use coldchain_node::crypto::{generate_key, read_key_file, write_key_file};
use coldchain_node::genesis::Genesis;
use coldchain_node::proof::{ProofBundle, ProofVerifier};
use serde_json::Value;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "coldchain", version, about = "The Beijing–Tianjin–Hebei cold-chain trace consortium chain")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new ed25519 key file (mode 0600) and print its public key.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a local consortium: genesis.json, and per bureau node.toml, validator.key, admin.key.
    Testnet {
        #[arg(long)]
        dir: PathBuf,
        /// 4 tolerates one faulty validator; 3 tolerates none.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        #[arg(long, default_value = "coldchain-local")]
        chain_id: String,
        /// Time a view waits for its leader's proposal.
        #[arg(long, default_value_t = 1000)]
        leader_timeout_ms: u64,
        /// Write the layout docker-compose.yml mounts (COLDCHAIN_NET) instead
        /// of local processes on loopback ports.
        #[arg(long)]
        docker: bool,
        /// With --docker: the first two octets of the pair networks' subnets
        /// (must match COLDCHAIN_SUBNET in docker-compose.yml's environment).
        #[arg(long, default_value = "10.77", requires = "docker")]
        subnet_prefix: String,
    },
    /// Run one validator (p2p + gateway) until SIGTERM or Ctrl-C.
    Node {
        #[arg(long)]
        config: PathBuf,
        /// Log as JSON lines instead of text.
        #[arg(long)]
        log_json: bool,
    },
    /// Start a local four-bureau consortium with demo records; runs until Ctrl-C.
    Demo {
        /// Directory for the consortium's files (default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Exit after the demo records are finalized and a proof verified.
        #[arg(long)]
        exit: bool,
    },
    /// Sign a record and submit it; prints the transaction id (and height with --wait).
    /// With --appid instead of --key, the request is signed with the app
    /// secret (seed 004's appid/timestamp/nonce/signature headers), read from
    /// the environment variable COLDCHAIN_APP_SECRET.
    Submit {
        #[arg(long)]
        gateway: String,
        /// An ed25519 key file (enterprise, bureau admin).
        #[arg(long, required_unless_present = "appid", conflicts_with = "appid")]
        key: Option<PathBuf>,
        /// An app id issued by your bureau (`coldchain app issue`).
        #[arg(long)]
        appid: Option<String>,
        /// The record: a JSON object with a "type", e.g. {"type":"notarise","document":{…}}.
        record: PathBuf,
        /// Wait until the transaction is finalized.
        #[arg(long)]
        wait: bool,
    },
    /// Import records in bulk from a JSON Lines, CSV or .xlsx file
    /// (docs/OPERATIONS.md, "Bulk import"), signed with --key or sent with
    /// --appid (secret in COLDCHAIN_APP_SECRET), in batches; writes a report
    /// line per row. Running it again after an interruption submits no row
    /// twice. Exit 0 when every row is finalized, 2 when some are not.
    ImportRecords {
        /// .jsonl (one record object per line), .csv (one record type per
        /// file) or .xlsx (one sheet per record type, named by it).
        #[arg(required_unless_present = "template")]
        file: Option<PathBuf>,
        #[arg(long, required_unless_present = "template")]
        gateway: Option<String>,
        /// The enterprise's ed25519 key file.
        #[arg(long, conflicts_with = "appid")]
        key: Option<PathBuf>,
        /// An app id issued by your bureau; send to that bureau's gateway.
        #[arg(long)]
        appid: Option<String>,
        /// The record type of a CSV file (else its `type` column or its file
        /// name, e.g. product_batch.csv) or of JSON Lines records without one.
        #[arg(long = "type")]
        record_type: Option<String>,
        /// Rows per request (POST /v1/records/batch).
        #[arg(long, default_value_t = 500)]
        batch_size: usize,
        /// Requests in flight at once (with --key).
        #[arg(long, default_value_t = 4)]
        parallel: usize,
        /// The report (CSV, one line per row) [default: FILE's name with .report.csv, beside it].
        #[arg(long)]
        report: Option<PathBuf>,
        /// How long to wait for accepted rows to be final before reporting them pending.
        #[arg(long, default_value_t = 120_000)]
        wait_ms: u64,
        /// Write a blank template of this record type to --out (.xlsx or .csv) instead.
        #[arg(long, conflicts_with_all = ["file", "gateway", "key", "appid"], requires = "out")]
        template: Option<String>,
        #[arg(long, requires = "template")]
        out: Option<PathBuf>,
        /// The template's header spelling: camel (quarantineInfo.quarantineNumber) or seed (Quarantine_info.Quarantine_number).
        #[arg(long, default_value = "camel")]
        spelling: String,
    },
    /// Trace a code of any province's scheme across provinces.
    Trace {
        #[arg(long)]
        gateway: String,
        /// The code's scheme id, e.g. BJ-ZS.
        #[arg(long)]
        scheme: String,
        code: String,
        /// forward (where it went), backward (where it came from), both.
        #[arg(long, default_value = "both")]
        direction: String,
        /// table, json, csv, dot, svg or epcis (an EPCIS 2.0 JSON-LD document).
        #[arg(long, default_value = "table")]
        format: String,
        /// Read as this key's bureau, enterprise or auditor (else contacts are masked).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Find lots as a bureau from what a positive-test notice names: a
    /// certificate (and batch), a container, an enterprise, a truck or a
    /// driver. Prints each lot, what matched, and its codes to trace from.
    Search {
        #[arg(long)]
        gateway: String,
        /// Your bureau's admin key (search is for bureaus only).
        #[arg(long)]
        key: PathBuf,
        /// Entry quarantine certificate number (检验检疫证明编号).
        #[arg(long, group = "by")]
        certificate: Option<String>,
        /// With --certificate: its production batch.
        #[arg(long, requires = "certificate")]
        batch: Option<String>,
        #[arg(long, group = "by")]
        container: Option<String>,
        /// An enterprise's unified social credit code.
        #[arg(long, group = "by")]
        uscc: Option<String>,
        /// Part of an enterprise's name.
        #[arg(long, group = "by")]
        name: Option<String>,
        /// A vehicle plate, e.g. 冀B12345.
        #[arg(long, group = "by")]
        plate: Option<String>,
        /// A driver's name.
        #[arg(long, group = "by")]
        driver: Option<String>,
        /// Print the JSON answer instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Read alerts as a bureau (signed with its admin key): every alert, one
    /// alert with its affected set, or the live stream (--follow).
    Alerts {
        #[arg(long)]
        gateway: String,
        /// Your bureau's admin key (alerts are for bureaus only).
        #[arg(long)]
        key: PathBuf,
        /// One alert: its transaction id.
        id: Option<String>,
        /// Print the server-sent events (alert, alert_disposal, notice) as they finalize, until Ctrl-C.
        #[arg(long, conflicts_with = "id")]
        follow: bool,
    },
    /// Register a client of the national report interfaces for your bureau's
    /// province: prints a new secret once; the chain keeps only SHA-256 of
    /// `clientId:secret`.
    ReportClient {
        #[arg(long)]
        gateway: String,
        /// The bureau's admin key (DIR/NAME/admin.key from `coldchain testnet`).
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        client_id: String,
        /// Revoke the client instead.
        #[arg(long)]
        revoke: bool,
    },
    /// Issue or revoke an enterprise's app id (seed 004 signed requests), as
    /// its province's bureau, at that bureau's own node.
    App {
        #[command(subcommand)]
        action: AppAction,
    },
    /// Changes to the consortium, decided by a quorum of bureaus
    /// (docs/OPERATIONS.md, "A bureau rotates its admin key").
    Governance {
        #[command(subcommand)]
        action: GovernanceAction,
    },
    /// Print the proof bundle of a finalized transaction.
    Proof {
        #[arg(long)]
        gateway: String,
        tx_id: String,
        /// Read as this key's bureau, enterprise or auditor: the bundle then
        /// carries the record when that role may see it in full.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Write it to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print a state proof: a code's lot and holders, an enterprise's
    /// enrolment, or any entry by key, under a certified state root.
    StateProof {
        #[arg(long)]
        gateway: String,
        /// With --code: a code's resolution, its lot and the lot's holders.
        #[arg(long, requires = "code")]
        scheme: Option<String>,
        #[arg(long, requires = "scheme")]
        code: Option<String>,
        /// An enterprise's USCC: its enrolment and status (bureaus and auditors).
        #[arg(long, conflicts_with_all = ["scheme", "entry"])]
        enterprise: Option<String>,
        /// Any entry's key bytes, hex (docs/FORMATS.md; bureaus and auditors).
        #[arg(long, conflicts_with_all = ["scheme", "enterprise"])]
        entry: Option<String>,
        /// Read as this key's bureau or auditor.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Write it to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check proof bundles (of transactions, or of state entries) offline
    /// against a genesis file; exit 0 only if all hold.
    Verify {
        #[arg(long)]
        genesis: PathBuf,
        /// One or more proof files (a bundle, or the gateway's envelope around one).
        #[arg(required = true)]
        proofs: Vec<PathBuf>,
    },
    /// Measure: throughput, latency, overload behaviour of a local
    /// four-validator cluster, this machine's verification limit; or offline
    /// proof verification. Prints figures; asserts nothing.
    Bench {
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Only measure offline proof verification on one core.
        #[arg(long)]
        verify_proofs: bool,
        /// Only measure the trace chaincode on one core: a state of
        /// `--movements` generated movement records across the three
        /// provinces, applied in blocks of 1,000, then random traces.
        #[arg(long)]
        trace: bool,
        /// Movement records in the trace benchmark's state.
        #[arg(long, default_value_t = 1_000_000)]
        movements: usize,
        /// Random traces per direction in the trace benchmark.
        #[arg(long, default_value_t = 1_000)]
        traces: usize,
        /// Comparison mode of the benchmark only: opaque payloads of this
        /// many bytes with per-record signature checks skipped, four
        /// validators in this process (no `coldchain node` can skip them).
        #[arg(long, value_name = "BYTES")]
        opaque: Option<usize>,
        /// Records in the full-load phase [default: 60,000; with --opaque
        /// 200,000, so the phase lasts seconds, not two].
        #[arg(long)]
        records: Option<usize>,
        /// Records per POST /v1/tx/batch.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Concurrent clients in the full-load phase, each with one batch in flight.
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Only measure an idle consortium: four validators, no submissions,
        /// for this many seconds; prints blocks, bytes written and CPU per
        /// node, then how fast the first record after the pause is final.
        #[arg(long, value_name = "SECONDS")]
        idle: Option<u64>,
    },
    /// Write the finalized chain to a file (JSON Lines, docs/OPERATIONS.md):
    /// from a running node's gateway, or from a stopped node's data directory.
    Export {
        /// A running node's gateway, e.g. http://127.0.0.1:8001.
        #[arg(long, required_unless_present = "config", conflicts_with = "config")]
        gateway: Option<String>,
        /// A stopped node's node.toml (its data directory is read).
        #[arg(long)]
        config: Option<PathBuf>,
        /// With --gateway: your bureau's admin key (the export is the whole
        /// chain unmasked; only bureaus may read it).
        #[arg(long, requires = "gateway")]
        key: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Append an export's blocks to a stopped node's store, checking every
    /// block and certificate against genesis; the node then catches up from
    /// its peers when started.
    Import {
        /// The node's node.toml (its data directory may be empty).
        #[arg(long)]
        config: PathBuf,
        file: PathBuf,
    },
    /// Replay a stopped node's chain from genesis and check the state root
    /// after every block against the one recorded at commit (a node does the
    /// same at every start, and refuses to start on a difference).
    VerifyChain {
        /// The node's node.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// Exit 0 when a node's gateway answers 200 on PATH, else 1: a container
    /// healthcheck that needs no shell.
    Health {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        gateway: String,
        #[arg(long, default_value = "/readyz")]
        path: String,
    },
    /// Print a node's status.
    Status {
        #[arg(long)]
        gateway: String,
    },
}

#[derive(Subcommand)]
enum AppAction {
    /// Issue an app id; prints its secret once.
    Issue(AppArgs),
    /// Revoke an app id: its requests are refused from the next block on.
    Revoke(AppArgs),
    /// Revoke an app id and issue it again: a new secret replaces one that
    /// was lost or exposed (the secret is shown once, at issue).
    Rotate(AppArgs),
}

#[derive(Subcommand)]
enum GovernanceAction {
    /// Propose a change to the consortium (the first approval), signed with
    /// your bureau's admin key; waits until it is finalized.
    Propose {
        #[arg(long)]
        gateway: String,
        /// Your bureau's admin key.
        #[arg(long)]
        key: PathBuf,
        /// The change: rotate_admin_key, add_validator, remove_validator,
        /// rotate_validator_key or set_consensus_params.
        #[arg(long, default_value = "rotate_admin_key", value_parser = ["rotate_admin_key", "add_validator", "remove_validator", "rotate_validator_key", "set_consensus_params"])]
        change: String,
        /// The bureau the change is about (e.g. 110000; the new one's for
        /// add_validator); none for set_consensus_params.
        #[arg(long, default_value = "")]
        province: String,
        /// The new bureau's name (add_validator), e.g. shandong.
        #[arg(long)]
        name: Option<String>,
        /// The new validator public key, 64 hex (add_validator, rotate_validator_key).
        #[arg(long)]
        validator_key: Option<String>,
        /// The new admin public key, 64 hex, as `coldchain keygen` prints it (rotate_admin_key, add_validator).
        #[arg(long)]
        admin_key: Option<String>,
        /// set_consensus_params: the largest transaction, canonical bytes.
        #[arg(long)]
        max_tx_bytes: Option<u64>,
        /// set_consensus_params: most transactions in a block.
        #[arg(long)]
        max_block_txs: Option<u64>,
        /// set_consensus_params: most transaction bytes in a block.
        #[arg(long)]
        max_block_bytes: Option<u64>,
        /// set_consensus_params: how far ahead of a validator's clock a block's time may be, ms.
        #[arg(long)]
        max_clock_drift_ms: Option<u64>,
    },
    /// Approve a pending change by its digest (`status` lists them): your
    /// bureau signs the same change; the approval that makes the quorum
    /// puts it in effect.
    Approve {
        #[arg(long)]
        gateway: String,
        /// Your bureau's admin key.
        #[arg(long)]
        key: PathBuf,
        /// The change's digest, 64 hex.
        digest: String,
    },
    /// List every change: pending ones with their approvals, and those in
    /// effect with their height.
    Status {
        #[arg(long)]
        gateway: String,
    },
}

#[derive(clap::Args)]
struct AppArgs {
    /// The gateway of your bureau's own validator.
    #[arg(long)]
    gateway: String,
    /// Your bureau's admin key.
    #[arg(long)]
    key: PathBuf,
    #[arg(long)]
    appid: String,
    /// The enterprise's unified social credit code (enrolled in your province).
    #[arg(long)]
    uscc: String,
}

/// glibc gives every thread that allocates its own arena (up to 8 per core)
/// and keeps what each arena once held: a node's peak resident memory was
/// 400–450 MB for 140 MB of live heap. Two arenas per node: 200–250 MB, and
/// no less throughput (docs/BENCHMARKS.md). `bench --opaque` runs four
/// validators in this one process: two arenas each, as four processes would
/// have (with two in all, their threads queued on the arenas' locks: 22–32k
/// payloads/s against 33–37k). `MALLOC_ARENA_MAX` in the environment still
/// decides when set.
fn limit_malloc_arenas(nodes: i32) {
    #[cfg(target_env = "gnu")]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a tunable; called before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2 * nodes);
        }
    }
    #[cfg(not(target_env = "gnu"))]
    let _ = nodes;
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    limit_malloc_arenas(match &cli.command {
        Command::Bench { opaque: Some(_), .. } => 4,
        _ => 1,
    });
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,libp2p=warn,sled=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn run(cli: Cli) -> Result<std::process::ExitCode> {
    match cli.command {
        Command::Keygen { out } => {
            let key = generate_key();
            write_key_file(&out, &key)?;
            let public = key.verifying_key().to_bytes();
            println!("public_key: {}", hex::encode(public));
            println!("peer_id:    {}", coldchain_node::network::peer_id_of(&public));
            println!("written to {} (mode 0600)", out.display());
        }
        Command::Testnet { dir, validators, chain_id, leader_timeout_ms, docker: true, subnet_prefix } => {
            testnet::create_docker(&dir, &testnet::Options { validators, chain_id, leader_timeout_ms }, &subnet_prefix)?;
            println!("docker testnet of {validators} validators in {}: start it with", dir.display());
            println!("  COLDCHAIN_NET={} COLDCHAIN_SUBNET={subnet_prefix} docker-compose up -d", dir.display());
            println!("admin keys (kept out of the containers): {}", dir.join("admin").display());
        }
        Command::Testnet { dir, validators, chain_id, leader_timeout_ms, .. } => {
            let nodes = testnet::create(&dir, &testnet::Options { validators, chain_id, leader_timeout_ms })?;
            let q = coldchain_node::genesis::quorum(validators);
            println!("testnet of {validators} validators in {} (quorum {q}, tolerates {} faulty)", dir.display(), validators - q);
            if validators < 4 {
                println!("note: with fewer than 4 validators no faulty validator is tolerated; one node down stops finalization");
            }
            for n in &nodes {
                println!("  {:<9} {}   coldchain node --config {}", n.name, n.gateway, n.config.display());
            }
            println!("gateway URLs also in {}", dir.join("testnet.json").display());
        }
        Command::Node { config, log_json } => {
            init_logs(log_json);
            // A panic in any task or thread ends the process with one clear
            // line (a supervisor restarts it), instead of leaving a node that
            // answers /healthz while its consensus or gateway task is dead.
            // The store is crash-safe: nothing acknowledged is lost.
            std::panic::set_hook(Box::new(|info| {
                let thread = std::thread::current().name().unwrap_or("unnamed").to_string();
                tracing::error!(%thread, panic = %info, "a task of the node panicked: exiting (code 70) so that a supervisor restarts it");
                eprintln!("coldchain node: panic in thread {thread}: {info}; exiting");
                std::process::exit(70);
            }));
            let cfg = coldchain_node::config::NodeConfig::load(&config)?;
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(async move { coldchain_node::runtime::run(cfg, shutdown_signal()).await })?;
        }
        Command::Demo { dir, exit } => demo::run(dir, exit)?,
        Command::Submit { gateway, key, appid, record, wait } => {
            let text = std::fs::read_to_string(&record).with_context(|| format!("reading {}", record.display()))?;
            let record: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", record.display()))?;
            let gw = Gateway::new(&gateway);
            let path = if wait { "/v1/records?wait=finalized" } else { "/v1/records" };
            let result = match (key, appid) {
                (Some(key), _) => {
                    let tx = client::sign_record(&gw.chain_id()?, &read_key_file(&key)?, record)?;
                    gw.post(path, &tx)?.into_result()?
                }
                (None, Some(appid)) => {
                    let secret =
                        std::env::var("COLDCHAIN_APP_SECRET").context("set COLDCHAIN_APP_SECRET to the app secret `coldchain app issue` printed")?;
                    gw.post_signed(path, &appid, &secret, &serde_json::to_vec(&record)?)?.into_result()?
                }
                (None, None) => unreachable!("clap requires --key or --appid"),
            };
            println!("tx_id: {}", result["tx_id"].as_str().unwrap_or_default());
            match result["height"].as_u64() {
                Some(h) => println!("finalized at height {h}"),
                None => println!("state: {}", result["state"].as_str().unwrap_or("pending")),
            }
        }
        Command::ImportRecords { template: Some(record_type), out, spelling, .. } => {
            use coldchain_node::gateway::templates::{self, Spelling};
            let out = out.context("--template needs --out FILE.xlsx or FILE.csv")?;
            let cols = coldchain_chaincode::records::columns::columns(&record_type).with_context(|| {
                format!(
                    "no template for \"{record_type}\"; templates exist for: {}",
                    coldchain_chaincode::records::columns::IMPORTED_TYPES.join(", ")
                )
            })?;
            let spelling = match spelling.as_str() {
                "camel" => Spelling::Camel,
                "seed" => Spelling::Seed,
                other => anyhow::bail!("--spelling {other}: camel or seed"),
            };
            let bytes = match out.extension().and_then(|e| e.to_str()) {
                Some("xlsx") => templates::xlsx(&record_type, cols, spelling).map_err(|e| anyhow::anyhow!("{e}"))?,
                Some("csv") => templates::csv(cols, spelling).into_bytes(),
                _ => anyhow::bail!("--out {}: name a .xlsx or .csv file", out.display()),
            };
            std::fs::write(&out, bytes).with_context(|| format!("writing {}", out.display()))?;
            println!("{record_type} template ({} columns) written to {}", cols.len(), out.display());
        }
        Command::ImportRecords { file, gateway, key, appid, record_type, batch_size, parallel, report, wait_ms, .. } => {
            let file = file.context("name the file to import")?;
            let auth = match (key, appid) {
                (Some(key), _) => import::Auth::Key(read_key_file(&key)?),
                (None, Some(appid)) => {
                    let secret =
                        std::env::var("COLDCHAIN_APP_SECRET").context("set COLDCHAIN_APP_SECRET to the app secret `coldchain app issue` printed")?;
                    import::Auth::App { appid, secret }
                }
                (None, None) => anyhow::bail!("give --key (the enterprise's key file) or --appid (with COLDCHAIN_APP_SECRET)"),
            };
            let report = report.unwrap_or_else(|| import::report::default_path(&file));
            let opts = import::Options {
                gateway: gateway.context("--gateway is required")?,
                file: file.clone(),
                auth,
                record_type,
                batch_size,
                parallel,
                report: report.clone(),
                wait_ms,
            };
            let summary = import::run(&opts)?;
            println!("{}: {summary}", file.display());
            println!("report: {}", report.display());
            if !summary.all_finalized() {
                eprintln!("{} rows not imported: see the report's status, column, field and rule", summary.rows - summary.finalized);
                return Ok(std::process::ExitCode::from(2));
            }
        }
        Command::Trace { gateway, scheme, code, direction, format, key } => {
            let gw = Gateway::new(&gateway).reading_as(key.map(|k| read_key_file(&k)).transpose()?);
            let query =
                format!("/v1/trace?scheme={}&code={}&direction={}", client::escape(&scheme), client::escape(&code), client::escape(&direction));
            match format.as_str() {
                "table" => print!("{}", client::trace_table(&gw.get(&query)?.into_result()?)),
                "json" => println!("{}", serde_json::to_string_pretty(&gw.get(&query)?.into_result()?)?),
                "csv" | "dot" | "svg" | "epcis" => print!("{}", gw.get_text(&format!("{query}&format={format}"))?),
                other => anyhow::bail!("--format {other}: use table, json, csv, dot, svg or epcis"),
            }
        }
        Command::Search { gateway, key, certificate, batch, container, uscc, name, plate, driver, json } => {
            let gw = Gateway::new(&gateway).reading_as(Some(read_key_file(&key)?));
            let params: Vec<String> = [
                ("certificate", certificate),
                ("batch", batch),
                ("container", container),
                ("uscc", uscc),
                ("name", name),
                ("plate", plate),
                ("driver", driver),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k}={}", client::escape(&v))))
            .collect();
            anyhow::ensure!(
                !params.is_empty(),
                "name what to search by: --certificate (and --batch), --container, --uscc, --name, --plate or --driver"
            );
            let result = gw.get(&format!("/v1/search?{}", params.join("&")))?.into_result()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                print!("{}", client::search_table(&result));
            }
        }
        Command::Alerts { gateway, key, id, follow } => {
            let gw = Gateway::new(&gateway).reading_as(Some(read_key_file(&key)?));
            if follow {
                gw.follow("/v1/alerts/stream")?;
            } else {
                let path = match &id {
                    Some(id) => format!("/v1/alerts/{}", client::escape(id)),
                    None => "/v1/alerts".to_string(),
                };
                println!("{}", serde_json::to_string_pretty(&gw.get(&path)?.into_result()?)?);
            }
        }
        Command::ReportClient { gateway, key, client_id, revoke } => {
            let key = read_key_file(&key)?;
            let secret = hex::encode(generate_key().to_bytes());
            let credential = coldchain_chaincode::Hash::digest(format!("{client_id}:{secret}").as_bytes());
            let record =
                serde_json::json!({"type": "report_client", "clientId": client_id, "credentialSha256": credential.to_hex(), "revoked": revoke});
            let gw = Gateway::new(&gateway);
            let tx = client::sign_record(&gw.chain_id()?, &key, record)?;
            let result = gw.post("/v1/records?wait=finalized", &tx)?.into_result()?;
            println!("tx_id: {}", result["tx_id"].as_str().unwrap_or_default());
            if revoke {
                println!("client {client_id} revoked");
            } else {
                println!("client_id: {client_id}");
                println!("secret:    {secret}   (shown once; the chain keeps only SHA-256 of clientId:secret)");
                println!(
                    "Authorization: Basic {}",
                    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{client_id}:{secret}"))
                );
            }
        }
        Command::App { action } => {
            let (args, steps): (AppArgs, &[bool]) = match action {
                AppAction::Issue(a) => (a, &[false]),
                AppAction::Revoke(a) => (a, &[true]),
                AppAction::Rotate(a) => (a, &[true, false]),
            };
            let key = read_key_file(&args.key)?;
            let gw = Gateway::new(&args.gateway);
            let chain_id = gw.chain_id()?;
            println!("appid:     {}", args.appid);
            println!("uscc:      {}", args.uscc);
            for &revoked in steps {
                let record = serde_json::json!({"type": "app_credential", "appid": args.appid, "unifSociCredCode": args.uscc, "revoked": revoked});
                let tx = client::sign_record(&chain_id, &key, record)?;
                let answer = gw.post("/v1/apps", &tx)?;
                let pending = answer.status == 202;
                let result = answer.into_result()?;
                match result["secret"].as_str() {
                    Some(secret) => {
                        println!("served by: {} (send the app's requests to this gateway)", result["served_by"].as_str().unwrap_or_default());
                        println!(
                            "secret:    {secret}   (shown once: keep it secret, it signs every request; set COLDCHAIN_APP_SECRET to use it with `coldchain submit --appid`)"
                        );
                        if pending {
                            println!(
                                "pending:   not finalized yet (tx {}); the secret works once it is",
                                result["tx_id"].as_str().unwrap_or_default()
                            );
                        }
                    }
                    None if pending => anyhow::bail!("the revocation (tx {}) is not finalized yet; run the command again later", result["tx_id"]),
                    None => println!("revoked at height {}", result["height"]),
                }
            }
        }
        Command::Governance { action } => {
            let (gateway, key, record) = match action {
                GovernanceAction::Status { gateway } => {
                    let changes = Gateway::new(&gateway).get("/v1/governance")?.into_result()?;
                    for c in changes.as_array().map(Vec::as_slice).unwrap_or_default() {
                        let approvals: Vec<String> = c["approvals"]
                            .as_array()
                            .map(Vec::as_slice)
                            .unwrap_or_default()
                            .iter()
                            .map(|a| format!("{} (height {})", a["province"].as_str().unwrap_or("?"), a["height"]))
                            .collect();
                        let state = match c["activated_height"].as_u64() {
                            Some(h) => format!("in effect from height {h}"),
                            None => format!("pending, {} of {} approvals", approvals.len(), c["quorum"]),
                        };
                        let province = c["province"].as_str().unwrap_or_default();
                        let what = match c["change"].as_str().unwrap_or_default() {
                            "add_validator" => format!(
                                "add_validator {province} {} → validator key {}, admin key {}",
                                c["name"].as_str().unwrap_or_default(),
                                c["validator_key"].as_str().unwrap_or_default(),
                                c["admin_key"].as_str().unwrap_or_default()
                            ),
                            "remove_validator" => format!("remove_validator {province}"),
                            "rotate_validator_key" => {
                                format!("rotate_validator_key {province} → {}", c["validator_key"].as_str().unwrap_or_default())
                            }
                            "set_consensus_params" => format!("set_consensus_params → {}", c["consensus"]),
                            other => format!("{other} {province} → {}", c["admin_key"].as_str().unwrap_or_default()),
                        };
                        let epoch = c["epoch"].as_u64().map(|e| format!("; started epoch {e}")).unwrap_or_default();
                        println!("{}  {what}", c["digest"].as_str().unwrap_or_default());
                        println!("    {state}{epoch}; approved by {}", approvals.join(", "));
                    }
                    return Ok(std::process::ExitCode::SUCCESS);
                }
                GovernanceAction::Propose {
                    gateway,
                    key,
                    change,
                    province,
                    name,
                    validator_key,
                    admin_key,
                    max_tx_bytes,
                    max_block_txs,
                    max_block_bytes,
                    max_clock_drift_ms,
                } => {
                    let limits = serde_json::json!({
                        "max_tx_bytes": max_tx_bytes, "max_block_txs": max_block_txs,
                        "max_block_bytes": max_block_bytes, "max_clock_drift_ms": max_clock_drift_ms,
                    });
                    let record = governance_record(&change, &province, name.as_deref(), validator_key.as_deref(), admin_key.as_deref(), &limits)?;
                    (gateway, key, record)
                }
                GovernanceAction::Approve { gateway, key, digest } => {
                    let changes = Gateway::new(&gateway).get("/v1/governance")?.into_result()?;
                    let Some(c) = changes.as_array().and_then(|l| l.iter().find(|c| c["digest"].as_str() == Some(digest.as_str()))).cloned() else {
                        anyhow::bail!("no change {digest} on chain at {gateway}; `coldchain governance status` lists them");
                    };
                    if let Some(h) = c["activated_height"].as_u64() {
                        anyhow::bail!("change {digest} is already in effect, from height {h}");
                    }
                    let record = governance_record(
                        c["change"].as_str().unwrap_or_default(),
                        c["province"].as_str().unwrap_or_default(),
                        c["name"].as_str(),
                        c["validator_key"].as_str(),
                        c["admin_key"].as_str(),
                        &c["consensus"],
                    )?;
                    (gateway, key, record)
                }
            };
            let gw = Gateway::new(&gateway);
            let tx = client::sign_record(&gw.chain_id()?, &read_key_file(&key)?, record)?;
            let result = gw.post("/v1/records?wait=finalized", &tx)?.into_result()?;
            println!("tx_id: {}", result["tx_id"].as_str().unwrap_or_default());
            match result["height"].as_u64() {
                Some(h) => println!("finalized at height {h}; `coldchain governance status --gateway {gateway}` shows the change"),
                None => println!("state: {}", result["state"].as_str().unwrap_or("pending")),
            }
        }
        Command::Proof { gateway, tx_id, out, key } => {
            let result =
                Gateway::new(&gateway).reading_as(key.map(|k| read_key_file(&k)).transpose()?).get(&format!("/v1/proofs/{tx_id}"))?.into_result()?;
            let text = serde_json::to_string_pretty(&result)? + "\n";
            match out {
                Some(path) => std::fs::write(&path, text)?,
                None => print!("{text}"),
            }
        }
        Command::StateProof { gateway, scheme, code, enterprise, entry, key, out } => {
            let enc = |v: &str| {
                v.bytes()
                    .map(|b| if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
                    .collect::<String>()
            };
            let query = match (scheme, code, enterprise, entry) {
                (Some(s), Some(c), _, _) => format!("scheme={}&code={}", enc(&s), enc(&c)),
                (_, _, Some(e), _) => format!("enterprise={}", enc(&e)),
                (_, _, _, Some(k)) => format!("key={}", enc(&k)),
                _ => anyhow::bail!("give --scheme and --code, --enterprise, or --entry"),
            };
            let result = Gateway::new(&gateway)
                .reading_as(key.map(|k| read_key_file(&k)).transpose()?)
                .get(&format!("/v1/state/proof?{query}"))?
                .into_result()?;
            let text = serde_json::to_string_pretty(&result)? + "\n";
            match out {
                Some(path) => std::fs::write(&path, text)?,
                None => print!("{text}"),
            }
        }
        Command::Verify { genesis, proofs } => {
            let genesis = Genesis::load(&genesis)?;
            let mut verifier = ProofVerifier::new(&genesis);
            let mut invalid = 0;
            for proof in &proofs {
                let text = std::fs::read_to_string(proof).with_context(|| format!("reading {}", proof.display()))?;
                let mut value: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", proof.display()))?;
                if value.get("result").is_some() && value.get("success").is_some() {
                    value = value["result"].take(); // the gateway's envelope, saved as is
                }
                if value.get("kind").and_then(Value::as_str) == Some(coldchain_node::state_proof::STATE_PROOF_KIND) {
                    let bundle: coldchain_node::state_proof::StateProofBundle =
                        serde_json::from_value(value).with_context(|| format!("{} is not a state proof bundle", proof.display()))?;
                    match coldchain_node::state_proof::verify_state(&mut verifier, &bundle) {
                        Ok(v) => {
                            println!("VALID state proof for chain {} ({})", v.chain_id, proof.display());
                            println!("  state root {} after block {}, in the header of block {}", v.state_root, v.state_height, v.header_height);
                            if v.certified_height != v.header_height {
                                println!(
                                    "  block {} is an ancestor of certified block {} ({})",
                                    v.header_height, v.certified_height, v.certified_hash
                                );
                            }
                            println!(
                                "  finalized by {} of {} validators (quorum {}): {}",
                                v.signers.len(),
                                verifier.validators(),
                                verifier.quorum(),
                                v.signers.join(", ")
                            );
                            for e in &v.entries {
                                match &e.value {
                                    Some(value) => println!("  {} [{}] = {}", e.table, e.key, value),
                                    None => println!("  {} [{}] is absent", e.table, e.key),
                                }
                            }
                        }
                        Err(e) => {
                            println!("INVALID state proof ({}): {e}", proof.display());
                            invalid += 1;
                        }
                    }
                    continue;
                }
                let bundle: ProofBundle = serde_json::from_value(value).with_context(|| format!("{} is not a proof bundle", proof.display()))?;
                match verifier.verify(&bundle) {
                    Ok(v) => {
                        println!("VALID proof for chain {} ({})", v.chain_id, proof.display());
                        println!("  transaction {} is leaf {} of block {} ({})", v.tx_id, bundle.leaf_index, v.height, v.block_hash);
                        if v.certified_height != v.height {
                            println!("  block {} is an ancestor of certified block {} ({})", v.height, v.certified_height, v.certified_hash);
                        }
                        if !bundle.epochs.is_empty() {
                            let path: Vec<String> = bundle
                                .epochs
                                .iter()
                                .map(|c| {
                                    format!("epoch {} after height {} ({} signatures)", c.change.epoch, c.change.last_height, c.signatures.len())
                                })
                                .collect();
                            println!("  validator set from genesis through {}", path.join(" → "));
                        }
                        let how = match bundle.finalization {
                            Some(_) if v.epoch == 0 => format!("finalized by {} of {} validators", v.signers.len(), v.validators),
                            Some(_) => format!("finalized by {} of {} validators of epoch {}", v.signers.len(), v.validators, v.epoch),
                            None => {
                                format!("the last block of epoch {}, certified by {} of its {} validators", v.epoch, v.signers.len(), v.validators)
                            }
                        };
                        println!("  {how} (quorum {}): {}", v.quorum, v.signers.join(", "));
                        match &bundle.transaction {
                            Some(tx) => println!("  signed by key {}", hex::encode(tx.signer.public_key)),
                            None => println!(
                                "  the record was withheld from the proof's reader: this proves the transaction id; check the record you hold hashes to it"
                            ),
                        }
                    }
                    Err(e) => {
                        println!("INVALID proof ({}): {e}", proof.display());
                        invalid += 1;
                    }
                }
            }
            if invalid > 0 {
                return Ok(std::process::ExitCode::from(2));
            }
        }
        Command::Bench { trace: true, json, movements, traces, .. } => bench_trace::run(&bench_trace::TraceBenchOptions { json, movements, traces })?,
        Command::Bench { idle: Some(seconds), json, .. } => bench::run_idle(seconds, json)?,
        Command::Bench { json, verify_proofs, opaque, records, batch, clients, .. } => {
            bench::run(bench::Options { json, verify_proofs, opaque, records, batch, clients })?
        }
        Command::Export { gateway, config, key, out } => {
            let summary = match (gateway, config) {
                (Some(gateway), _) => {
                    let key = key.context("--gateway needs --key: your bureau's admin key (only bureaus may export the chain)")?;
                    backup::export_from_gateway(&gateway, read_key_file(&key)?, &out)?
                }
                (None, Some(config)) => backup::export_from_store(&config, &out)?,
                (None, None) => unreachable!("clap requires one"),
            };
            backup::print(&format!("exported to {}", out.display()), &summary);
        }
        Command::VerifyChain { config } => backup::verify_chain(&config)?,
        Command::Import { config, file } => backup::import(&config, &file).map(|s| backup::print("imported", &s))?,
        Command::Health { gateway, path } => {
            let answer = Gateway::new(&gateway).get(&path)?;
            if answer.status != 200 {
                println!("{path}: {} {}", answer.status, client::describe_error(&answer.envelope));
                return Ok(std::process::ExitCode::from(1));
            }
            println!("{path}: 200 {}", answer.envelope["message"].as_str().unwrap_or_default());
        }
        Command::Status { gateway } => {
            let result = Gateway::new(&gateway).get("/v1/status")?.into_result()?;
            println!("{}", serde_json::to_string_pretty(&result)?);
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// A `governance` record of `change`: the fields that change carries, the
/// same names `/v1/governance` lists, so an approval signs the proposal's content.
fn governance_record(
    change: &str,
    province: &str,
    name: Option<&str>,
    validator_key: Option<&str>,
    admin_key: Option<&str>,
    limits: &serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let needs = |value: Option<&str>, flag: &str| value.map(str::to_string).ok_or_else(|| anyhow::anyhow!("a {change} change needs --{flag}"));
    if change == "set_consensus_params" {
        // All four limits, under the record's names (`/v1/governance` lists them snake_case).
        let mut params = serde_json::Map::new();
        for (field, name) in [
            ("maxTxBytes", "max_tx_bytes"),
            ("maxBlockTxs", "max_block_txs"),
            ("maxBlockBytes", "max_block_bytes"),
            ("maxClockDriftMs", "max_clock_drift_ms"),
        ] {
            let value = limits[name].as_u64().ok_or_else(|| anyhow::anyhow!("a set_consensus_params change needs --{}", name.replace('_', "-")))?;
            params.insert(field.into(), value.into());
        }
        return Ok(serde_json::json!({"type": "governance", "change": change, "params": params}));
    }
    if province.is_empty() {
        anyhow::bail!("a {change} change needs --province");
    }
    let mut record = serde_json::json!({"type": "governance", "change": change, "province": province});
    match change {
        "rotate_admin_key" => record["adminKey"] = needs(admin_key, "admin-key")?.into(),
        "add_validator" => {
            record["name"] = needs(name, "name")?.into();
            record["validatorKey"] = needs(validator_key, "validator-key")?.into();
            record["adminKey"] = needs(admin_key, "admin-key")?.into();
        }
        "remove_validator" => {}
        "rotate_validator_key" => record["validatorKey"] = needs(validator_key, "validator-key")?.into(),
        other => anyhow::bail!("\"{other}\" is not a governance change this CLI knows"),
    }
    Ok(record)
}
