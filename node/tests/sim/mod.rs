//! A deterministic simulator for the Simplex consensus core.
//!
//! Everything is driven by one seeded RNG and one event queue ordered by
//! (virtual time in ms, sequence number): there is no clock, no thread and no
//! I/O, so a seed replays exactly. The pieces:
//!
//! - [`Scenario`]: what happens in a run (network quality, partitions,
//!   crashes, a Byzantine validator, a planted bug) and what the checker must
//!   find (liveness window, expected evidence, a no-progress interval).
//!   Built by the `scenario_*` functions from a seed.
//! - [`Network`]: per-message delay, loss, duplication, stragglers
//!   (reordering) and partitions.
//! - [`Sim`]: four validators, each a driver around a [`Core`] that carries
//!   out the core's actions like the real node will (safety file, block
//!   store, timers, fetch, range sync), plus crash/restart.
//! - Epochs (issue 19): a scenario may change the validator set
//!   ([`Scenario::reconfigs`]); the driver ends the epoch at the committed
//!   block that carries the change, signs the [`EpochChange`], collects
//!   the certificate and restarts its core in the new epoch, as the node's
//!   driver does (docs/PROTOCOL.md, "Epochs").
//! - [`check`]: the properties every run must satisfy, as a `Result`.

#![allow(dead_code)]

use coldchain_chaincode::Hash;
use coldchain_node::block::Header;
use coldchain_node::consensus::epoch::{EpochCertificate, EpochChange, EpochMember, EpochSet, Epochs};
use coldchain_node::consensus::epoch_votes::EpochVotes;
use coldchain_node::consensus::vote::namespace;
use coldchain_node::consensus::{
    Action, Certificate, ConsensusMessage, Core, CoreConfig, Event, Evidence, Proposal, SafetyState, SignerSignature, Timeouts, View, Vote,
};
use coldchain_node::crypto::{VoteKind, sign_vote};
use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;

pub const N: usize = 4;
pub const CHAIN: &str = "sim";

// ===== scenarios ================================================================

#[derive(Clone, Debug)]
pub struct NetConfig {
    pub delay_min: u64,
    pub delay_max: u64,
    /// Probability that one copy of a message is lost.
    pub drop: f64,
    /// Probability that a message is delivered twice (each copy its own delay).
    pub duplicate: f64,
    /// Probability that a message is held back by up to `straggle_max` extra
    /// ms, so it overtakes nothing but is overtaken by later ones.
    pub straggle: f64,
    pub straggle_max: u64,
}

impl NetConfig {
    pub fn calm() -> NetConfig {
        NetConfig { delay_min: 5, delay_max: 40, drop: 0.0, duplicate: 0.0, straggle: 0.0, straggle_max: 0 }
    }
}

/// Nodes in `side` cannot exchange messages with nodes outside it during
/// `[from, until)` (checked when a message is sent).
#[derive(Clone, Debug)]
pub struct Partition {
    pub from: u64,
    pub until: u64,
    pub side: Vec<usize>,
}

#[derive(Clone, Debug)]
pub struct CrashPlan {
    pub node: usize,
    pub at: u64,
    /// Down time; `None`: never restarts.
    pub down: Option<u64>,
    /// Whether the driver persisted the bodies of blocks it built or
    /// verified and hands them to the restarted core (`false`: they are lost,
    /// `known = []`, the core must fetch).
    pub keep_bodies: bool,
}

/// Crash every validator (at `now + 0..=2` ms each) when the first block is
/// committed at or after `after`; each restarts after `down_min..=down_max`.
#[derive(Clone, Debug)]
pub struct CrashAllOnCommit {
    pub after: u64,
    pub down_min: u64,
    pub down_max: u64,
}

/// Deliberate bugs, to show that the checker notices them.
#[derive(Clone, Debug, PartialEq)]
pub enum Plant {
    /// A restart ignores the persisted safety state (`SafetyState::default()`).
    Amnesia,
    /// The driver of this node appends a made-up block to its finalized
    /// chain at this time.
    ForgeCommit { node: usize, at: u64 },
    /// Drivers neither build nor check Rule G: blocks above a change in
    /// flight carry transactions.
    NoRuleG,
}

#[derive(Clone, Debug)]
pub struct Liveness {
    /// Virtual time allowed after the last disruption (partition healed, last
    /// restart) for every honest node to commit `blocks` more blocks.
    pub window: u64,
    pub blocks: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Expect {
    pub liveness: Option<Liveness>,
    /// No block may become final anywhere during `[from, until]`.
    pub no_progress: Option<(u64, u64)>,
    /// The Byzantine validator must be named in evidence by an honest node.
    pub evidence_against_byzantine: bool,
    /// ... in evidence of this kind ([`evidence_kind`]).
    pub evidence_kind: Option<&'static str>,
    /// No honest node may hold evidence against anyone: what the Byzantine
    /// validator does is no offence.
    pub no_evidence: bool,
}

/// What the Byzantine validator does besides sending what its honest core
/// sends: one small behaviour each (after commonware's simplex mocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mock {
    /// Everything below but `Outdated`, at once.
    Everything,
    /// Leads with two proposals per view, each honest validator getting one.
    Equivocator,
    /// Beside each notarize, a notarize for a made-up block.
    Conflicter,
    /// Beside each finalize, a nullify of the same view.
    Nuller,
    /// Beside each vote, one of its own votes or a certificate from at least
    /// [`OUTDATED_BY`] views before, sent again: no offence, only noise.
    Outdated,
}

/// How many views old the messages an [`Mock::Outdated`] validator repeats are.
pub const OUTDATED_BY: u64 = 5;

#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub seed: u64,
    pub net: NetConfig,
    pub partitions: Vec<Partition>,
    pub crashes: Vec<CrashPlan>,
    pub crash_all_on_commit: Option<CrashAllOnCommit>,
    /// A Byzantine validator, behaving as `mock`.
    pub byzantine: Option<usize>,
    pub mock: Mock,
    pub plant: Option<Plant>,
    /// The run lasts at least this long, then until every honest node has
    /// finalized `liveness.blocks` blocks after the last disruption (or the
    /// liveness window has passed, which is a failure).
    pub duration: u64,
    /// Range sync: every node asks a random peer for its finalized blocks
    /// this often.
    pub sync_every: Option<u64>,
    pub timeouts: Timeouts,
    pub expect: Expect,
    /// Transactions submitted to validators (Rule I). `None`: every
    /// validator always has work, so views never idle.
    pub workload: Option<Workload>,
    /// Validator-set changes: the k-th is carried by the first block an
    /// honest leader of epoch k builds at or after `reconfigs[k]` ms
    /// ([`epoch_plan`] says what each changes).
    pub reconfigs: Vec<u64>,
}

/// Transactions ("items") submitted over time, and the windows in which the
/// consortium must be idle: no block finalized, no vote sent.
#[derive(Clone, Debug, Default)]
pub struct Workload {
    /// (time, validator it is submitted to); the item id is the index.
    pub submissions: Vec<(u64, usize)>,
    pub idle_windows: Vec<(u64, u64)>,
    /// How long a leader with only in-flight transactions waits before it
    /// proposes an empty block (the driver's `max_block_interval_ms`).
    pub build_wait: u64,
}

fn base(name: &'static str, seed: u64) -> Scenario {
    Scenario {
        name,
        seed,
        net: NetConfig::calm(),
        partitions: vec![],
        crashes: vec![],
        crash_all_on_commit: None,
        byzantine: None,
        mock: Mock::Everything,
        plant: None,
        duration: 6_000,
        sync_every: Some(500),
        timeouts: Timeouts { leader_ms: 400, advance_ms: 800, retry_ms: 200 },
        expect: Expect { liveness: Some(Liveness { window: 8_000, blocks: 5 }), ..Expect::default() },
        workload: None,
        reconfigs: vec![],
    }
}

