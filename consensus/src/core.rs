//! The Simplex state machine. See the module documentation of
//! [`crate::consensus`] for the rules; each is named where it is enforced.

use super::block_tree::{BlockTree, ChainGap, may_extend};
use super::safety::{Guarded, SafetyRules, SafetyState};
use super::types::*;
use super::vote_keeper::VoteKeeper;
use crate::ValidatorIndex;
use crate::block::Header;
use crate::vote::{VoteKind, verify_vote};
use coldchain_chaincode::Hash;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Timeouts {
    pub leader_ms: u64,
    pub advance_ms: u64,
    pub retry_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { leader_ms: 2_000, advance_ms: 4_000, retry_ms: 1_000 }
    }
}

#[derive(Clone)]
pub struct CoreConfig {
    pub chain_id: String,
    /// The epoch this core runs (issue 19): 0 from genesis, one more each
    /// time governance changed the validator set. Votes are signed under
    /// [`crate::vote::namespace`]`(chain_id, epoch)`.
    pub epoch: u64,
    /// The block this epoch starts after (`None` in epoch 0): its
    /// finalization is of the epoch before, so a proposal on it carries no
    /// parent certificate (the epoch certificate justifies it).
    pub epoch_base: Option<Hash>,
    pub validators: Vec<VerifyingKey>,
    pub quorum: usize,
    /// This validator's index and key; `None` for a node that only follows.
    pub signer: Option<(ValidatorIndex, SigningKey)>,
    pub timeouts: Timeouts,
}

/// Votes further ahead than this are ignored (bounded memory against spam);
/// certificates are accepted from any view.
const FUTURE_VOTE_WINDOW: View = 64;

pub struct Core {
    cfg: CoreConfig,
    /// What this epoch's votes are signed under.
    namespace: String,
    view: View,
    /// The signing key and what it signed: every vote goes through these.
    rules: SafetyRules,
    /// Votes and certificates by view.
    votes: VoteKeeper,
    /// Headers above the last finalized block, parked proposals, fetches.
    tree: BlockTree,
    /// A finalization waiting for missing ancestors.
    pending_commit: Option<Certificate>,
    building: Option<View>,
    /// The driver holds transactions not yet final (Rule I).
    work: bool,
    /// The view whose leader and advance timers are running (Rule I).
    armed: Option<View>,
    /// Messages from peers dropped, by reason (`/metrics`).
    refused: BTreeMap<&'static str, u64>,
    actions: Vec<Action>,
}

impl Core {
    /// A core resuming from `safety` (empty on first start), the last
    /// finalized header with its certificate (`None` for genesis), and the
    /// headers of notarized blocks whose bodies the driver kept.
    pub fn new(mut cfg: CoreConfig, safety: SafetyState, last_finalized: Header, last_finalization: Option<Certificate>, known: Vec<Header>) -> Core {
        // The key goes to the safety rules alone.
        let namespace = crate::vote::namespace(&cfg.chain_id, cfg.epoch);
        let rules = SafetyRules::new(safety, cfg.signer.take(), namespace.clone());
        let mut core = Core {
            namespace,
            votes: VoteKeeper::new(cfg.quorum),
            cfg,
            view: 0,
            rules,
            tree: BlockTree::new(last_finalized, last_finalization, known),
            pending_commit: None,
            building: None,
            work: false,
            armed: None,
            refused: BTreeMap::new(),
            actions: Vec::new(),
        };
        for cert in core.rules.state().certificates.clone() {
            core.votes.round(cert.view).insert_certificate(cert);
        }
        core
    }

    /// Enters the first view: one past everything this validator has voted in
    /// or seen certified.
    pub fn start(&mut self) -> Vec<Action> {
        let highest_cert = self.votes.after_highest_certified();
        let view = [self.rules.state().view, self.tree.last_finalized().view + 1, highest_cert.unwrap_or(0)].into_iter().max().unwrap_or(1).max(1);
        self.enter_view(view);
        std::mem::take(&mut self.actions)
    }

