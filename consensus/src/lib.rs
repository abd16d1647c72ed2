//! Simplex consensus (Chan & Pass, 2023) as a pure state machine.
//!
//! The core never touches a socket, a disk, a clock or a random number
//! generator: [`Core::handle`] takes an [`Event`] and returns the [`Action`]s
//! the driver must carry out, in order. A seeded simulator can therefore
//! replay any run exactly (see `node/tests/simulation.rs`). This crate has no
//! dependency that does I/O or runs tasks: no tokio, no libp2p, no sled.
//!
//! # The protocol
//!
//! n validators from genesis, quorum q = n − ⌊(n−1)/3⌋ (3 of 4), tolerating
//! f = ⌊(n−1)/3⌋ Byzantine validators. Views v = 1, 2, …; the leader of view v
//! is validator `v mod n`. Every vote is an ed25519 signature over
//! `domain(kind) ‖ chain id ‖ view ‖ block hash` (see [`vote`]); q
//! votes of one kind for one (view, hash) from distinct validators form a
//! certificate: a *notarization*, *nullification* or *finalization*.
//!
//! - **Rule V (views).** A validator enters view v+1 as soon as it holds a
//!   notarization or nullification (or finalization) of view v or any later
//!   view; on entering, it starts the *leader* and *advance* timers if the
//!   view is busy (Rule I).
//! - **Rule I (idle).** The driver tells the core whether it holds
//!   transactions not yet final ([`Event::Work`]). The current view is
//!   *busy* when it does, or when a proposal or a vote of any kind (its own
//!   included) for the view has been received. A validator starts the view's
//!   timers only once the view is busy, and a leader proposes only while it
//!   has work; a timer that fires in a view that has become idle again
//!   stops (new work starts it anew). So with every mempool empty nobody
//!   proposes, votes or runs a timer: no blocks, no traffic.
//! - **Rule J (justified parent).** The leader of v proposes a block whose
//!   parent is the block of the highest view w < v that has a notarization
//!   (or is the last finalized block), and every view strictly between w and
//!   v has a nullification. The proposal carries those certificates.
//! - **Rule L (leader).** The leader of its current view proposes as soon as
//!   the parent is justified and its header is known, re-checked after every
//!   event: the notarization that ends view v−1 can arrive before v−1's
//!   proposal does.
//! - **Rule N (notarize).** In its current view, a validator notarizes the
//!   first proposal of the view's leader whose parent is justified, whose
//!   height is the parent's plus one, and whose body the driver verified
//!   (transactions' signatures, Merkle root, time). At most one block per
//!   view; never after nullifying the view.
//! - **Rule T (timeout).** If the leader timer fires with no valid proposal,
//!   or the advance timer fires with the view not ended, the validator
//!   nullifies the view. While the view does not end it rebroadcasts its
//!   nullify vote and the certificates it holds, every retry interval. A
//!   nullify vote for a view this validator has left is answered with the
//!   certificate that ended it (idle validators rebroadcast nothing).
//! - **Rule F (finalize).** On a notarization of its current view v, a
//!   validator that did not nullify v sends finalize(v, hash), then enters
//!   v+1. It never nullifies a view after finalizing in it (Rule X).
//! - **Rule C (commit).** A finalization of (v, b) makes b and all its
//!   ancestors final. They are committed in height order, each with the
//!   certificate of b.
//! - **Rule P (persist first).** Before any vote or proposal leaves the node,
//!   what it signed is written to its safety file and fsynced
//!   (the safety rules hand out each signed message only inside a
//!   [`Action::PersistThenBroadcast`] with the state that records it). After a
//!   restart the validator resumes from that file and cannot sign a vote
//!   that conflicts with one it signed before.
//! - **Evidence.** Two notarizes or two finalizes for different blocks in one
//!   view, or a nullify and a finalize in one view, from one validator, are
//!   kept as [`Evidence`].
//!
//! Rule I changes only *when* timers start and *whether* a leader proposes,
//! never what may be signed, so it cannot break safety. Liveness: a
//! transaction accepted by an honest validator keeps that validator busy
//! until it is final. After GST either its relay reached every honest
//! validator, and the first honest leader proposes it; or some honest
//! validators are idle, and the busy one's nullify vote makes the view busy
//! for each of them, so all time out, the view is nullified, and views move
//! on until the accepting validator (or one the relay reached) leads. An
//! idle leader's view ends the same way. A Byzantine validator can make
//! views busy (and so time out) with votes, but it cannot finalize a block
//! without q − f honest votes, so an idle chain still gains no blocks unless
//! it leads a view, at most one block per view it leads.
//!
//! Why it is safe: finalization and nullification of the same view cannot
//! both gather q votes (q + q − n > f, and no honest validator signs both),
//! so once (v, b) is finalized every later proposal's justification must
//! pass through view v's notarization, which can only be b's (two blocks
//! notarized in one view would need an honest validator to notarize twice).