/// The scenario's own RNG, separate from the run's, so that changing how a
/// scenario is drawn does not shift the run and vice versa.
fn scenario_rng(seed: u64, salt: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn lossy_net(r: &mut StdRng) -> NetConfig {
    let delay_min = r.random_range(5..=40);
    NetConfig {
        delay_min,
        delay_max: delay_min + r.random_range(20..=200),
        drop: r.random_range(0.0..0.15),
        duplicate: r.random_range(0.0..0.10),
        straggle: r.random_range(0.0..0.05),
        straggle_max: 300,
    }
}

/// Random loss, delay, duplication and reordering throughout; one partition
/// (one or two validators cut off) that heals; one validator that crashes and
/// restarts, and sometimes a second one after the first is back (never two
/// down at once).
pub fn scenario_random_faults(seed: u64) -> Scenario {
    let mut r = scenario_rng(seed, 1);
    let mut sc = base("random_faults", seed);
    sc.net = lossy_net(&mut r);
    let from = r.random_range(0..5_000);
    let mut nodes: Vec<usize> = (0..N).collect();
    nodes.shuffle(&mut r);
    let side_len = r.random_range(1..=2);
    sc.partitions.push(Partition { from, until: from + r.random_range(200..=3_000), side: nodes[..side_len].to_vec() });
    let first = CrashPlan {
        node: r.random_range(0..N),
        at: r.random_range(0..5_000),
        down: Some(r.random_range(50..=2_500)),
        keep_bodies: r.random_bool(0.5),
    };
    // Sometimes a second crash, of any validator, once the first is back.
    if r.random_bool(0.3) {
        let back = first.at + first.down.unwrap();
        sc.crashes.push(CrashPlan {
            node: r.random_range(0..N),
            at: back + r.random_range(1..=1_500),
            down: Some(r.random_range(50..=1_500)),
            keep_bodies: r.random_bool(0.5),
        });
    }
    sc.crashes.insert(0, first);
    // Mostly with the driver's range sync; sometimes catch-up by fetch only.
    sc.sync_every = if r.random_bool(0.75) { Some(r.random_range(300..=1_000)) } else { None };
    sc.duration = 6_000;
    sc
}

/// Exploration, not CI: heavier loss, longer partitions (one may isolate a
/// validator for long), up to three crashes one after another, every knob
/// drawn wider. Liveness is still required after the last disruption.
pub fn scenario_harsh(seed: u64) -> Scenario {
    let mut r = scenario_rng(seed, 6);
    let mut sc = base("harsh", seed);
    sc.net = lossy_net(&mut r);
    sc.net.drop = r.random_range(0.0..0.3);
    sc.net.duplicate = r.random_range(0.0..0.3);
    sc.net.straggle = r.random_range(0.0..0.2);
    sc.net.straggle_max = 1_000;
    let mut t = 0;
    for _ in 0..r.random_range(1..=3) {
        let mut nodes: Vec<usize> = (0..N).collect();
        nodes.shuffle(&mut r);
        let from = t + r.random_range(0..2_000);
        let until = from + r.random_range(100..=4_000);
        sc.partitions.push(Partition { from, until, side: nodes[..r.random_range(1..=2)].to_vec() });
        t = until;
    }
    let mut t = 0;
    for _ in 0..r.random_range(1..=3) {
        let at = t + r.random_range(0..3_000);
        let down = r.random_range(1..=3_000);
        sc.crashes.push(CrashPlan { node: r.random_range(0..N), at, down: Some(down), keep_bodies: r.random_bool(0.5) });
        t = at + down + 1;
    }
    sc.sync_every = if r.random_bool(0.5) { Some(r.random_range(200..=2_000)) } else { None };
    sc.expect.liveness = Some(Liveness { window: 20_000, blocks: 5 });
    sc
}

/// One validator equivocates (two proposals per view it leads, double
/// notarize votes, nullify beside every finalize) on a lossy network.
pub fn scenario_equivocator(seed: u64) -> Scenario {
    let mut r = scenario_rng(seed, 2);
    let mut sc = base("equivocator", seed);
    sc.net = lossy_net(&mut r);
    sc.net.drop = sc.net.drop.min(0.08);
    sc.byzantine = Some(r.random_range(0..N));
    sc.duration = 4_000;
    sc.expect.evidence_against_byzantine = true;
    sc
}

/// One validator behaves as one mock on a lossy network: the honest ones
/// keep finalizing, and hold evidence of the offence it commits (none for
/// `Outdated`).
pub fn scenario_mock(mock: Mock, seed: u64) -> Scenario {
    let mut r = scenario_rng(seed, 11);
    let name = match mock {
        Mock::Everything => "equivocator",
        Mock::Equivocator => "mock:equivocator",
        Mock::Conflicter => "mock:conflicter",
        Mock::Nuller => "mock:nuller",
        Mock::Outdated => "mock:outdated",
    };
    let mut sc = base(name, seed);
    sc.net = lossy_net(&mut r);
    sc.net.drop = sc.net.drop.min(0.08);
    sc.byzantine = Some(r.random_range(0..N));
    sc.mock = mock;
    sc.duration = 4_000;
    match mock {
        Mock::Outdated => sc.expect.no_evidence = true,
        _ => sc.expect.evidence_against_byzantine = true,
    }
    sc.expect.evidence_kind = match mock {
        Mock::Equivocator | Mock::Conflicter => Some("conflicting notarize"),
        Mock::Nuller => Some("nullify and finalize"),
        Mock::Everything | Mock::Outdated => None,
    };
    sc
}

pub fn scenario_mock_equivocator(seed: u64) -> Scenario {
    scenario_mock(Mock::Equivocator, seed)
}

pub fn scenario_mock_conflicter(seed: u64) -> Scenario {
    scenario_mock(Mock::Conflicter, seed)
}

pub fn scenario_mock_nuller(seed: u64) -> Scenario {
    scenario_mock(Mock::Nuller, seed)
}

pub fn scenario_mock_outdated(seed: u64) -> Scenario {
    scenario_mock(Mock::Outdated, seed)
}

/// All four validators crash at a random time and restart one by one.
pub fn scenario_total_crash(seed: u64) -> Scenario {
    let mut r = scenario_rng(seed, 3);
    let mut sc = base("total_crash", seed);
    sc.net = lossy_net(&mut r);
    sc.net.drop = sc.net.drop.min(0.05);
    let at = r.random_range(1_000..4_000);
    for node in 0..N {
        sc.crashes.push(CrashPlan { node, at: at + r.random_range(0..=5), down: Some(r.random_range(100..=2_000)), keep_bodies: true });
    }
    sc
}

/// Two validators down for a while: nothing may be finalized meanwhile.
pub fn scenario_two_down(seed: u64) -> Scenario {
    let mut r = scenario_rng(seed, 4);
    let mut sc = base("two_down", seed);
    sc.net = lossy_net(&mut r);
    sc.net.drop = sc.net.drop.min(0.05);
    let mut nodes: Vec<usize> = (0..N).collect();
    nodes.shuffle(&mut r);
    let at = r.random_range(1_000..3_000);
    let down = 4_000;
    for &node in &nodes[..2] {
        sc.crashes.push(CrashPlan { node, at, down: Some(down), keep_bodies: r.random_bool(0.5) });
    }
    // In-flight votes may still complete a finalization just after the crash.
    sc.expect.no_progress = Some((at + 1_500, at + down));
    sc
}

/// All four crash just after some node commits (so the others may not have
/// seen that finalization yet), then restart. With `Plant::Amnesia` this is
/// the classic way to lose safety.
pub fn scenario_crash_all_after_commit(seed: u64) -> Scenario {
    let mut r = scenario_rng(seed, 5);
    let mut sc = base("crash_all_after_commit", seed);
    sc.net = NetConfig { delay_min: 5, delay_max: 120, drop: 0.02, duplicate: 0.0, straggle: 0.0, straggle_max: 0 };
    sc.crash_all_on_commit = Some(CrashAllOnCommit { after: r.random_range(500..2_000), down_min: 10, down_max: 300 });
    sc
}

/// Rule I under the usual faults: three bursts of submissions, each to
/// random validators over a lossy network (the relay to the others may be
/// lost), with a crash or a partition during the first two bursts; between
/// and after the bursts the consortium must fall idle (no block, no vote)
/// and every item must become final at every validator.
pub fn scenario_idle(seed: u64) -> Scenario {
    let mut r = scenario_rng(seed, 7);
    let mut sc = base("idle", seed);
    sc.net = lossy_net(&mut r);
    sc.net.drop = sc.net.drop.min(0.10);
    // The real node always runs range sync: a validator that missed a
    // finalization while the others fell idle learns it there (nobody
    // rebroadcasts certificates in an idle view).
    sc.sync_every = Some(r.random_range(300..=1_000));
    sc.expect.liveness = None;
    // Quiet by then: the last item final everywhere, the last timers fired.
    let settle = 6_000;
    let mut w = Workload { build_wait: 100, ..Workload::default() };
    let mut t = r.random_range(0..500);
    for burst in 0..3 {
        let start = t;
        for _ in 0..r.random_range(1..=6) {
            w.submissions.push((start + r.random_range(0..300), r.random_range(0..N)));
        }
        let mut quiet_from = start + 300;
        match (burst, r.random_range(0..3)) {
            (0, 0) | (1, 0) => {
                let down = r.random_range(50..=1_500);
                let at = start + r.random_range(0..300);
                sc.crashes.push(CrashPlan { node: r.random_range(0..N), at, down: Some(down), keep_bodies: r.random_bool(0.5) });
                quiet_from = quiet_from.max(at + down);
            }
            (0, 1) | (1, 1) => {
                let mut nodes: Vec<usize> = (0..N).collect();
                nodes.shuffle(&mut r);
                let from = start + r.random_range(0..300);
                let until = from + r.random_range(200..=2_000);
                sc.partitions.push(Partition { from, until, side: nodes[..r.random_range(1..=2)].to_vec() });
                quiet_from = quiet_from.max(until);
            }
            _ => {}
        }
        let idle_from = quiet_from + settle;
        let idle_until = idle_from + r.random_range(2_000..=8_000);
        w.idle_windows.push((idle_from, idle_until));
        t = idle_until;
    }
    sc.duration = t;
    sc.workload = Some(w);
    sc
}

/// [`scenario_idle`] without crashes or partitions, with an equivocator.
pub fn scenario_idle_equivocator(seed: u64) -> Scenario {
    let mut sc = scenario_idle(seed);
    sc.name = "idle+equivocator";
    sc.crashes.clear();
    sc.partitions.clear();
    sc.byzantine = Some((seed % N as u64) as usize);
    sc
}

/// One or two validator-set changes, each at a random time, under the
/// faults of [`scenario_random_faults`] (a partition, one or two crashes,
/// loss, duplication, reordering): a crash may land while the old set
/// signs the change, and a restarted validator may find the others in the
/// next epoch. Every honest validator must end in the last epoch and
/// finalize blocks there.
pub fn scenario_reconfigure(seed: u64) -> Scenario {
    let mut r = scenario_rng(seed, 12);
    let mut sc = scenario_random_faults(seed);
    sc.name = "reconfigure";
    sc.reconfigs = reconfig_times(&mut r);
    // A validator that missed the last block of an epoch learns it only
    // by range sync (the new set's certificates are not its epoch's), which
    // the real node always runs.
    sc.sync_every = Some(r.random_range(300..=1_000));
    sc
}

/// [`scenario_reconfigure`] with an equivocating validator (every mock)
/// instead of crashes and partitions; it also signs a bogus epoch change
/// before the true one, so it holds its slot in every honest collector
/// with the wrong change.
pub fn scenario_reconfigure_equivocator(seed: u64) -> Scenario {
    let mut r = scenario_rng(seed, 13);
    let mut sc = scenario_equivocator(seed);
    sc.name = "reconfigure+equivocator";
    sc.reconfigs = reconfig_times(&mut r);
    sc.duration = sc.duration.max(sc.reconfigs.last().copied().unwrap_or(0) + 1_000);
    sc
}

fn reconfig_times(r: &mut StdRng) -> Vec<u64> {
    let first = r.random_range(200..=3_000);
    if r.random_bool(0.5) { vec![first, first + r.random_range(300..=2_500)] } else { vec![first] }
}

/// Epoch `e`'s validators: for each index, the node holding it, and each
/// node's key. Epoch 0 is `keys_for(seed)` in node order; each change
/// rotates the index order by one (so index k names another node in each
/// epoch) and gives one node a fresh key (its old one is retired).
#[derive(Clone)]
pub struct EpochPlan {
    pub members: Vec<usize>,
    pub keys: Vec<SigningKey>,
}

impl EpochPlan {
    pub fn index_of(&self, node: usize) -> Option<u16> {
        self.members.iter().position(|&m| m == node).map(|k| k as u16)
    }

    pub fn epoch_members(&self) -> Vec<EpochMember> {
        self.members
            .iter()
            .map(|&n| EpochMember { name: format!("n{n}"), province: format!("{}00000", n + 1), public_key: self.keys[n].verifying_key().to_bytes() })
            .collect()
    }
}

pub fn epoch_plan(seed: u64, changes: usize) -> Vec<EpochPlan> {
    let mut plans = vec![EpochPlan { members: (0..N).collect(), keys: keys_for(seed) }];
    for k in 0..changes {
        let mut next = plans[k].clone();
        next.members.rotate_left(1);
        let rotated = (seed as usize + k) % N;
        next.keys[rotated] = SigningKey::from_bytes(&Hash::digest_parts(&[b"sim-rotated-key", &seed.to_be_bytes(), &(k as u64).to_be_bytes()]).0);
        plans.push(next);
    }
    plans
}

pub fn scenario_by_name(name: &str, seed: u64) -> Option<Scenario> {
    Some(match name {
        "reconfigure" => scenario_reconfigure(seed),
        "reconfigure+equivocator" => scenario_reconfigure_equivocator(seed),
        "idle" => scenario_idle(seed),
        "idle+equivocator" => scenario_idle_equivocator(seed),
        "random_faults" => scenario_random_faults(seed),
        "equivocator" => scenario_equivocator(seed),
        "total_crash" => scenario_total_crash(seed),
        "two_down" => scenario_two_down(seed),
        "harsh" => scenario_harsh(seed),
        "mock:equivocator" => scenario_mock(Mock::Equivocator, seed),
        "mock:conflicter" => scenario_mock(Mock::Conflicter, seed),
        "mock:nuller" => scenario_mock(Mock::Nuller, seed),
        "mock:outdated" => scenario_mock(Mock::Outdated, seed),
        "crash_all_after_commit" => scenario_crash_all_after_commit(seed),
        "crash_all_after_commit+amnesia" => Scenario { plant: Some(Plant::Amnesia), ..scenario_crash_all_after_commit(seed) },
        _ => return None,
    })
}

// ===== network ==================================================================

pub struct Network {
    pub cfg: NetConfig,
    pub partitions: Vec<Partition>,
}

impl Network {
    pub fn blocked(&self, now: u64, a: usize, b: usize) -> bool {
        self.partitions.iter().any(|p| now >= p.from && now < p.until && p.side.contains(&a) != p.side.contains(&b))
    }

    /// The delays of the copies of one message from `a` to `b` that will
    /// arrive: none (lost or partitioned), one, or two (duplicated).
    pub fn route(&self, rng: &mut StdRng, now: u64, a: usize, b: usize) -> Vec<u64> {
        if self.blocked(now, a, b) {
            return vec![];
        }
        let copies = if self.cfg.duplicate > 0.0 && rng.random_bool(self.cfg.duplicate) { 2 } else { 1 };
        let mut out = Vec::with_capacity(copies);
        for _ in 0..copies {
            if self.cfg.drop > 0.0 && rng.random_bool(self.cfg.drop) {
                continue;
            }
            let mut d = rng.random_range(self.cfg.delay_min..=self.cfg.delay_max);
            if self.cfg.straggle > 0.0 && rng.random_bool(self.cfg.straggle) {
                d += rng.random_range(0..=self.cfg.straggle_max);
            }
            out.push(d);
        }
        out
    }
}

// ===== the simulated world ========================================================

/// What travels between drivers.
#[derive(Clone, Debug)]
pub enum Msg {
    Consensus(ConsensusMessage),
    FetchRequest(Hash),
    FetchResponse(Header),
    /// Range sync: "my finalized height is h".
    SyncRequest(u64),
    /// Finalized blocks above the requester's height, up to the end of
    /// their epoch at most; what makes the last one final; and the
    /// responder's epoch certificates.
    SyncResponse(Vec<Header>, Finality, Vec<EpochCertificate>),
    /// A submitted item relayed to the other validators (Rule I workload).
    Relay(u64),
    /// A validator's signature over the change that ends its epoch.
    EpochVote(EpochChange, SignerSignature),
    Epoch(EpochCertificate),
}

#[derive(Debug)]
enum Ev {
    Deliver {
        to: usize,
        from: usize,
        msg: Msg,
    },
    /// Timer, Built or Verified for one incarnation of a node (`life`).
    Local {
        node: usize,
        life: u64,
        event: Event,
    },
    SyncTick {
        node: usize,
        life: u64,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
        keep_bodies: bool,
    },
    Forge {
        node: usize,
    },
    /// An item submitted to a validator.
    Submit {
        node: usize,
        item: u64,
    },
    /// A partition heals: the validators' connections across it are made
    /// again.
    Heal,
    /// A deferred build's wait for transactions is over.
    BuildDeadline {
        node: usize,
        life: u64,
        view: View,
    },
}

struct Queued {
    time: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.time, self.seq).cmp(&(o.time, o.seq))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Commit,
    Sync,
    Forged,
}