    pub fn view(&self) -> View {
        self.view
    }

    /// The epoch this core runs.
    pub fn epoch(&self) -> u64 {
        self.cfg.epoch
    }

    /// How many validators this epoch has, and its quorum.
    pub fn validators(&self) -> usize {
        self.cfg.validators.len()
    }

    pub fn quorum(&self) -> usize {
        self.cfg.quorum
    }

    pub fn last_finalized(&self) -> &Header {
        self.tree.last_finalized()
    }

    pub fn leader(&self, view: View) -> ValidatorIndex {
        (view % self.cfg.validators.len() as u64) as ValidatorIndex
    }

    fn me(&self) -> Option<ValidatorIndex> {
        self.rules.me()
    }

    pub fn handle(&mut self, event: Event) -> Vec<Action> {
        match event {
            Event::Message(ConsensusMessage::Proposal(p)) => self.on_proposal(p),
            Event::Message(ConsensusMessage::Vote(v)) => self.on_vote(v),
            Event::Message(ConsensusMessage::Certificate(c)) => self.on_certificate(c),
            Event::Timeout { view, kind } => self.on_timeout(view, kind),
            Event::Built { header } => self.on_built(header),
            Event::Verified { hash, valid } => self.on_verified(hash, valid),
            Event::BlockAvailable { header } => self.on_block_available(header),
            Event::Synced { header, finalization } => self.on_synced(header, finalization),
            Event::Work { pending } => self.work = pending,
        }
        // Rule I: the view's timers run once there is a reason to end it.
        self.arm_if_busy();
        // Rule L: the leader proposes as soon as its parent is justified and
        // known, whichever event made it so (the parent's header may arrive
        // after the certificate that moved us into this view).
        self.try_propose();
        std::mem::take(&mut self.actions)
    }

    /// Rule I: nothing to finalize and nobody active in the current view.
    pub fn idle(&self) -> bool {
        !self.busy()
    }

    /// Rule I: a view is busy when this validator has transactions to
    /// finalize, or any validator has shown it is active in the view (a
    /// proposal or a vote of any kind, its own included).
    fn busy(&self) -> bool {
        self.work || self.votes.get(self.view).is_some_and(|r| r.active())
    }

    /// Rule I: start the current view's leader and advance timers, once.
    fn arm_if_busy(&mut self) {
        if self.armed == Some(self.view) || !self.busy() {
            return;
        }
        let view = self.view;
        self.armed = Some(view);
        let t = &self.cfg.timeouts;
        self.actions.push(Action::ScheduleTimeout { view, kind: TimeoutKind::Leader, after_ms: t.leader_ms });
        self.actions.push(Action::ScheduleTimeout { view, kind: TimeoutKind::Advance, after_ms: t.advance_ms });
    }

    /// Rule P (persist first): a message the safety rules signed leaves with
    /// the state that records it, to be written first. Pushed as soon as it
    /// is made, so the states reach disk in the order they were made.
    fn send_guarded(&mut self, guarded: Guarded<ConsensusMessage>) {
        self.actions.push(Action::PersistThenBroadcast(guarded));
    }

    /// Sends a vote the safety rules signed and counts it as received.
    fn cast(&mut self, guarded: Guarded<Vote>) {
        let vote = guarded.message().clone();
        self.send_guarded(guarded.map(ConsensusMessage::Vote));
        self.add_vote(vote);
    }

    fn live_certificates(&self) -> Vec<Certificate> {
        self.votes.live_certificates(self.tree.last_finalized().view)
    }

    // ----- views and timers -------------------------------------------------

    /// Rule V: enter view v on a certificate for v−1 (or later); start the
    /// leader and advance timers if the view is busy (Rule I); the leader
    /// proposes.
    fn enter_view(&mut self, view: View) {
        if view <= self.view {
            return;
        }
        self.view = view;
        self.building = None;
        self.arm_if_busy();
        // Forget rounds that can no longer matter.
        let keep_from = self.tree.last_finalized().view.min(view.saturating_sub(1));
        self.votes.prune_below(keep_from);
        self.try_propose();
        // A proposal or votes for this view may have arrived early.
        if let Some(p) = self.votes.get(view).and_then(|r| r.proposal.clone())
            && self.votes.get(view).is_some_and(|r| r.verifying.is_none())
        {
            self.votes.round(view).proposal = None;
            self.on_proposal(p);
        }
    }