//!
//! # Deviations from the paper
//!
//! Simplex as published (Chan & Pass, "Simplex Consensus: A Simple and Fast
//! Consensus Protocol", TCC 2023) and as built here differ in these places;
//! none changes what may be signed, so the safety argument above stands.
//!
//! - **Leader `v mod n`**, not a random leader per iteration. Leaders are
//!   predictable: a Byzantine validator leads every n-th view, and f of them
//!   can cost at most f consecutive views (each ended by timeouts) before an
//!   honest leader. The paper's expected-constant latency under a random
//!   leader becomes a worst case of f + 1 views.
//! - **Views are not heights.** The paper's iteration h proposes block h and
//!   a timed-out iteration leaves a dummy block ⊥ in the chain. Here a view
//!   that times out leaves nothing: it is *nullified* (a certificate of
//!   nullify votes over the zero hash stands for the paper's vote for ⊥), and
//!   the next proposal carries the nullifications of the views it skips and
//!   the certificate of its parent (Rule J). Heights count blocks only.
//! - **Two timers per view**, not one 3Δ timer: the *leader* timer ends a
//!   view whose leader proposes nothing, the *advance* timer a view that
//!   does not end though a proposal came (e.g. a body nobody can verify);
//!   a *retry* timer rebroadcasts while the view stays open (Rule T), where
//!   the paper relies on every message being forwarded.
//! - **Finalize votes carry the block hash.** The paper's finalize message
//!   names only the iteration. With the hash, a finalization certificate
//!   alone names its block: a node that missed the notarization can commit
//!   from it (and sync proves a block by it), and two finalize votes of one
//!   validator in one view for different blocks are evidence.
//! - **The proposal is the leader's notarize vote**: its signature is over the
//!   same bytes, so a leader that signs two proposals in a view has signed
//!   two notarizes (evidence), which also catches a two-faced leader.
//! - **Idle views (Rule I).** The paper's iterations run for ever; here a
//!   view whose validators hold no work arms no timer and proposes nothing,
//!   so an idle consortium makes no blocks.
//! - **Persist before send (Rule P)** and **a window of 64 views** for
//!   votes and proposals ahead of the current one: implementation limits the
//!   paper leaves open (crash recovery, memory against a flooding peer).
//!
//! # Layout
//!
//! [`Core`] (`core.rs`) applies the rules; it owns a `VoteKeeper`
//! (`vote_keeper.rs`: votes and certificates per view, evidence), a
//! `BlockTree` (`block_tree.rs`: headers above the last finalized block,
//! parked proposals, fetches) and the [`safety::SafetyRules`] (`safety.rs`:
//! the signing key and what it signed). [`block`] defines headers and the
//! transactions' Merkle root, [`vote`] the signed bytes of a vote. The
//! driver that runs a core over the network and the disk is in
//! `coldchain-node` (`runtime/driver.rs`).

// No panic reachable from a peer's message (docs/SECURITY.md).
#![cfg_attr(not(test), deny(clippy::expect_used, clippy::unwrap_used))]

pub mod block;
mod block_tree;
mod core;
pub mod epoch;
pub mod epoch_votes;
pub mod safety;
mod types;
pub mod vote;
mod vote_keeper;

/// A validator's place in the genesis list (votes name their signer by it).
pub type ValidatorIndex = u16;

pub use self::core::{Core, CoreConfig, Timeouts};
pub use block_tree::may_extend;
pub use safety::SafetyState;
pub use types::*;