/// What makes a batch's last block final.
#[derive(Clone, Debug)]
pub enum Finality {
    /// A finalization of that block, by its epoch's validators.
    Certificate(Certificate),
    /// It is the last block of an epoch, finalized with blocks above it that
    /// were dropped (Rule G): the certificate of the epoch after it names it.
    EndOfEpoch(u64),
}

/// One append to a node's finalized chain.
#[derive(Clone, Debug)]
pub struct Batch {
    pub at: u64,
    pub blocks: Vec<Header>,
    pub finality: Finality,
    pub source: Source,
}

/// Evidence an honest node's core produced.
#[derive(Clone, Debug)]
pub struct Reported {
    pub reporter: usize,
    pub at: u64,
    pub evidence: Evidence,
    /// The node that holds the offender's index in the reporter's epoch.
    pub offender: usize,
}

/// What survives a crash: the safety file, the block store (finalized chain
/// with its certificates, and the bodies of blocks the node proposed or
/// verified), the epoch certificates.
pub struct Disk {
    pub epochs: Epochs,
    pub safety: SafetyState,
    pub chain: Vec<Header>,
    pub batches: Vec<Batch>,
    pub last_finalization: Option<Certificate>,
    pub bodies: HashMap<Hash, Header>,
    chain_index: HashMap<Hash, u64>,
    /// Items submitted or relayed here and not yet final here (the durable
    /// mempool).
    pub pending: std::collections::BTreeSet<u64>,
    /// Items final here.
    pub committed: HashSet<u64>,
}

impl Disk {
    fn new(epochs: Epochs) -> Disk {
        Disk {
            epochs,
            safety: SafetyState::default(),
            chain: vec![],
            batches: vec![],
            last_finalization: None,
            bodies: HashMap::new(),
            chain_index: HashMap::new(),
            pending: Default::default(),
            committed: HashSet::new(),
        }
    }
}

/// What a running node holds in memory.
struct Live {
    core: Core,
    bodies: HashMap<Hash, Header>,
    /// What the core was last told ([`Event::Work`]).
    reported_work: Option<bool>,
    /// A build waiting for items (view, parent, still before its deadline).
    deferred: Option<(View, Header)>,
    /// The epoch the core runs, and this node's index in it.
    epoch: u64,
    index: Option<u16>,
    /// The finalized head carries a validator change whose certificate is
    /// not here yet: the core is stopped.
    halted: bool,
    votes: EpochVotes,
    own_vote: Option<(EpochChange, SignerSignature)>,
}

pub struct SimNode {
    pub disk: Disk,
    live: Option<Live>,
    /// Incarnation: one more at each crash and each epoch switch, so that
    /// the timers of the core before are dropped.
    life: u64,
    pub restarts: u32,
}

impl SimNode {
    pub fn alive(&self) -> bool {
        self.live.is_some()
    }
    pub fn height(&self) -> u64 {
        self.disk.chain.len() as u64
    }
    pub fn view(&self) -> Option<View> {
        self.live.as_ref().map(|l| l.core.view())
    }
    /// The epoch its core runs (the newest certified, if it is down).
    pub fn epoch(&self) -> u64 {
        self.live.as_ref().map_or(self.disk.epochs.current().number, |l| l.epoch)
    }
    fn tip(&self, genesis: &Header) -> Header {
        self.disk.chain.last().cloned().unwrap_or_else(|| genesis.clone())
    }
}

pub struct Sim {
    pub sc: Scenario,
    pub now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<Queued>>,
    rng: StdRng,
    /// Epoch 0's keys, by node.
    pub keys: Vec<SigningKey>,
    /// Each epoch's validators and keys ([`epoch_plan`]).
    pub plan: Vec<EpochPlan>,
    pub genesis: Header,
    pub nodes: Vec<SimNode>,
    pub net: Network,
    pub evidence: Vec<Reported>,
    /// Blocks with a validator change, by hash: the epoch each starts.
    changes: HashMap<Hash, u64>,
    /// Blocks the old set finalized above the last block of its epoch,
    /// dropped when committed (node, block): Rule G keeps them empty.
    pub dropped: Vec<(usize, Header)>,
    /// FNV-1a over every dispatched event: two runs of a seed must agree.
    pub digest: u64,
    pub events: u64,
    /// When set, a readable line per dispatched event (the last `cap` kept).
    trace: Option<(VecDeque<String>, usize)>,
    /// End of the last disruption (partition healed, restart): liveness is
    /// measured from here.
    pub stable_from: u64,
    crash_all_armed: Option<CrashAllOnCommit>,
    /// The run stopped once liveness was shown, before the window's end.
    pub ended_early: bool,
    /// Sort runs of `Fetch` actions (see [`normalize_fetch_order`]).
    pub sort_fetches: bool,
    /// Blocks whose bodies fail the driver's checks (made up by the
    /// Byzantine validator): `Verify` answers `valid: false`.
    invalid_bodies: HashSet<Hash>,
    /// The items each built block carries (workload runs).
    payloads: HashMap<Hash, Vec<u64>>,
    /// (time, sender) of every vote an honest node broadcast.
    pub votes_sent: Vec<(u64, usize)>,
    /// Items a live validator accepted.
    pub accepted: Vec<u64>,
    /// What the Byzantine validator sent, by view ([`Mock::Outdated`]).
    outdated: Vec<(View, ConsensusMessage)>,
    /// Old messages it sent again.
    pub outdated_sent: u64,
}

pub fn keys_for(seed: u64) -> Vec<SigningKey> {
    (0..N).map(|i| SigningKey::from_bytes(&Hash::digest_parts(&[b"sim-validator-key", &seed.to_be_bytes(), &(i as u64).to_be_bytes()]).0)).collect()
}

pub fn genesis_header() -> Header {
    Header {
        chain_id: CHAIN.into(),
        height: 0,
        view: 0,
        parent: Hash::digest(b"sim-genesis"),
        tx_root: Hash::ZERO,
        time_ms: 0,
        proposer: 0,
        tx_count: 0,
        state_height: 0,
        state_root: Default::default(),
    }
}

fn short(h: &Hash) -> String {
    hex::encode(&h.0[..3])
}

fn describe_msg(m: &Msg) -> String {
    match m {
        Msg::Consensus(ConsensusMessage::Proposal(p)) => format!(
            "proposal v{} h{} {} parent {} (cert {:?}, {} nulls)",
            p.header.view,
            p.header.height,
            short(&p.header.hash()),
            short(&p.header.parent),
            p.parent_certificate.as_ref().map(|c| (c.kind, c.view)),
            p.nullifications.len()
        ),
        Msg::Consensus(ConsensusMessage::Vote(v)) => format!("vote {:?} v{} {} by {}", v.kind, v.view, short(&v.hash), v.signer),
        Msg::Consensus(ConsensusMessage::Certificate(c)) => {
            format!("cert {:?} v{} {} signers {:?}", c.kind, c.view, short(&c.hash), c.signatures.iter().map(|s| s.signer).collect::<Vec<_>>())
        }
        Msg::FetchRequest(h) => format!("fetch? {}", short(h)),
        Msg::FetchResponse(h) => format!("fetch! h{} v{} {}", h.height, h.view, short(&h.hash())),
        Msg::SyncRequest(h) => format!("sync? above h{h}"),
        Msg::SyncResponse(b, f, e) => {
            format!("sync! {} blocks to h{} ({f:?}, {} epoch certificates)", b.len(), b.last().map_or(0, |h| h.height), e.len())
        }
        Msg::Relay(item) => format!("relay item {item}"),
        Msg::EpochVote(c, s) => format!("epoch vote for epoch {} after h{} {} by {}", c.epoch, c.last_height, short(&c.last_hash), s.signer),
        Msg::Epoch(c) => format!("epoch certificate {} after h{} {}", c.change.epoch, c.change.last_height, short(&c.change.last_hash)),
    }
}

fn describe_event(e: &Event) -> String {
    match e {
        Event::Timeout { view, kind } => format!("timeout {kind:?} v{view}"),
        Event::Built { header } => format!("built v{} h{} {}", header.view, header.height, short(&header.hash())),
        Event::Verified { hash, valid } => format!("verified {} {valid}", short(hash)),
        Event::BlockAvailable { header } => format!("available h{} {}", header.height, short(&header.hash())),
        Event::Synced { header, finalization } => format!("synced h{} v{}", header.height, finalization.view),
        Event::Message(m) => describe_msg(&Msg::Consensus(m.clone())),
        Event::Work { pending } => format!("work pending {pending}"),
    }
}