    /// Rule T: on the leader timeout (no proposal) or the advance timeout (no
    /// certificate), nullify the view; while stuck, rebroadcast.
    fn on_timeout(&mut self, view: View, kind: TimeoutKind) {
        if view != self.view {
            return;
        }
        // Rule I: a timer of a view that became idle again (the work it was
        // armed for is final, nobody voted) stops; new work re-arms it.
        if !self.busy() {
            self.armed = None;
            return;
        }
        let has_proposal = self.votes.get(view).is_some_and(|r| r.proposal.is_some());
        if kind == TimeoutKind::Leader && has_proposal {
            return;
        }
        let nullified = self.rules.state().voted(view).nullified;
        let live = self.live_certificates();
        if let Some(guarded) = self.rules.nullify(view, live) {
            self.cast(guarded);
        } else if let Some(vote) = self.rules.renullify(view) {
            self.actions.push(Action::Broadcast(ConsensusMessage::Vote(vote)));
        }
        if kind == TimeoutKind::Retry || !nullified {
            // Help laggards: the certificates that brought us here.
            for cert in self.live_certificates().into_iter().rev().take(8) {
                self.actions.push(Action::Broadcast(ConsensusMessage::Certificate(cert)));
            }
            if let Some(f) = self.tree.last_finalization().cloned() {
                self.actions.push(Action::Broadcast(ConsensusMessage::Certificate(f)));
            }
            let wanted: Vec<Hash> = self.tree.wanted().copied().collect();
            self.actions.extend(wanted.into_iter().map(|hash| Action::Fetch { hash }));
            self.try_propose();
        }
        if kind != TimeoutKind::Leader {
            self.actions.push(Action::ScheduleTimeout { view, kind: TimeoutKind::Retry, after_ms: self.cfg.timeouts.retry_ms });
        }
    }

    // ----- proposing ----------------------------------------------------------

    /// The parent for a proposal in `view`: the block of the highest view
    /// below with a notarization, every view in between nullified (Rule J).
    fn justified_parent(&self, view: View) -> Result<(Header, Option<Certificate>, Vec<Certificate>), Option<Hash>> {
        let mut nullifications = Vec::new();
        let mut w = view - 1;
        loop {
            if w <= self.tree.last_finalized().view {
                // The epoch's base carries no certificate of this epoch's
                // namespace: a proposal on it carries none (Rule J, epochs).
                let base = Some(self.tree.last_finalized().hash()) == self.cfg.epoch_base;
                let cert = if base { None } else { self.tree.last_finalization().cloned() };
                return Ok((self.tree.last_finalized().clone(), cert, nullifications.into_iter().rev().collect()));
            }
            let round = self.votes.get(w);
            if let Some(n) = round.and_then(|r| r.certified_block().cloned()) {
                return match self.tree.get(&n.hash) {
                    Some(h) => Ok((h.clone(), Some(n), nullifications.into_iter().rev().collect())),
                    None => Err(Some(n.hash)),
                };
            }
            match round.and_then(|r| r.certificate(VoteKind::Nullify).cloned()) {
                Some(null) => nullifications.push(null),
                None => return Err(None),
            }
            w -= 1;
        }
    }

    fn try_propose(&mut self) {
        let view = self.view;
        // Only the current view's leader proposes, checked here for every
        // caller: the view a caller handles may have ended within the same
        // event (a leader's own nullify completing the certificate that
        // moves it on).
        if self.me() != Some(self.leader(view)) {
            return;
        }
        // Rule I: a leader with nothing to finalize does not propose.
        if !self.work {
            return;
        }
        if self.building == Some(view) || self.votes.get(view).is_some_and(|r| r.proposal.is_some()) {
            return;
        }
        match self.justified_parent(view) {
            Ok((parent, _, _)) => {
                self.building = Some(view);
                self.actions.push(Action::Build { view, parent });
            }
            Err(Some(missing)) => self.fetch(missing),
            Err(None) => {} // a certificate is missing; the retry gossip brings it
        }
    }

