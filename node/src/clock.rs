//! The node's wall clock. The consensus core and the chaincode never read a
//! clock: the driver stamps its proposals with this one, checks peers'
//! block times against it, and dates submissions checked at the gateway.
//!
//! A configured offset (`clock_offset_ms` in node.toml) shifts it, so the
//! fault suite can run one validator 20 s ahead of or behind the others
//! without touching the host's clock.

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    offset_ms: i64,
}

impl Clock {
    pub fn with_offset(offset_ms: i64) -> Clock {
        Clock { offset_ms }
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// Milliseconds since the Unix epoch, offset included.
    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() + self.offset_ms
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn the_offset_shifts_the_reading() {
        let real = Clock::default().now_ms();
        let ahead = Clock::with_offset(20_000).now_ms();
        let behind = Clock::with_offset(-20_000).now_ms();
        assert!((19_000..25_000).contains(&(ahead - real)), "{}", ahead - real);
        assert!((15_000..21_000).contains(&(real - behind)), "{}", real - behind);
    }
}