impl Sim {
    pub fn new(sc: Scenario) -> Sim {
        let keys = keys_for(sc.seed);
        let plan = epoch_plan(sc.seed, sc.reconfigs.len());
        let epochs = Epochs::new(CHAIN, plan[0].epoch_members()).expect("four distinct keys");
        let net = Network { cfg: sc.net.clone(), partitions: sc.partitions.clone() };
        let stable_from = sc.partitions.iter().map(|p| p.until).max().unwrap_or(0);
        let mut sim = Sim {
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            rng: StdRng::seed_from_u64(sc.seed),
            keys,
            plan,
            genesis: genesis_header(),
            nodes: (0..N).map(|_| SimNode { disk: Disk::new(epochs.clone()), live: None, life: 0, restarts: 0 }).collect(),
            net,
            evidence: vec![],
            changes: HashMap::new(),
            dropped: vec![],
            digest: 0xcbf2_9ce4_8422_2325,
            events: 0,
            trace: None,
            stable_from,
            crash_all_armed: sc.crash_all_on_commit.clone(),
            ended_early: false,
            sort_fetches: true,
            invalid_bodies: HashSet::new(),
            payloads: HashMap::new(),
            votes_sent: Vec::new(),
            accepted: Vec::new(),
            outdated: Vec::new(),
            outdated_sent: 0,
            sc,
        };
        if let Some(w) = sim.sc.workload.clone() {
            for (item, (at, node)) in w.submissions.into_iter().enumerate() {
                sim.push(at, Ev::Submit { node, item: item as u64 });
            }
        }
        for c in sim.sc.crashes.clone() {
            sim.push(c.at, Ev::Crash { node: c.node });
            if let Some(down) = c.down {
                sim.push(c.at + down, Ev::Restart { node: c.node, keep_bodies: c.keep_bodies });
            }
        }
        if sim.sc.workload.is_some() {
            for p in sim.sc.partitions.clone() {
                sim.push(p.until, Ev::Heal);
            }
        }
        if let Some(Plant::ForgeCommit { node, at }) = sim.sc.plant.clone() {
            sim.push(at, Ev::Forge { node });
        }
        sim
    }

    /// Keep a readable trace of the last `cap` events (for failure reports).
    pub fn with_trace(mut self, cap: usize) -> Sim {
        self.trace = Some((VecDeque::with_capacity(cap), cap));
        self
    }

    pub fn trace_lines(&self) -> Vec<String> {
        self.trace.as_ref().map(|(t, _)| t.iter().cloned().collect()).unwrap_or_default()
    }

    pub fn honest(&self) -> Vec<usize> {
        (0..N).filter(|&i| Some(i) != self.sc.byzantine).collect()
    }

