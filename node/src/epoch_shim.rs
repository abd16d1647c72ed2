// TEMPORARY: stands in for the chaincode's epoch API until branch `gov` merges.
#![allow(dead_code)]
pub struct EpochValidator {
    pub name: String,
    pub province: String,
    pub public_key: [u8; 32],
}
pub struct Epoch {
    pub number: u64,
    pub validators: Vec<EpochValidator>,
}
pub struct FormerValidatorKey {
    pub province: String,
    pub until_height: u64,
}
pub trait LedgerEpochs {
    fn epoch_number(&self) -> u64 {
        0
    }
    fn current_epoch(&self) -> Option<Epoch> {
        None
    }
    fn former_validator_key(&self, _key: &[u8; 32]) -> Option<FormerValidatorKey> {
        None
    }
}
impl LedgerEpochs for coldchain_chaincode::state::ledger::Ledger {}
pub trait ChangeKey {
    fn validator_key(&self) -> Option<[u8; 32]> {
        None
    }
}
impl ChangeKey for coldchain_chaincode::state::ledger::GovernanceChange {}