    fn on_built(&mut self, header: Header) {
        let view = header.view;
        if view != self.view || self.building != Some(view) || self.me() != Some(self.leader(view)) {
            return;
        }
        let Ok((parent, parent_certificate, nullifications)) = self.justified_parent(view) else { return };
        if header.parent != parent.hash() || header.height != parent.height + 1 {
            return;
        }
        let hash = header.hash();
        // Only a validator builds; an observer (no key) has nothing to sign.
        let live = self.live_certificates();
        let Some(guarded) = self.rules.notarize(view, hash, live) else { return };
        let vote = guarded.message().clone();
        self.tree.insert(header.clone());
        let proposal = Proposal { header, signature: vote.signature, parent_certificate, nullifications };
        self.votes.round(view).proposal = Some(proposal.clone());
        self.send_guarded(guarded.map(|_| ConsensusMessage::Proposal(proposal)));
        self.add_vote(vote);
    }

    // ----- receiving a proposal ---------------------------------------------

    /// Rule N: notarize the first valid proposal of the current view's
    /// leader, once its parent is justified and its body verified.
    /// Whether a proposal is one this core would look at: this chain, a view
    /// after the last finalized one and within the window ahead, signed by
    /// that view's leader. The driver asks before it keeps a body a peer
    /// sent with a proposal, so a peer cannot make it hold bodies nobody
    /// signed (issue 17).
    pub fn admits_proposal(&self, p: &Proposal) -> bool {
        self.proposal_refusal(p).is_none()
    }

    /// As [`admits_proposal`](Self::admits_proposal), counting the reason
    /// of a refusal: the driver drops a proposal this refuses, with its
    /// body, before the core sees it, and the count is all that shows.
    pub fn screen_proposal(&mut self, p: &Proposal) -> bool {
        match self.proposal_refusal(p) {
            Some(reason) => {
                self.refuse(reason);
                false
            }
            None => true,
        }
    }

    /// Counts a peer's message the driver dropped before the core saw it
    /// (a body that does not match its proposal, a body that fails its checks).
    pub fn count_refused(&mut self, reason: &'static str) {
        self.refuse(reason);
    }