    fn push(&mut self, time: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Queued { time, seq: self.seq, ev }));
    }

    fn core_config(&self, i: usize, set: &EpochSet) -> CoreConfig {
        let plan = &self.plan[set.number as usize];
        CoreConfig {
            chain_id: CHAIN.into(),
            epoch: set.number,
            epoch_base: (set.number > 0).then_some(set.after_hash),
            validators: set.keys.clone(),
            quorum: set.quorum,
            signer: plan.index_of(i).map(|k| (k, plan.keys[i].clone())),
            timeouts: self.sc.timeouts.clone(),
        }
    }

    /// Node `i`'s index in epoch `epoch` (what its votes name as signer).
    fn index_in(&self, epoch: u64, i: usize) -> Option<u16> {
        self.plan[epoch as usize].index_of(i)
    }

    /// Runs the scenario: at least `duration` and past every planned
    /// disruption; then until liveness is shown (every honest node finalized
    /// `liveness.blocks` blocks after the last disruption) or, failing that,
    /// until the liveness window has passed.
    pub fn run(&mut self) {
        for i in 0..N {
            self.boot(i, SafetyState::default(), vec![]);
        }
        let mut next_probe = 0;
        loop {
            let end = self.end_time();
            let Some(Reverse(q)) = self.queue.peek() else { break };
            if q.time > end {
                break;
            }
            // Once past `duration` and the last disruption, stop as soon as
            // liveness is shown: the window is a bound, not a run length.
            if q.time >= next_probe {
                next_probe = q.time + 100;
                if self.liveness_shown(q.time) {
                    self.now = q.time;
                    self.ended_early = true;
                    return;
                }
            }
            let Reverse(q) = self.queue.pop().expect("peeked");
            self.now = q.time;
            self.dispatch(q.ev);
        }
        self.now = self.end_time();
    }

    fn liveness_shown(&self, now: u64) -> bool {
        let Some(l) = &self.sc.expect.liveness else { return false };
        let pending_restart = self.sc.crashes.iter().filter_map(|c| c.down.map(|d| c.at + d)).max().unwrap_or(0);
        if now < self.sc.duration || now < pending_restart || self.crash_all_armed.is_some() {
            return false;
        }
        let last_epoch = self.sc.reconfigs.len() as u64;
        self.honest().iter().all(|&i| self.nodes[i].epoch() == last_epoch && self.height_at(i, now) >= self.height_at(i, self.stable_from) + l.blocks)
    }

    pub fn end_time(&self) -> u64 {
        let window = self.sc.expect.liveness.as_ref().map_or(0, |l| l.window);
        let pending_restart = self.sc.crashes.iter().filter_map(|c| c.down.map(|d| c.at + d)).max().unwrap_or(0);
        self.sc.duration.max(self.stable_from.max(pending_restart) + window)
    }

    /// Starts node `i`'s core in the epoch its finalized head is in (the
    /// next one if the head is the last block of an epoch whose certificate
    /// is here; stopped, signing the change again, if it is not).
    fn boot(&mut self, i: usize, safety: SafetyState, known: Vec<Header>) {
        let node = &self.nodes[i];
        let last = node.tip(&self.genesis);
        let set = node.disk.epochs.at_height(last.height + 1).clone();
        let halted = self.changes.get(&last.hash()).is_some_and(|&e| e > set.number);
        // The safety state is per epoch: a new epoch's votes start afresh.
        let safety = if safety.epoch == set.number { safety } else { SafetyState { epoch: set.number, ..SafetyState::default() } };
        // The finalization of the head, if it is of this epoch (the base of
        // an epoch was finalized by the epoch before).
        let last_fin = node.disk.last_finalization.clone().filter(|c| c.hash == last.hash() && (set.number == 0 || last.height > set.after_height));
        let mut core = Core::new(self.core_config(i, &set), safety, last, last_fin, known);
        let bodies = self.nodes[i].disk.bodies.clone();
        let mut actions = vec![];
        let mut reported_work = None;
        if !halted {
            actions = core.start();
            if self.sc.workload.is_none() {
                // Always work to do: views are never idle.
                actions.extend(core.handle(Event::Work { pending: true }));
                reported_work = Some(true);
            }
        }
        let index = self.index_in(set.number, i);
        self.nodes[i].live = Some(Live {
            core,
            bodies,
            reported_work,
            deferred: None,
            epoch: set.number,
            index,
            halted: false,
            votes: EpochVotes::default(),
            own_vote: None,
        });
        let life = self.nodes[i].life;
        if let Some(every) = self.sc.sync_every {
            let first = self.rng.random_range(1..=every);
            self.push(self.now + first, Ev::SyncTick { node: i, life });
        }
        if halted {
            self.end_epoch(i);
            return;
        }
        self.apply(i, actions);
        self.report_work(i);
    }

    // ----- epochs ------------------------------------------------------------

    /// After a commit or a sync: if the head now carries a validator change,
    /// the epoch ended there.
    fn after_commit(&mut self, i: usize) {
        let tip = self.nodes[i].tip(&self.genesis);
        let Some(live) = self.nodes[i].live.as_ref() else { return };
        if !live.halted && self.changes.get(&tip.hash()).is_some_and(|&e| e > live.epoch) {
            self.end_epoch(i);
        }
    }

    /// The driver's `after_commit_epoch`: stop the core, sign the change the
    /// head carries (if this node is of the ending epoch), send it.
    fn end_epoch(&mut self, i: usize) {
        let tip = self.nodes[i].tip(&self.genesis);
        let next = self.changes[&tip.hash()];
        let live = self.nodes[i].live.as_mut().expect("alive");
        live.halted = true;
        live.deferred = None;
        let ending = live.epoch;
        let change = EpochChange {
            chain_id: CHAIN.into(),
            epoch: next,
            last_height: tip.height,
            last_hash: tip.hash(),
            last_view: tip.view,
            validators: self.plan[next as usize].epoch_members(),
        };
        self.trace_line(|| format!("n{i}: EPOCH {ending} ENDS at h{} {}; signing epoch {next}", tip.height, short(&tip.hash())));
        if let Some(index) = self.index_in(ending, i) {
            let signature = change.sign(index, &self.plan[ending as usize].keys[i]);
            if Some(i) == self.sc.byzantine {
                // First a change for another last block: each honest
                // collector keeps this validator's first change only.
                let mut bogus = change.clone();
                bogus.last_hash = Hash::digest_parts(&[b"bogus epoch change", &tip.hash().0]);
                let bogus_signature = bogus.sign(index, &self.plan[ending as usize].keys[i]);
                self.broadcast(i, Msg::EpochVote(bogus, bogus_signature));
            }
            self.nodes[i].live.as_mut().expect("alive").own_vote = Some((change.clone(), signature.clone()));
            self.on_epoch_vote(i, None, change, signature);
        }
        self.broadcast_epoch_vote(i);
        self.maybe_switch(i);
    }

    fn broadcast_epoch_vote(&mut self, i: usize) {
        if let Some((change, signature)) = self.nodes[i].live.as_ref().and_then(|l| l.own_vote.clone()) {
            self.broadcast(i, Msg::EpochVote(change, signature));
        }
    }

    fn on_epoch_vote(&mut self, i: usize, from: Option<usize>, change: EpochChange, signature: SignerSignature) {
        if let Some(cert) = self.nodes[i].disk.epochs.certificate(change.epoch).cloned() {
            if let Some(peer) = from {
                self.send(i, peer, Msg::Epoch(cert));
            }
            return;
        }
        let node = &mut self.nodes[i];
        let Some(live) = node.live.as_mut() else { return };
        if let Ok(Some(cert)) = live.votes.add(node.disk.epochs.current(), CHAIN, change, signature) {
            self.on_epoch_certificate(i, cert);
        }
    }

    fn on_epoch_certificate(&mut self, i: usize, cert: EpochCertificate) {
        let disk = &mut self.nodes[i].disk;
        if disk.epochs.certificate(cert.change.epoch).is_some() || disk.epochs.push(cert.clone()).is_err() {
            return;
        }
        let epoch = cert.change.epoch;
        if let Some(live) = self.nodes[i].live.as_mut() {
            live.votes.settle(epoch);
        }
        self.trace_line(|| format!("n{i}: EPOCH CERTIFICATE {epoch} after h{} ({} signers)", cert.change.last_height, cert.signatures.len()));
        self.broadcast(i, Msg::Epoch(cert));
        self.maybe_switch(i);
    }

    /// The driver's `maybe_switch`: the head ended an epoch and the next
    /// one's certificate is here: the core restarts in it, on the head.
    fn maybe_switch(&mut self, i: usize) {
        let node = &self.nodes[i];
        let tip = node.tip(&self.genesis);
        let Some(live) = node.live.as_ref() else { return };
        let Some(set) = node.disk.epochs.starting_after(tip.height) else { return };
        if set.number <= live.epoch || set.after_hash != tip.hash() || self.changes.get(&tip.hash()) != Some(&set.number) {
            return;
        }
        let number = set.number;
        self.trace_line(|| format!("n{i}: ENTER EPOCH {number} on h{}", tip.height));
        self.record(i, 50, &[number], Some(&tip.hash()));
        let safety = SafetyState { epoch: number, ..SafetyState::default() };
        self.nodes[i].disk.safety = safety.clone();
        self.nodes[i].life += 1;
        self.boot(i, safety, vec![]);
    }

    // ----- the trace ---------------------------------------------------------

    fn mix(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.digest ^= *b as u64;
            self.digest = self.digest.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn mix_u64(&mut self, x: u64) {
        self.mix(&x.to_be_bytes());
    }

    fn record(&mut self, node: usize, tag: u8, fields: &[u64], hash: Option<&Hash>) {
        self.events += 1;
        self.mix_u64(self.now);
        self.mix(&[node as u8, tag]);
        for f in fields {
            self.mix_u64(*f);
        }
        if let Some(h) = hash {
            let h8: [u8; 8] = h.0[..8].try_into().unwrap();
            self.mix(&h8);
        }
    }

    fn trace_line(&mut self, line: impl FnOnce() -> String) {
        if let Some((t, cap)) = self.trace.as_mut() {
            if t.len() == *cap {
                t.pop_front();
            }
            let now = self.now;
            t.push_back(format!("{now:>6}ms {}", line()));
        }
    }

    fn record_msg(&mut self, to: usize, from: usize, msg: &Msg) {
        match msg {
            Msg::Consensus(ConsensusMessage::Proposal(p)) => {
                self.record(to, 1, &[from as u64, p.header.view, p.header.height], Some(&p.header.tx_root))
            }
            Msg::Consensus(ConsensusMessage::Vote(v)) => self.record(to, 2, &[from as u64, v.kind as u64, v.view, v.signer as u64], Some(&v.hash)),
            Msg::Consensus(ConsensusMessage::Certificate(c)) => {
                self.record(to, 3, &[from as u64, c.kind as u64, c.view, c.signatures.len() as u64], Some(&c.hash))
            }
            Msg::FetchRequest(h) => self.record(to, 4, &[from as u64], Some(h)),
            Msg::FetchResponse(h) => self.record(to, 5, &[from as u64, h.height, h.view], Some(&h.tx_root)),
            Msg::SyncRequest(h) => self.record(to, 6, &[from as u64, *h], None),
            Msg::SyncResponse(b, f, e) => {
                let (kind, hash) = match f {
                    Finality::Certificate(c) => (c.view, c.hash),
                    Finality::EndOfEpoch(e) => (u64::MAX - e, Hash::ZERO),
                };
                self.record(to, 7, &[from as u64, b.len() as u64, kind, e.len() as u64], Some(&hash))
            }
            Msg::Relay(item) => self.record(to, 8, &[from as u64, *item], None),
            Msg::EpochVote(c, s) => self.record(to, 9, &[from as u64, c.epoch, c.last_height, s.signer as u64], Some(&c.last_hash)),
            Msg::Epoch(c) => self.record(to, 14, &[from as u64, c.change.epoch, c.change.last_height], Some(&c.change.last_hash)),
        }
        self.trace_line(|| format!("n{to} <- n{from}: {}", describe_msg(msg)));
    }

    fn record_local(&mut self, node: usize, e: &Event) {
        match e {
            Event::Timeout { view, kind } => self.record(node, 10, &[*view, *kind as u64], None),
            Event::Built { header } => self.record(node, 11, &[header.view, header.height], Some(&header.tx_root)),
            Event::Verified { hash, valid } => self.record(node, 12, &[*valid as u64], Some(hash)),
            _ => self.record(node, 13, &[], None),
        }
        self.trace_line(|| format!("n{node}: {}", describe_event(e)));
    }

    // ----- dispatch ------------------------------------------------------------

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Deliver { to, from, msg } => {
                if !self.nodes[to].alive() {
                    return;
                }
                self.record_msg(to, from, &msg);
                self.on_message(to, from, msg);
            }
            Ev::Local { node, life, event } => {
                if self.nodes[node].life != life || !self.nodes[node].alive() {
                    return;
                }
                self.record_local(node, &event);
                self.feed(node, event);
            }
            Ev::SyncTick { node, life } => {
                if self.nodes[node].life != life || !self.nodes[node].alive() {
                    return;
                }
                let every = self.sc.sync_every.expect("sync ticks only when enabled");
                let peer = (node + self.rng.random_range(1..N)) % N;
                let h = self.nodes[node].height();
                self.record(node, 20, &[peer as u64, h], None);
                self.send(node, peer, Msg::SyncRequest(h));
                if self.nodes[node].live.as_ref().is_some_and(|l| l.halted) {
                    // The driver's `chase_epoch`: our vote again.
                    self.broadcast_epoch_vote(node);
                }
                self.push(self.now + every, Ev::SyncTick { node, life });
            }
            Ev::Crash { node } => {
                self.record(node, 30, &[], None);
                self.trace_line(|| format!("n{node}: CRASH"));
                self.nodes[node].live = None;
                self.nodes[node].life += 1;
            }
            Ev::Restart { node, keep_bodies } => {
                if self.nodes[node].alive() {
                    // Not crashed (overlapping plans): crash it first.
                    self.nodes[node].live = None;
                    self.nodes[node].life += 1;
                }
                self.record(node, 31, &[keep_bodies as u64], None);
                self.trace_line(|| format!("n{node}: RESTART (keep bodies: {keep_bodies})"));
                self.stable_from = self.stable_from.max(self.now);
                self.nodes[node].restarts += 1;
                let safety = if self.sc.plant == Some(Plant::Amnesia) { SafetyState::default() } else { self.nodes[node].disk.safety.clone() };
                let lf = self.nodes[node].height();
                let known: Vec<Header> = if keep_bodies {
                    let mut k: Vec<Header> = self.nodes[node].disk.bodies.values().filter(|h| h.height > lf).cloned().collect();
                    k.sort_by_key(|h| (h.height, h.view, h.hash()));
                    k
                } else {
                    vec![]
                };
                if !keep_bodies {
                    self.nodes[node].disk.bodies.clear();
                }
                self.boot(node, safety, known);
                // Connected again: the node relays what it holds, as the
                // driver does when it starts, and each peer relays what it
                // holds to the node, as the driver does when a peer connects.
                self.relay_pending(node, None);
                for peer in (0..N).filter(|&p| p != node) {
                    self.relay_pending(peer, Some(node));
                }
            }
            Ev::Heal => {
                // A partition long enough to matter closed the connections
                // across it; each peer that connects again is sent the
                // pending transactions (the driver's `relay_pending`).
                self.trace_line(|| "partition healed".to_string());
                for node in 0..N {
                    self.relay_pending(node, None);
                }
            }
            Ev::Forge { node } => self.forge_commit(node),
            Ev::Submit { node, item } => {
                // A validator that is down does not accept the submission.
                if !self.nodes[node].alive() {
                    return;
                }
                self.record(node, 40, &[item], None);
                self.trace_line(|| format!("n{node}: SUBMIT item {item}"));
                self.accepted.push(item);
                self.add_item(node, item);
                self.broadcast(node, Msg::Relay(item));
            }
            Ev::BuildDeadline { node, life, view } => {
                if self.nodes[node].life != life || !self.nodes[node].alive() {
                    return;
                }
                if self.nodes[node].live.as_ref().and_then(|l| l.deferred.as_ref()).map(|d| d.0) != Some(view) {
                    return;
                }
                self.record(node, 41, &[view], None);
                self.try_build(node, true);
            }
        }
    }

    // ----- the workload (Rule I) -----------------------------------------------

    fn add_item(&mut self, i: usize, item: u64) {
        let disk = &mut self.nodes[i].disk;
        if disk.committed.contains(&item) || !disk.pending.insert(item) {
            return;
        }
        self.report_work(i);
        self.try_build(i, false);
    }

    /// Like the driver's `relay_pending`: what node `i` holds and has not
    /// seen final, to one peer or to all.
    fn relay_pending(&mut self, i: usize, to: Option<usize>) {
        if !self.nodes[i].alive() {
            return;
        }
        let items: Vec<u64> = self.nodes[i].disk.pending.iter().copied().collect();
        for item in items {
            match to {
                Some(peer) => self.send(i, peer, Msg::Relay(item)),
                None => self.broadcast(i, Msg::Relay(item)),
            }
        }
    }

    /// Like the driver: tell the core when the mempool turns empty or not.
    /// Queued, not fed at once, as the driver queues its events.
    fn report_work(&mut self, i: usize) {
        let pending = !self.nodes[i].disk.pending.is_empty();
        let Some(live) = self.nodes[i].live.as_mut() else { return };
        if self.sc.workload.is_none() || live.reported_work == Some(pending) {
            return;
        }
        live.reported_work = Some(pending);
        self.local(i, 0, Event::Work { pending });
    }

    /// Items in blocks between the node's finalized tip and `parent`.
    fn in_flight(&self, i: usize, parent: &Header) -> HashSet<u64> {
        let node = &self.nodes[i];
        let top = node.height();
        let mut out = HashSet::new();
        let mut cursor = parent.clone();
        while cursor.height > top {
            out.extend(self.payloads.get(&cursor.hash()).into_iter().flatten().copied());
            let live = node.live.as_ref().expect("alive");
            match live.bodies.get(&cursor.parent).or_else(|| node.disk.bodies.get(&cursor.parent)) {
                Some(h) => cursor = h.clone(),
                None => break,
            }
        }
        out
    }

    /// The driver's build: the pending items not in the blocks it extends;
    /// with none, wait (`build_wait`) and then propose an empty block only if
    /// items are still pending (in flight), else keep waiting for items.
    fn try_build(&mut self, i: usize, deadline_passed: bool) {
        let Some(live) = self.nodes[i].live.as_ref() else { return };
        let Some((view, parent)) = live.deferred.clone() else { return };
        if view != live.core.view() {
            self.nodes[i].live.as_mut().expect("alive").deferred = None;
            return;
        }
        let exclude = self.in_flight(i, &parent);
        let picked: Vec<u64> = self.nodes[i].disk.pending.iter().filter(|x| !exclude.contains(x)).copied().collect();
        if picked.is_empty() && (!deadline_passed || self.nodes[i].disk.pending.is_empty()) {
            return;
        }
        self.nodes[i].live.as_mut().expect("alive").deferred = None;
        self.build(i, view, parent, picked);
    }

    /// Rule G: the blocks between the finalized head and `parent` hold a
    /// validator change (bodies not held count as not holding one, as in
    /// the driver).
    fn reconfiguring(&self, i: usize, parent: &Header) -> bool {
        let node = &self.nodes[i];
        let top = node.height();
        let Some(live) = node.live.as_ref() else { return false };
        let mut cursor = parent.clone();
        while cursor.height > top {
            if self.changes.contains_key(&cursor.hash()) {
                return true;
            }
            match live.bodies.get(&cursor.parent).or_else(|| node.disk.bodies.get(&cursor.parent)) {
                Some(h) => cursor = h.clone(),
                None => return false,
            }
        }
        false
    }

    fn build(&mut self, i: usize, view: View, parent: Header, mut items: Vec<u64>) {
        let payload: u64 = self.rng.random();
        let live = self.nodes[i].live.as_ref().expect("alive");
        let (epoch, proposer) = (live.epoch, live.index.expect("a leader is a validator"));
        let reconfiguring = self.reconfiguring(i, &parent) && self.sc.plant != Some(Plant::NoRuleG);
        if reconfiguring {
            items.clear();
        }
        let header = Header {
            chain_id: CHAIN.into(),
            height: parent.height + 1,
            view,
            parent: parent.hash(),
            tx_root: Hash::digest_parts(&[b"payload", &payload.to_be_bytes()]),
            time_ms: self.now as i64,
            proposer,
            tx_count: match (&self.sc.workload, reconfiguring) {
                (Some(_), _) => items.len() as u32,
                (None, false) => self.rng.random_range(0..5),
                // Rule G: nothing above a change in flight.
                (None, true) => 0,
            },
            state_height: 0,
            state_root: Default::default(),
        };
        if self.sc.workload.is_some() {
            self.payloads.insert(header.hash(), items);
        }
        // The epoch's change, once its time has come, in the first block an
        // honest leader builds outside a change in flight.
        if !reconfiguring && Some(i) != self.sc.byzantine && self.sc.reconfigs.get(epoch as usize).is_some_and(|&at| self.now >= at) {
            self.changes.insert(header.hash(), epoch + 1);
            self.trace_line(|| {
                format!("n{i}: block v{} h{} {} carries the change to epoch {}", header.view, header.height, short(&header.hash()), epoch + 1)
            });
        }
        let node = &mut self.nodes[i];
        node.disk.bodies.insert(header.hash(), header.clone());
        node.live.as_mut().expect("alive").bodies.insert(header.hash(), header.clone());
        let delay = self.rng.random_range(1..=15);
        self.local(i, delay, Event::Built { header });
    }

    fn feed(&mut self, i: usize, event: Event) {
        let Some(live) = self.nodes[i].live.as_mut() else { return };
        if live.halted {
            return;
        }
        let actions = live.core.handle(event);
        self.apply(i, actions);
    }

    fn on_message(&mut self, i: usize, from: usize, msg: Msg) {
        match msg {
            Msg::Consensus(m) => {
                // The body travels beside the proposal: the driver holds it.
                if let ConsensusMessage::Proposal(p) = &m {
                    let live = self.nodes[i].live.as_mut().expect("alive");
                    live.bodies.insert(p.header.hash(), p.header.clone());
                }
                self.feed(i, Event::Message(m));
            }
            Msg::FetchRequest(hash) => {
                let node = &self.nodes[i];
                let live = node.live.as_ref().expect("alive");
                let found = live
                    .bodies
                    .get(&hash)
                    .or_else(|| node.disk.bodies.get(&hash))
                    .or_else(|| node.disk.chain_index.get(&hash).map(|&h| &node.disk.chain[h as usize - 1]))
                    .cloned();
                if let Some(header) = found {
                    self.send(i, from, Msg::FetchResponse(header));
                }
            }
            Msg::FetchResponse(header) => {
                let live = self.nodes[i].live.as_mut().expect("alive");
                live.bodies.insert(header.hash(), header.clone());
                self.feed(i, Event::BlockAvailable { header });
            }
            Msg::SyncRequest(height) => {
                let disk = &self.nodes[i].disk;
                let certs = disk.epochs.certificates().to_vec();
                match sync_segment(disk, height) {
                    Some((blocks, finality)) => self.send(i, from, Msg::SyncResponse(blocks, finality, certs)),
                    None if !certs.is_empty() => self.send(i, from, Msg::SyncResponse(vec![], Finality::EndOfEpoch(0), certs)),
                    None => {}
                }
            }
            Msg::SyncResponse(blocks, finality, certs) => {
                for cert in certs {
                    self.on_epoch_certificate(i, cert);
                }
                self.on_sync_response(i, blocks, finality);
            }
            Msg::Relay(item) => self.add_item(i, item),
            Msg::EpochVote(change, signature) => self.on_epoch_vote(i, Some(from), change, signature),
            Msg::Epoch(cert) => self.on_epoch_certificate(i, cert),
        }
    }

    /// The driver's range sync: keep the blocks above our height if they link
    /// to our tip, lie in one epoch, and the last one is final (a
    /// finalization by that epoch's set, or the certificate of the epoch
    /// after it naming it); store them, then tell the core.
    fn on_sync_response(&mut self, i: usize, blocks: Vec<Header>, finality: Finality) {
        if !self.nodes[i].alive() {
            return;
        }
        let height = self.nodes[i].height();
        let new: Vec<Header> = blocks.into_iter().filter(|b| b.height > height).collect();
        let Some(last) = new.last().cloned() else { return };
        let tip = self.nodes[i].tip(&self.genesis).hash();
        let mut parent = tip;
        for (k, b) in new.iter().enumerate() {
            if b.parent != parent || b.height != height + 1 + k as u64 {
                return;
            }
            parent = b.hash();
        }
        let epochs = &self.nodes[i].disk.epochs;
        let set = epochs.at_height(height + 1);
        if epochs.get(set.number + 1).is_some_and(|next| next.after_height < last.height) {
            return;
        }
        let valid = match &finality {
            Finality::Certificate(cert) => {
                cert.hash == last.hash() && cert.verify(VoteKind::Finalize, &namespace(CHAIN, set.number), &set.keys, set.quorum).is_ok()
            }
            Finality::EndOfEpoch(e) => {
                *e == set.number + 1
                    && epochs.certificate(*e).is_some_and(|c| c.change.last_hash == last.hash() && c.change.last_height == last.height)
            }
        };
        if !valid {
            return;
        }
        let same_epoch = self.nodes[i].live.as_ref().is_some_and(|l| l.epoch == set.number && !l.halted);
        self.store_final(i, new, finality.clone(), Source::Sync);
        if let (Finality::Certificate(cert), true) = (finality, same_epoch) {
            self.feed(i, Event::Synced { header: last, finalization: cert });
        }
        self.after_commit(i);
    }

    /// Appends finalized blocks. Blocks above one that carries a validator
    /// change are dropped (the epoch ended there; Rule G kept them empty).
    fn store_final(&mut self, i: usize, mut blocks: Vec<Header>, mut finality: Finality, source: Source) {
        let now = self.now;
        let tip = self.nodes[i].tip(&self.genesis);
        let ended = self.changes.get(&tip.hash()).is_some_and(|&e| self.nodes[i].live.as_ref().is_some_and(|l| e > l.epoch));
        if source != Source::Forged && ((ended && source == Source::Commit) || blocks.first().is_none_or(|b| b.parent != tip.hash())) {
            // The old core's commits after the end of its epoch.
            return;
        }
        if let Some(k) = blocks.iter().position(|b| self.changes.contains_key(&b.hash()))
            && k + 1 < blocks.len()
        {
            let cut = blocks.split_off(k + 1);
            finality = Finality::EndOfEpoch(self.changes[&blocks[k].hash()]);
            if source == Source::Commit {
                self.dropped.extend(cut.into_iter().map(|b| (i, b)));
            }
        }
        let disk = &mut self.nodes[i].disk;
        for b in &blocks {
            disk.chain.push(b.clone());
            disk.chain_index.insert(b.hash(), disk.chain.len() as u64);
        }
        let top = disk.chain.len() as u64;
        disk.bodies.retain(|_, h| h.height > top);
        if let Some(live) = self.nodes[i].live.as_mut() {
            live.bodies.retain(|_, h| h.height > top);
        }
        let disk = &mut self.nodes[i].disk;
        for b in &blocks {
            for item in self.payloads.get(&b.hash()).into_iter().flatten() {
                disk.committed.insert(*item);
                disk.pending.remove(item);
            }
        }
        if let Finality::Certificate(c) = &finality {
            disk.last_finalization = Some(c.clone());
        }
        disk.batches.push(Batch { at: now, blocks, finality, source });
        self.report_work(i);
        if let Some(trigger) = self.crash_all_armed.clone()
            && now >= trigger.after
            && source == Source::Commit
        {
            self.crash_all_armed = None;
            for node in 0..N {
                let at = now + self.rng.random_range(0..=2);
                let down = self.rng.random_range(trigger.down_min..=trigger.down_max);
                self.push(at, Ev::Crash { node });
                self.push(at + down, Ev::Restart { node, keep_bodies: true });
                self.stable_from = self.stable_from.max(at + down);
            }
        }
    }

    fn forge_commit(&mut self, i: usize) {
        let disk = &self.nodes[i].disk;
        let tip = disk.chain.last().cloned().unwrap_or_else(|| self.genesis.clone());
        let fake = Header {
            chain_id: CHAIN.into(),
            height: tip.height + 1,
            view: tip.view + 1,
            parent: tip.hash(),
            tx_root: Hash::digest(b"forged"),
            time_ms: self.now as i64,
            proposer: i as u16,
            tx_count: 1,
            state_height: 0,
            state_root: Default::default(),
        };
        // Reuse whatever certificate the node holds: it certifies another block.
        let cert = disk.last_finalization.clone().unwrap_or(Certificate {
            kind: VoteKind::Finalize,
            view: fake.view,
            hash: fake.hash(),
            signatures: vec![],
        });
        self.trace_line(|| format!("n{i}: FORGED commit h{}", fake.height));
        self.store_final(i, vec![fake], Finality::Certificate(cert), Source::Forged);
    }

    // ----- actions -----------------------------------------------------------------

    fn send(&mut self, from: usize, to: usize, msg: Msg) {
        let delays = self.net.route(&mut self.rng, self.now, from, to);
        for d in delays {
            self.push(self.now + d, Ev::Deliver { to, from, msg: msg.clone() });
        }
    }

    fn broadcast(&mut self, from: usize, msg: Msg) {
        for to in 0..N {
            if to != from {
                self.send(from, to, msg.clone());
            }
        }
    }

    fn local(&mut self, node: usize, after: u64, event: Event) {
        let life = self.nodes[node].life;
        self.push(self.now + after, Ev::Local { node, life, event });
    }

    /// Sends a consensus message as node `i` (the Byzantine node by its own behaviour).
    fn send_consensus(&mut self, i: usize, m: ConsensusMessage) {
        if matches!(m, ConsensusMessage::Vote(_)) && Some(i) != self.sc.byzantine {
            self.votes_sent.push((self.now, i));
        }
        if Some(i) == self.sc.byzantine {
            self.byzantine_broadcast(i, m);
        } else {
            self.broadcast(i, Msg::Consensus(m));
        }
    }

    /// Carries out the core's actions in order, like the real driver.
    fn apply(&mut self, i: usize, mut actions: Vec<Action>) {
        if self.sort_fetches {
            normalize_fetch_order(&mut actions);
        }
        for a in actions {
            match a {
                Action::PersistThenBroadcast(guarded) => {
                    let (state, m) = guarded.into_parts();
                    self.nodes[i].disk.safety = state;
                    self.send_consensus(i, m);
                }
                Action::Broadcast(m) => self.send_consensus(i, m),
                Action::Build { view, parent } => match &self.sc.workload {
                    None => self.build(i, view, parent, vec![]),
                    Some(w) => {
                        let wait = w.build_wait;
                        self.nodes[i].live.as_mut().expect("alive").deferred = Some((view, parent));
                        let life = self.nodes[i].life;
                        self.push(self.now + wait, Ev::BuildDeadline { node: i, life, view });
                        self.try_build(i, false);
                    }
                },
                Action::Verify { header, parent } => {
                    // The body is checked and kept before the node votes for it.
                    self.nodes[i].disk.bodies.insert(header.hash(), header.clone());
                    let delay = self.rng.random_range(1..=15);
                    let hash = header.hash();
                    let rule_g = self.sc.plant == Some(Plant::NoRuleG)
                        || !self.reconfiguring(i, &parent)
                        || (header.tx_count == 0 && !self.changes.contains_key(&hash));
                    let valid = !self.invalid_bodies.contains(&hash) && rule_g;
                    self.local(i, delay, Event::Verified { hash, valid });
                }
                Action::ScheduleTimeout { view, kind, after_ms } => self.local(i, after_ms, Event::Timeout { view, kind }),
                Action::Fetch { hash } => self.broadcast(i, Msg::FetchRequest(hash)),
                Action::Commit { blocks, finalization } => {
                    self.trace_line(|| format!("n{i}: COMMIT to h{} (final v{})", blocks.last().map_or(0, |b| b.height), finalization.view));
                    self.store_final(i, blocks, Finality::Certificate(finalization), Source::Commit);
                }
                Action::Evidence(e) => {
                    self.trace_line(|| format!("n{i}: EVIDENCE against {}: {}", e.offender(), evidence_kind(&e)));
                    let epoch = self.nodes[i].epoch();
                    let offender = self.plan[epoch as usize].members.get(e.offender() as usize).copied().unwrap_or(usize::MAX);
                    self.evidence.push(Reported { reporter: i, at: self.now, evidence: e, offender });
                }
            }
        }
        self.after_commit(i);
    }

    // ----- the Byzantine driver ---------------------------------------------------

    /// A vote the Byzantine validator signs in the epoch its core runs.
    fn byz_vote(&self, i: usize, kind: VoteKind, view: View, hash: Hash) -> Vote {
        let epoch = self.nodes[i].epoch();
        let signer = self.index_in(epoch, i).expect("the Byzantine validator is one in every epoch");
        let key = &self.plan[epoch as usize].keys[i];
        Vote { kind, view, hash, signer, signature: sign_vote(key, kind, &namespace(CHAIN, epoch), view, &hash) }
    }

    /// The honest core's message, plus what the mock adds: a second
    /// proposal for each view it leads (each honest node gets one of the
    /// two; half the time the second body fails verification); a notarize
    /// for a made-up block beside each honest notarize; a nullify beside
    /// each finalize; or an old message of its own sent again.
    fn byzantine_broadcast(&mut self, i: usize, m: ConsensusMessage) {
        let mock = self.sc.mock;
        let does = |m: Mock| mock == m || (mock == Mock::Everything && m != Mock::Outdated);
        if does(Mock::Outdated) {
            self.send_outdated(i, &m);
        }
        match m {
            ConsensusMessage::Proposal(p) if Some(p.header.proposer) == self.index_in(self.nodes[i].epoch(), i) && does(Mock::Equivocator) => {
                let mut h2 = p.header.clone();
                let payload: u64 = self.rng.random();
                h2.tx_root = Hash::digest_parts(&[b"equivocation", &payload.to_be_bytes()]);
                h2.tx_count += 1;
                let hash1 = p.header.hash();
                let hash2 = h2.hash();
                let v2 = self.byz_vote(i, VoteKind::Notarize, h2.view, hash2);
                let p2 = Proposal { header: h2.clone(), signature: v2.signature, ..p.clone() };
                self.nodes[i].live.as_mut().expect("alive").bodies.insert(hash2, h2);
                // Half the time the second block's body is invalid too.
                if self.rng.random_bool(0.5) {
                    self.invalid_bodies.insert(hash2);
                }
                let mut others: Vec<usize> = (0..N).filter(|&j| j != i).collect();
                others.shuffle(&mut self.rng);
                let k = self.rng.random_range(1..others.len());
                for (n, &j) in others.iter().enumerate() {
                    let which = if n < k { p.clone() } else { p2.clone() };
                    self.send(i, j, Msg::Consensus(ConsensusMessage::Proposal(which)));
                }
                let v1 = self.byz_vote(i, VoteKind::Notarize, p.header.view, hash1);
                self.broadcast(i, Msg::Consensus(ConsensusMessage::Vote(v1)));
                self.broadcast(i, Msg::Consensus(ConsensusMessage::Vote(v2)));
            }
            ConsensusMessage::Vote(v) if v.kind == VoteKind::Notarize && does(Mock::Conflicter) => {
                let payload: u64 = self.rng.random();
                let fake = Hash::digest_parts(&[b"made-up block", &payload.to_be_bytes()]);
                let extra = self.byz_vote(i, VoteKind::Notarize, v.view, fake);
                self.broadcast(i, Msg::Consensus(ConsensusMessage::Vote(v)));
                self.broadcast(i, Msg::Consensus(ConsensusMessage::Vote(extra)));
            }
            ConsensusMessage::Vote(v) if v.kind == VoteKind::Finalize && does(Mock::Nuller) => {
                let extra = self.byz_vote(i, VoteKind::Nullify, v.view, Hash::ZERO);
                self.broadcast(i, Msg::Consensus(ConsensusMessage::Vote(v)));
                self.broadcast(i, Msg::Consensus(ConsensusMessage::Vote(extra)));
            }
            other => self.broadcast(i, Msg::Consensus(other)),
        }
    }

    /// [`Mock::Outdated`]: keeps what it sends, and with each message sends
    /// again one it sent at least [`OUTDATED_BY`] views before, to a random peer.
    fn send_outdated(&mut self, i: usize, m: &ConsensusMessage) {
        let view = match m {
            ConsensusMessage::Proposal(p) => p.header.view,
            ConsensusMessage::Vote(v) => v.view,
            ConsensusMessage::Certificate(c) => c.view,
        };
        let old: Vec<ConsensusMessage> = self.outdated.iter().filter(|(v, _)| v + OUTDATED_BY <= view).map(|(_, m)| m.clone()).collect();
        if !old.is_empty() {
            let pick = old[self.rng.random_range(0..old.len())].clone();
            let to = (i + self.rng.random_range(1..N)) % N;
            self.send(i, to, Msg::Consensus(pick));
            self.outdated_sent += 1;
        }
        self.outdated.push((view, m.clone()));
        if self.outdated.len() > 256 {
            self.outdated.remove(0);
        }
    }

    // ----- queries for the checker -------------------------------------------------

    /// Node `i`'s finalized height at time `t` (from its batches' times).
    pub fn height_at(&self, i: usize, t: u64) -> u64 {
        self.nodes[i].disk.batches.iter().filter(|b| b.at <= t).filter_map(|b| b.blocks.last()).map(|h| h.height).max().unwrap_or(0)
    }

    pub fn summary(&self) -> String {
        let mut s = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let _ = writeln!(
                s,
                "  n{i}{}: height {}, epoch {}{}, view {:?}, alive {}, restarts {}, batches {}",
                if Some(i) == self.sc.byzantine { " (byzantine)" } else { "" },
                n.height(),
                n.epoch(),
                if n.live.as_ref().is_some_and(|l| l.halted) { " (halted)" } else { "" },
                n.view(),
                n.alive(),
                n.restarts,
                n.disk.batches.len()
            );
        }
        let _ =
            write!(s, "  stable from {}ms, end {}ms, {} events, {} evidence", self.stable_from, self.end_time(), self.events, self.evidence.len());
        s
    }
}

