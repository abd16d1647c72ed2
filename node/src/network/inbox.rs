//! Messages from peers that the application has not taken yet: one bounded
//! queue per peer, served in turn.
//!
//! What does not fit in the channel to the application waits here. A peer
//! that sends faster than the application reads fills its own queue and
//! loses its own oldest messages, never another peer's: one flooding
//! validator cannot push the honest validators' votes out, and once the
//! channel is full their messages reach the application between its own,
//! one each in turn. (Only allowlisted peers' messages are queued, so the
//! inbox holds at most validators × `per_peer` messages.)

use libp2p::PeerId;
use std::collections::{HashMap, VecDeque};

pub(super) struct Inbox<T> {
    queues: HashMap<PeerId, VecDeque<T>>,
    /// The peers with queued messages, in the order they are served.
    turn: VecDeque<PeerId>,
    per_peer: usize,
}

impl<T> Inbox<T> {
    /// Holds at most `per_peer` messages of each peer.
    pub fn new(per_peer: usize) -> Inbox<T> {
        Inbox { queues: HashMap::new(), turn: VecDeque::new(), per_peer: per_peer.max(1) }
    }

    pub fn is_empty(&self) -> bool {
        self.turn.is_empty()
    }

    /// Queues a message of `from`; when its queue is full, its oldest
    /// message is dropped and returned.
    pub fn push(&mut self, from: PeerId, message: T) -> Option<T> {
        let queue = self.queues.entry(from).or_default();
        if queue.is_empty() {
            self.turn.push_back(from);
        }
        let dropped = if queue.len() >= self.per_peer { queue.pop_front() } else { None };
        queue.push_back(message);
        dropped
    }

    /// The next message: the oldest of the peer whose turn it is.
    pub fn pop(&mut self) -> Option<(PeerId, T)> {
        let peer = self.turn.pop_front()?;
        let queue = self.queues.get_mut(&peer)?;
        let message = queue.pop_front()?;
        if queue.is_empty() {
            self.queues.remove(&peer);
        } else {
            self.turn.push_back(peer);
        }
        Some((peer, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flooding_peer_loses_its_own_messages_and_the_others_are_served_in_turn() {
        let mut inbox = Inbox::new(100);
        let (flooder, a, b) = (PeerId::random(), PeerId::random(), PeerId::random());
        let mut dropped = 0;
        for i in 0..10_000u32 {
            dropped += inbox.push(flooder, i).is_some() as usize;
        }
        assert_eq!(dropped, 9_900, "the flooder's queue holds its newest 100");
        for i in 0..5u32 {
            assert_eq!(inbox.push(a, 1_000_000 + i), None);
            assert_eq!(inbox.push(b, 2_000_000 + i), None);
        }
        // The honest peers' five votes each come out within the first 15
        // messages, one peer after another, each in its own order.
        let first: Vec<(PeerId, u32)> = (0..15).filter_map(|_| inbox.pop()).collect();
        let of = |p: PeerId| first.iter().filter(|(q, _)| *q == p).map(|(_, m)| *m).collect::<Vec<_>>();
        assert_eq!(of(a), (1_000_000..1_000_005).collect::<Vec<_>>());
        assert_eq!(of(b), (2_000_000..2_000_005).collect::<Vec<_>>());
        assert_eq!(of(flooder), (9_900..9_905).collect::<Vec<_>>());
        // Then the rest of the flood, and nothing else.
        let rest: Vec<u32> = std::iter::from_fn(|| inbox.pop())
            .map(|(p, m)| {
                assert_eq!(p, flooder);
                m
            })
            .collect();
        assert_eq!(rest, (9_905..10_000).collect::<Vec<_>>());
        assert!(inbox.is_empty());
    }
}
