//! Deterministic simulation tests of the Simplex consensus core: four
//! validators (quorum 3) driven by a seeded simulator (`sim/mod.rs`) with
//! virtual time, a lossy partitioning network, crashes and restarts, range
//! sync and an equivocating validator. After every run a checker verifies
//! agreement, that every finalized block is covered by a valid finalization,
//! that no honest validator is named in evidence, that the Byzantine one is,
//! and liveness once faults are over.
//!
//! # Replaying a seed
//!
//! A failing test prints the scenario, the seed, the last events and a
//! command line. Every run is a pure function of (scenario, seed), so
//!
//! ```text
//! SIM_SCENARIO=random_faults SIM_SEED=123 cargo test -p coldchain-node --test simulation -- replay --nocapture
//! ```
//!
//! replays exactly that run and prints its trace (`SIM_TRACE=<lines>` sets
//! how many of the last events are printed, default 400). Scenarios:
//! `random_faults`, `equivocator`, `total_crash`, `two_down`,
//! `crash_all_after_commit`, and `crash_all_after_commit+amnesia` (the
//! planted bug).
//!
//! # Sizing
//!
//! `SIM_SEEDS` sets the number of seeds of `many_seeds_random_faults`
//! (default 1000); `SIM_BYZ_SEEDS` those of `equivocator_seeds` (default
//! 100). Seeds run on all cores.

mod sim;

use sim::*;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Random loss, delay, duplication, reordering, a partition that heals and a
/// crash+restart of one validator, per seed; all properties checked.
#[test]
fn many_seeds_random_faults() {
    let seeds = env_u64("SIM_SEEDS", 1000);
    let started = std::time::Instant::now();
    let totals = run_many(0..seeds, scenario_random_faults);
    eprintln!("random_faults: {totals}, {:?}", started.elapsed());
}

/// One equivocating validator on a lossy network: agreement, certificates,
/// liveness, and evidence naming it.
#[test]
fn equivocator_seeds() {
    let seeds = env_u64("SIM_BYZ_SEEDS", 100);
    let started = std::time::Instant::now();
    let totals = run_many(1_000_000..1_000_000 + seeds, scenario_equivocator);
    eprintln!("equivocator: {totals}, {:?}", started.elapsed());
}

/// All four validators crash at once and restart from their safety files and
/// block stores; finalization resumes.
#[test]
fn total_crash_restart() {
    let totals = run_many(2_000_000..2_000_040, scenario_total_crash);
    eprintln!("total_crash: {totals}");
}

/// Two validators down: nothing is finalized and nothing forks; once they
/// restart, finalization resumes.
#[test]
fn two_down_no_progress_then_resume() {
    let totals = run_many(3_000_000..3_000_040, scenario_two_down);
    eprintln!("two_down: {totals}");
    // The interval checked really is one where the chain was moving before.
    let sc = scenario_two_down(3_000_000);
    let (from, _) = sc.expect.no_progress.unwrap();
    let mut sim = Sim::new(sc);
    sim.run();
    assert!((0..N).map(|i| sim.height_at(i, from)).max().unwrap() > 0, "blocks were finalized before the crash");
}

/// The same seed twice gives the same run, event for event.
#[test]
fn replay_is_exact() {
    for sc in [scenario_random_faults(7), scenario_equivocator(8), scenario_total_crash(9)] {
        let a = run_scenario(sc.clone());
        let b = run_scenario(sc.clone());
        assert!(a.events > 500, "{}: a real run ({} events)", sc.name, a.events);
        assert_eq!((a.digest, a.events, &a.heights), (b.digest, b.events, &b.heights), "{} seed {} diverged", sc.name, sc.seed);
    }
    // And a different seed gives a different run.
    assert_ne!(run_scenario(scenario_random_faults(7)).digest, run_scenario(scenario_random_faults(10)).digest);
}

/// The checker is not vacuous: planted bugs are reported.
#[test]
fn checker_catches_planted_bug() {
    // 1. Amnesia: every restart ignores the persisted safety state. All four
    //    crash right after one of them committed a block the others had not
    //    yet seen final; after restart they no longer remember their finalize
    //    votes, nullify that view and finalize a conflicting block.
    let mut caught = None;
    for seed in 0..40 {
        let sc = Scenario { plant: Some(Plant::Amnesia), ..scenario_crash_all_after_commit(seed) };
        if let Err(v) = run_scenario(sc).result
            && v.is_safety()
        {
            caught = Some((seed, v));
            break;
        }
    }
    let (seed, violation) = caught.expect("amnesia must produce a safety violation for one of seeds 0..40");
    eprintln!("amnesia caught at seed {seed}: {violation:?}");
    // The same run without the plant passes.
    let clean = scenario_crash_all_after_commit(seed);
    if let Err(v) = run_scenario(clean.clone()).result {
        panic!("{}", failure_report(&clean, &v, 80));
    }

    // 2. A driver that appends a block nobody finalized.
    let forged = Scenario { plant: Some(Plant::ForgeCommit { node: 2, at: 2_000 }), ..scenario_random_faults(3) };
    match run_scenario(forged).result {
        Err(Violation::Certificate(_)) | Err(Violation::Agreement(_)) => {}
        other => panic!("forged commit not reported: {other:?}"),
    }
    let clean = scenario_random_faults(3);
    if let Err(v) = run_scenario(clean.clone()).result {
        panic!("{}", failure_report(&clean, &v, 80));
    }
}

/// `SIM_SCENARIO=<name> SIM_SEED=<n>`: replays one run and prints its trace.
/// Without `SIM_SEED` it does nothing.
#[test]
fn replay() {
    let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|v| v.parse().ok()) else { return };
    let name = std::env::var("SIM_SCENARIO").unwrap_or_else(|_| "random_faults".into());
    let sc = scenario_by_name(&name, seed).unwrap_or_else(|| panic!("unknown scenario {name}"));
    let lines = env_u64("SIM_TRACE", 400) as usize;
    let mut sim = Sim::new(sc.clone()).with_trace(lines);
    sim.run();
    for l in sim.trace_lines() {
        println!("{l}");
    }
    println!("{sc:?}\n{}\ndigest {:016x}", sim.summary(), sim.digest);
    match check(&sim) {
        Ok(()) => println!("all properties hold"),
        Err(v) => panic!("{v:?}"),
    }
}

/// Core bug 2 (see the report): `Core::fetching` is a std `HashSet` and
/// `on_timeout` emits one `Fetch` per entry in its (per-instance random)
/// iteration order, so the same seed can give different runs unless the
/// driver sorts the fetches. Passes once `fetching` is a `BTreeSet`.
#[test]
#[ignore = "core bug 2: Fetch order depends on HashSet iteration order"]
fn replay_is_exact_without_sorting_fetches() {
    for seed in 0..40 {
        let mut sc = scenario_random_faults(seed);
        sc.net.drop = 0.35;
        sc.sync_every = None;
        let run = || {
            let mut sim = Sim::new(sc.clone());
            sim.sort_fetches = false;
            sim.run();
            (sim.digest, sim.events)
        };
        assert_eq!(run(), run(), "seed {seed} diverged");
    }
    eprintln!("fetch runs {}", FETCH_RUNS.load(std::sync::atomic::Ordering::Relaxed));
}