/// A range-sync answer from `disk` to a node at `height`: the finalized
/// blocks above it, up to the end of their epoch at most, ending at a block
/// whose finality this node can show (a finalization, or the certificate of
/// the epoch after it).
fn sync_segment(disk: &Disk, height: u64) -> Option<(Vec<Header>, Finality)> {
    let top = disk.chain.len() as u64;
    if top <= height {
        return None;
    }
    let set = disk.epochs.at_height(height + 1);
    let limit = disk.epochs.get(set.number + 1).map_or(top, |next| next.after_height.min(top));
    let (end, finality) = disk.batches.iter().rev().find_map(|b| {
        let last = b.blocks.last()?;
        if last.height <= height || last.height > limit {
            return None;
        }
        match &b.finality {
            Finality::Certificate(c) => Some((last.height, Finality::Certificate(c.clone()))),
            Finality::EndOfEpoch(e) => disk.epochs.certificate(*e).map(|_| (last.height, Finality::EndOfEpoch(*e))),
        }
    })?;
    Some((disk.chain[height as usize..end as usize].to_vec(), finality))
}

/// Order-insensitive actions (fetches) are sorted so that a run does not
/// depend on the iteration order of the core's pending fetches: while
/// `Core::fetching` is a std `HashSet` (random order per instance), and
/// `on_timeout` emits them in that order (core bug 3, see
/// `core_emits_fetches_in_a_deterministic_order`).
pub fn normalize_fetch_order(actions: &mut [Action]) {
    let mut k = 0;
    while k < actions.len() {
        if matches!(actions[k], Action::Fetch { .. }) {
            let start = k;
            while k < actions.len() && matches!(actions[k], Action::Fetch { .. }) {
                k += 1;
            }
            actions[start..k].sort_by_key(|a| match a {
                Action::Fetch { hash } => *hash,
                _ => unreachable!(),
            });
        } else {
            k += 1;
        }
    }
}