    /// Why a proposal is not admitted, if it is not.
    fn proposal_refusal(&self, p: &Proposal) -> Option<&'static str> {
        let h = &p.header;
        let view = h.view;
        if h.chain_id != self.cfg.chain_id {
            return Some("proposal_other_chain");
        }
        if view <= self.tree.last_finalized().view {
            return Some("proposal_late");
        }
        if !may_extend(self.tree.last_finalized(), h) {
            return Some("proposal_unreachable_height");
        }
        if h.proposer != self.leader(view) {
            return Some("proposal_not_leader");
        }
        if view > self.view + FUTURE_VOTE_WINDOW {
            return Some("proposal_far_future");
        }
        let leader_key = &self.cfg.validators[h.proposer as usize];
        (!verify_vote(leader_key, VoteKind::Notarize, &self.namespace, view, &h.hash(), &p.signature)).then_some("proposal_bad_signature")
    }

    /// Messages from peers this core dropped, by reason: what a Byzantine
    /// (or broken) peer sends shows here (`coldchain_consensus_refused`).
    pub fn refused(&self) -> &BTreeMap<&'static str, u64> {
        &self.refused
    }

    fn refuse(&mut self, reason: &'static str) {
        *self.refused.entry(reason).or_default() += 1;
    }

    /// Whether the driver keeps the body of this proposal, which
    /// [`admits_proposal`](Self::admits_proposal) admitted (its signature is
    /// not checked again): the first its leader signed for the view that
    /// reached this validator (one body per view, however many a two-faced
    /// leader signs).
    pub fn admits_body(&self, p: &Proposal) -> bool {
        self.votes.get(p.header.view).and_then(|r| r.signed).is_none_or(|first| first == p.header.hash())
    }

    fn on_proposal(&mut self, p: Proposal) {
        if let Some(reason) = self.proposal_refusal(&p) {
            self.refuse(reason);
            return;
        }
        let h = &p.header;
        let view = h.view;
        let hash = h.hash();
        // The leader's signature is its notarize vote, whatever view we are in.
        let leader_vote = Vote { kind: VoteKind::Notarize, view, hash, signer: h.proposer, signature: p.signature };
        self.add_vote(leader_vote.clone());
        match self.votes.round(view).signed {
            // A second proposal of the view: the leader equivocated, and
            // `add_vote` made the pair evidence. Nothing more of it is kept.
            Some(first) if first != hash => return,
            Some(_) => {}
            None => {
                self.votes.round(view).signed = Some(hash);
                // Two-faced leaders: pass the leader's signature on, so a
                // validator that got another proposal of this view holds both
                // signatures (evidence) even if the leader sent each
                // validator only one.
                if self.me().is_some_and(|me| me != h.proposer) {
                    self.actions.push(Action::Broadcast(ConsensusMessage::Vote(leader_vote)));
                }
            }
        }
        // The driver holds the body of every signed proposal it passes on.
        if self.tree.insert(h.clone()) && self.pending_commit.is_some() {
            self.try_commit();
        }
        if view < self.view {
            // The view was left (nullified) before its proposal arrived.
            self.refuse("proposal_late");
            return;
        }
        if self.votes.get(view).is_some_and(|r| r.proposal.is_some()) {
            self.refuse("proposal_repeated");
            return;
        }
        // Rule J: the parent is certified and every view between is nullified.
        let parent_view = match &p.parent_certificate {
            Some(c) => {
                let kind_ok = matches!(c.kind, VoteKind::Notarize | VoteKind::Finalize);
                if !kind_ok || c.hash != h.parent || c.view >= view || self.verify_cert(c).is_err() {
                    self.refuse("proposal_bad_parent_certificate");
                    return;
                }
                c.view
            }
            None if h.parent == self.tree.last_finalized().hash()
                && (self.tree.last_finalized().height == 0 || self.cfg.epoch_base == Some(h.parent)) =>
            {
                self.tree.last_finalized().view
            }
            None => {
                self.refuse("proposal_bad_parent_certificate");
                return;
            }
        };
        let mut expected = parent_view + 1;
        for n in &p.nullifications {
            if n.kind != VoteKind::Nullify || n.view != expected || self.verify_cert(n).is_err() {
                self.refuse("proposal_bad_nullification");
                return;
            }
            expected += 1;
        }
        if expected != view {
            self.refuse("proposal_bad_nullification");
            return;
        }
        // The justification's certificates count as received: they may end
        // the view we are in (Rules V and F), exactly as if they had arrived
        // on their own. Merely storing them would make the real certificate
        // (and the votes) look known later and leave this validator stuck.
        for c in p.parent_certificate.iter().chain(&p.nullifications) {
            let known = self.votes.has(c.view, c.kind);
            if !known && c.view >= self.tree.last_finalized().view {
                self.on_certificate_checked(c.clone());
            }
        }
        self.votes.round(view).proposal = Some(p.clone());
        if view != self.view {
            return; // kept until we enter the view
        }
        let Some(parent) = self.tree.get(&h.parent).cloned() else {
            self.tree.park(p.clone());
            self.fetch(h.parent);
            return;
        };
        if parent.height < self.tree.last_finalized().height || h.height != parent.height + 1 {
            self.refuse("proposal_bad_height");
            return;
        }
        if self.me().is_some() && self.rules.may_notarize(view, &hash) {
            self.votes.round(view).verifying = Some(hash);
            self.actions.push(Action::Verify { header: h.clone(), parent });
        }
    }

    fn on_verified(&mut self, hash: Hash, valid: bool) {
        let view = self.view;
        let Some(round) = self.votes.get(view) else { return };
        if round.verifying != Some(hash) {
            return;
        }
        let round = self.votes.round(view);
        round.verifying = None;
        if !valid {
            round.proposal = None;
            self.tree.remove(&hash);
            return;
        }
        let live = self.live_certificates();
        let Some(guarded) = self.rules.notarize(view, hash, live) else { return };
        self.cast(guarded);
    }

    // ----- votes and certificates ---------------------------------------------

    fn verify_cert(&self, c: &Certificate) -> Result<(), CertificateError> {
        c.verify(c.kind, &self.namespace, &self.cfg.validators, self.cfg.quorum)
    }

    fn on_vote(&mut self, vote: Vote) {
        let stale = vote.view < self.tree.last_finalized().view;
        if vote.view > self.view + FUTURE_VOTE_WINDOW {
            self.refuse("vote_far_future");
            return;
        }
        if stale && vote.kind != VoteKind::Nullify {
            self.refuse("vote_late");
            return;
        }
        let Some(key) = self.cfg.validators.get(vote.signer as usize) else {
            self.refuse("vote_unknown_signer");
            return;
        };
        let hash_ok = (vote.kind == VoteKind::Nullify) == (vote.hash == Hash::ZERO);
        if !hash_ok || !verify_vote(key, vote.kind, &self.namespace, vote.view, &vote.hash, &vote.signature) {
            self.refuse("vote_bad_signature");
            return;
        }
        if vote.view < self.view && vote.kind == VoteKind::Nullify {
            self.help_laggard(vote.view);
        }
        if stale {
            return;
        }
        self.add_vote(vote);
    }

    /// A nullify vote for a view we have left comes from a validator stuck
    /// there, rebroadcasting (Rule T). Once the others are idle (Rule I)
    /// nobody else rebroadcasts, so answer with the certificate that ended
    /// the view, or the latest finalization, which ends it too.
    fn help_laggard(&mut self, view: View) {
        let ended = self.votes.get(view).and_then(|r| r.ended_by().cloned());
        let cert = match ended {
            Some(c) => Some(c),
            None => self.tree.last_finalization().filter(|f| f.view >= view).cloned(),
        };
        if let Some(c) = cert {
            self.actions.push(Action::Broadcast(ConsensusMessage::Certificate(c)));
        }
    }

    /// Records a verified vote, keeps equivocation as evidence, and acts on
    /// a certificate the vote completed.
    fn add_vote(&mut self, vote: Vote) {
        let tally = self.votes.add(vote);
        if let Some(evidence) = tally.evidence {
            self.actions.push(Action::Evidence(evidence));
        }
        if let Some(cert) = tally.certificate {
            self.actions.push(Action::Broadcast(ConsensusMessage::Certificate(cert.clone())));
            self.on_certificate_checked(cert);
        }
    }

    fn on_certificate(&mut self, cert: Certificate) {
        let known = self.votes.has(cert.view, cert.kind);
        let lf_view = self.tree.last_finalized().view;
        let stale = cert.view < lf_view || (cert.kind == VoteKind::Finalize && cert.view <= lf_view);
        if known || stale {
            // Gossip repeats certificates (Rule T): not a fault.
            return;
        }
        let shape_ok = (cert.kind == VoteKind::Nullify) == (cert.hash == Hash::ZERO);
        if !shape_ok || self.verify_cert(&cert).is_err() {
            self.refuse("certificate_invalid");
            return;
        }
        self.on_certificate_checked(cert);
    }

    fn on_certificate_checked(&mut self, cert: Certificate) {
        let view = cert.view;
        self.votes.round(view).insert_certificate(cert.clone());
        match cert.kind {
            VoteKind::Notarize => {
                if !self.tree.contains(&cert.hash) {
                    self.fetch(cert.hash);
                }
                // Rule F: leaving view v on its notarization, finalize unless we
                // nullified v.
                // The finalize vote is made (and pushed) before the next
                // view is entered: that view's votes record it too.
                let finalize = if view == self.view {
                    let live = self.live_certificates();
                    self.rules.finalize(view, cert.hash, live)
                } else {
                    None
                };
                let vote = finalize.as_ref().map(|g| g.message().clone());
                if let Some(guarded) = finalize {
                    self.send_guarded(guarded.map(ConsensusMessage::Vote));
                }
                self.enter_view(view + 1);
                if let Some(vote) = vote {
                    self.add_vote(vote);
                }
            }
            VoteKind::Nullify => self.enter_view(view + 1),
            VoteKind::Finalize => {
                if cert.view > self.tree.last_finalized().view {
                    self.pending_commit = match self.pending_commit.take() {
                        Some(p) if p.view > cert.view => Some(p),
                        _ => Some(cert.clone()),
                    };
                    // A new finalization is a reason to ask again for a
                    // missing ancestor: the first request may have been lost,
                    // and the retry timer never fires while this validator
                    // keeps up with the views.
                    self.try_commit_asking_again(true);
                }
                self.enter_view(view + 1);
            }
        }
    }

    // ----- finality -------------------------------------------------------------

    /// Rule C: a finalized block and all its ancestors are final; commit them
    /// in height order once every header is available.
    fn try_commit(&mut self) {
        self.try_commit_asking_again(false);
    }

    fn try_commit_asking_again(&mut self, ask_again: bool) {
        let Some(cert) = self.pending_commit.clone() else { return };
        let chain = match self.tree.chain_to(cert.hash) {
            Ok(chain) => chain,
            Err(ChainGap::Missing(hash)) => {
                if ask_again {
                    self.tree.forget_wanted(&hash);
                }
                self.fetch(hash);
                return;
            }
            Err(ChainGap::Conflicting) => {
                // A finalized block that does not extend ours: only possible
                // with more than f faulty validators. Never commit it.
                self.pending_commit = None;
                self.refuse("finalization_conflicting");
                return;
            }
        };
        self.pending_commit = None;
        // A certificate above the last finalized height names at least one new block.
        let Some(tip) = chain.last().cloned() else { return };
        self.finalize_to(tip, cert.clone());
        self.actions.push(Action::Commit { blocks: chain, finalization: cert });
    }

    fn finalize_to(&mut self, tip: Header, cert: Certificate) {
        let view = tip.view;
        self.tree.finalize_to(tip, cert);
        self.votes.prune_below(view);
        self.rules.prune(view);
    }

    fn fetch(&mut self, hash: Hash) {
        if self.tree.want(hash) {
            self.actions.push(Action::Fetch { hash });
        }
    }

    fn on_block_available(&mut self, header: Header) {
        let hash = header.hash();
        if header.chain_id != self.cfg.chain_id {
            self.refuse("block_other_chain");
            return;
        }
        if !may_extend(self.tree.last_finalized(), &header) {
            // Fetched, then finalized past by the time it came: late; or a
            // height no chain reaches from the last finalized block.
            self.refuse(if header.height <= self.tree.last_finalized().height { "block_late" } else { "block_unreachable_height" });
            return;
        }
        self.tree.insert(header);
        if let Some(p) = self.tree.unpark(&hash) {
            self.votes.round(p.header.view).proposal = None;
            self.on_proposal(p);
        }
        if self.pending_commit.is_some() {
            self.try_commit();
        }
        self.try_propose();
    }

    fn on_synced(&mut self, header: Header, finalization: Certificate) {
        if header.height <= self.tree.last_finalized().height {
            self.refuse("synced_late");
            return;
        }
        if finalization.kind != VoteKind::Finalize || finalization.hash != header.hash() || self.verify_cert(&finalization).is_err() {
            self.refuse("synced_block_unproven");
            return;
        }
        let view = finalization.view;
        if self.pending_commit.as_ref().is_some_and(|p| p.view <= view) {
            self.pending_commit = None;
        }
        self.finalize_to(header, finalization);
        self.enter_view(view + 1);
        if self.pending_commit.is_some() {
            self.try_commit();
        }
    }
}