pub fn evidence_kind(e: &Evidence) -> &'static str {
    match e {
        Evidence::ConflictingNotarize(..) => "conflicting notarize",
        Evidence::ConflictingFinalize(..) => "conflicting finalize",
        Evidence::NullifyFinalize(..) => "nullify and finalize",
    }
}

// ===== the checker =============================================================

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Two honest nodes finalized different blocks at one height.
    Agreement(String),
    /// A finalized batch does not link to the chain, or its certificate does
    /// not certify its last block.
    Certificate(String),
    /// Evidence names a validator that is not Byzantine.
    HonestEquivocation(String),
    /// No honest node produced evidence against the Byzantine validator.
    MissingEvidence(String),
    /// Evidence where no validator committed an offence.
    UnexpectedEvidence(String),
    Liveness(String),
    /// A block became final while it should not have.
    Progress(String),
    /// A block with transactions was finalized above the last block of an
    /// epoch, where nobody applies it.
    RuleG(String),
}

impl Violation {
    pub fn is_safety(&self) -> bool {
        matches!(self, Violation::Agreement(_) | Violation::Certificate(_) | Violation::HonestEquivocation(_) | Violation::RuleG(_))
    }
}

type CertificateKey = (View, Hash, Vec<(u16, [u8; 64])>);

/// All properties of a finished run, first failure reported.
pub fn check(sim: &Sim) -> Result<(), Violation> {
    let honest = sim.honest();
    // Certificates already verified (view, hash, signatures): nodes share most.
    let mut cache: HashSet<CertificateKey> = HashSet::new();

    // 2. Every finalized block is covered by a valid finalization, and
    //    batches link by parent hash.
    for &i in &honest {
        let mut tip = sim.genesis.clone();
        for (k, b) in sim.nodes[i].disk.batches.iter().enumerate() {
            let Some(last) = b.blocks.last() else {
                return Err(Violation::Certificate(format!("n{i} batch {k} is empty")));
            };
            for block in &b.blocks {
                if block.parent != tip.hash() || block.height != tip.height + 1 {
                    return Err(Violation::Certificate(format!(
                        "n{i} batch {k} ({:?} at {}ms): block h{} {} does not extend h{} {}",
                        b.source,
                        b.at,
                        block.height,
                        short(&block.hash()),
                        tip.height,
                        short(&tip.hash())
                    )));
                }
                tip = block.clone();
            }
            let epochs = &sim.nodes[i].disk.epochs;
            let cert = match &b.finality {
                Finality::Certificate(c) => c,
                Finality::EndOfEpoch(e) => match epochs.certificate(*e) {
                    Some(c) if c.change.last_hash == last.hash() && c.change.last_height == last.height => continue,
                    _ => {
                        return Err(Violation::Certificate(format!(
                            "n{i} batch {k} ({:?}) ends epoch {} at h{} {} without the certificate of epoch {e} naming it",
                            b.source,
                            e - 1,
                            last.height,
                            short(&last.hash())
                        )));
                    }
                },
            };
            let set = epochs.at_height(last.height);
            if cert.hash != last.hash() {
                return Err(Violation::Certificate(format!(
                    "n{i} batch {k} ({:?}): finalization certifies {} not the batch's last block h{} {}",
                    b.source,
                    short(&cert.hash),
                    last.height,
                    short(&last.hash())
                )));
            }
            let key = (cert.view, cert.hash, cert.signatures.iter().map(|s| (s.signer, s.signature)).collect::<Vec<_>>());
            if cert.kind != VoteKind::Finalize || !cache.contains(&key) {
                if let Err(e) = cert.verify(VoteKind::Finalize, &namespace(CHAIN, set.number), &set.keys, set.quorum) {
                    return Err(Violation::Certificate(format!("n{i} batch {k} ({:?}) to h{} (epoch {}): {e}", b.source, last.height, set.number)));
                }
                cache.insert(key);
            }
        }
    }

    // 1. Agreement: honest finalized chains are prefix-consistent.
    for (a_pos, &a) in honest.iter().enumerate() {
        for &b in &honest[a_pos + 1..] {
            let (ca, cb) = (&sim.nodes[a].disk.chain, &sim.nodes[b].disk.chain);
            for (x, y) in ca.iter().zip(cb) {
                if x != y {
                    return Err(Violation::Agreement(format!(
                        "height {}: n{a} finalized {} (view {}), n{b} finalized {} (view {})",
                        x.height,
                        short(&x.hash()),
                        x.view,
                        short(&y.hash()),
                        y.view
                    )));
                }
            }
        }
    }

    // Epochs: every honest node holds the same change for each epoch (two
    // would let two sets finalize conflicting blocks).
    for (a_pos, &a) in honest.iter().enumerate() {
        for &b in &honest[a_pos + 1..] {
            let (ea, eb) = (sim.nodes[a].disk.epochs.certificates(), sim.nodes[b].disk.epochs.certificates());
            for (x, y) in ea.iter().zip(eb) {
                if x.change != y.change {
                    return Err(Violation::Agreement(format!(
                        "epoch {}: n{a} holds the change after h{} {}, n{b} the change after h{} {}",
                        x.change.epoch,
                        x.change.last_height,
                        short(&x.change.last_hash),
                        y.change.last_height,
                        short(&y.change.last_hash)
                    )));
                }
            }
        }
    }

    // Rule G: what the old set finalized above the last block of its epoch
    // and nobody applies held nothing.
    if let Some((i, b)) = sim.dropped.iter().find(|(i, b)| honest.contains(i) && b.tx_count > 0) {
        return Err(Violation::RuleG(format!(
            "n{i} dropped h{} {} with {} transactions above the end of an epoch",
            b.height,
            short(&b.hash()),
            b.tx_count
        )));
    }

    // Honest validators never sign conflicting votes.
    for r in &sim.evidence {
        if honest.contains(&r.offender) {
            return Err(Violation::HonestEquivocation(format!(
                "n{} at {}ms holds evidence ({}) against honest n{} (index {})",
                r.reporter,
                r.at,
                evidence_kind(&r.evidence),
                r.offender,
                r.evidence.offender()
            )));
        }
    }

    // 4. Evidence against the Byzantine validator, of the kind its offence
    // makes; or none at all where it commits none.
    let kind_ok = |e: &Evidence| sim.sc.expect.evidence_kind.is_none_or(|k| evidence_kind(e) == k);
    if sim.sc.expect.evidence_against_byzantine
        && let Some(byz) = sim.sc.byzantine
        && !sim.evidence.iter().any(|r| honest.contains(&r.reporter) && r.offender == byz && kind_ok(&r.evidence))
    {
        let kind = sim.sc.expect.evidence_kind.unwrap_or("any");
        return Err(Violation::MissingEvidence(format!("no honest node produced evidence ({kind}) against n{byz}")));
    }
    if sim.sc.expect.no_evidence
        && let Some(r) = sim.evidence.iter().find(|r| honest.contains(&r.reporter))
    {
        return Err(Violation::UnexpectedEvidence(format!(
            "n{} at {}ms holds evidence ({}) though no offence was made",
            r.reporter,
            r.at,
            evidence_kind(&r.evidence)
        )));
    }

    // No finalization while too few validators run.
    if let Some((from, until)) = sim.sc.expect.no_progress {
        let max_at = |t| (0..N).map(|i| sim.height_at(i, t)).max().unwrap_or(0);
        let (h0, h1) = (max_at(from), max_at(until));
        if h1 != h0 {
            return Err(Violation::Progress(format!("highest finalized height went from {h0} at {from}ms to {h1} at {until}ms")));
        }
    }

    // Rule I: every accepted item becomes final everywhere; in the idle
    // windows no block becomes final and no honest validator votes.
    if let Some(w) = &sim.sc.workload {
        for &i in &honest {
            if let Some(item) = sim.accepted.iter().find(|x| !sim.nodes[i].disk.committed.contains(x)) {
                return Err(Violation::Liveness(format!("n{i}: item {item} accepted but never final there (run ended at {}ms)", sim.now)));
            }
        }
        let max_at = |t| honest.iter().map(|&i| sim.height_at(i, t)).max().unwrap_or(0);
        for &(from, until) in &w.idle_windows {
            let (h0, h1) = (max_at(from), max_at(until));
            if h1 != h0 {
                return Err(Violation::Progress(format!("idle window [{from}, {until}]ms: {} blocks finalized (h{h0} -> h{h1})", h1 - h0)));
            }
            let votes = sim.votes_sent.iter().filter(|(t, _)| *t >= from && *t <= until).count();
            if votes > 0 {
                return Err(Violation::Progress(format!("idle window [{from}, {until}]ms: honest validators sent {votes} votes")));
            }
        }
    }

    // 3. Liveness after the last disruption: every change took effect, and
    // every honest node runs the last epoch.
    let last_epoch = sim.sc.reconfigs.len() as u64;
    if sim.sc.expect.liveness.is_some()
        && let Some(&i) = honest.iter().find(|&&i| sim.nodes[i].epoch() != last_epoch)
    {
        return Err(Violation::Liveness(format!("n{i} ended in epoch {}, not in epoch {last_epoch}", sim.nodes[i].epoch())));
    }
    if let Some(l) = &sim.sc.expect.liveness {
        let (from, until) = (sim.stable_from, sim.stable_from + l.window);
        if sim.now < until && !sim.ended_early {
            return Err(Violation::Liveness(format!("the run ended at {}ms, before the liveness window [{from}, {until}]ms", sim.now)));
        }
        for &i in &honest {
            let (h0, h1) = (sim.height_at(i, from), sim.height_at(i, until));
            if h1 < h0 + l.blocks {
                return Err(Violation::Liveness(format!(
                    "n{i} finalized only {} blocks (h{h0} -> h{h1}) in [{from}, {until}]ms, needed {}",
                    h1 - h0,
                    l.blocks
                )));
            }
        }
    }
    Ok(())
}

// ===== running seeds ===============================================================

pub struct Outcome {
    pub result: Result<(), Violation>,
    pub digest: u64,
    pub events: u64,
    pub heights: Vec<u64>,
    /// Virtual time at the end of the run, ms.
    pub end: u64,
}

pub fn run_scenario(sc: Scenario) -> Outcome {
    let mut sim = Sim::new(sc);
    sim.run();
    Outcome { result: check(&sim), digest: sim.digest, events: sim.events, heights: sim.nodes.iter().map(|n| n.height()).collect(), end: sim.now }
}

/// How to replay a scenario, for failure messages.
pub fn replay_hint(sc: &Scenario) -> String {
    format!("SIM_SCENARIO={} SIM_SEED={} cargo test -p coldchain-node --test simulation -- replay --nocapture", sc.name, sc.seed)
}

/// Re-runs the scenario with tracing on and renders the failure report.
pub fn failure_report(sc: &Scenario, violation: &Violation, trace_lines: usize) -> String {
    let mut sim = Sim::new(sc.clone()).with_trace(trace_lines);
    sim.run();
    let mut s = format!("scenario {} seed {}: {violation:?}\n{sc:?}\n{}\nlast {trace_lines} events:\n", sc.name, sc.seed, sim.summary());
    for l in sim.trace_lines() {
        s.push_str(&l);
        s.push('\n');
    }
    let _ = write!(s, "replay: {}", replay_hint(sc));
    s
}

pub struct Totals {
    pub seeds: u64,
    pub events: u64,
    pub virtual_ms: u64,
    pub blocks: u64,
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.seeds.max(1);
        write!(
            f,
            "{} seeds, {} events ({} per seed), {:.1} virtual s per seed, {} blocks finalized per seed",
            self.seeds,
            self.events,
            self.events / n,
            self.virtual_ms as f64 / n as f64 / 1000.0,
            self.blocks / n
        )
    }
}

/// Runs `seeds` through `make` on all cores; panics with a report on the first
/// failing seed (lowest seed first).
pub fn run_many(seeds: std::ops::Range<u64>, make: fn(u64) -> Scenario) -> Totals {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(8);
    let next = std::sync::atomic::AtomicU64::new(seeds.start);
    let failures = std::sync::Mutex::new(Vec::<(u64, Violation)>::new());
    let events = std::sync::atomic::AtomicU64::new(0);
    let virtual_ms = std::sync::atomic::AtomicU64::new(0);
    let blocks = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if seed >= seeds.end {
                        break;
                    }
                    let out = run_scenario(make(seed));
                    events.fetch_add(out.events, std::sync::atomic::Ordering::Relaxed);
                    virtual_ms.fetch_add(out.end, std::sync::atomic::Ordering::Relaxed);
                    blocks.fetch_add(out.heights.iter().copied().max().unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
                    if let Err(v) = out.result {
                        failures.lock().unwrap().push((seed, v));
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort_by_key(|(s, _)| *s);
    if let Some((seed, v)) = failures.first() {
        let mut list = String::new();
        for (s, v) in failures.iter().take(30) {
            let _ = writeln!(list, "  seed {s}: {v:?}");
        }
        panic!("{} of {} seeds failed:\n{list}\nfirst failure:\n{}", failures.len(), seeds.end - seeds.start, failure_report(&make(*seed), v, 80));
    }
    Totals { seeds: seeds.end - seeds.start, events: events.into_inner(), virtual_ms: virtual_ms.into_inner(), blocks: blocks.into_inner() }
}
