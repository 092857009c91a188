//! Shared message stubs (spec §IV.A.2, "Shared Object Header Messages"): the body of a message
//! that refers to a message stored elsewhere — here, a committed (named) datatype in its own
//! object header, as a dataset's Datatype message does when it was created with one.
//!
//! libhdf5 writes version 2 of the stub for a committed datatype (version, type 2 = "shared in
//! an object header", the header's address); the message carries the "shared" flag (bit 1).

use super::Put;

/// Message flag bit 1: the message body is a shared message stub.
pub const FLAG_SHARED: u8 = 0x02;

/// The body of a message shared through the committed object whose header is at `addr`
/// (shared message version 2, type 2).
pub fn encode_committed(addr: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(10);
    b.u8(2);
    b.u8(2);
    b.u64(addr);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Sizes;
    use crate::shared::{decode_stub, SharedLocation};
    use crate::Ctx;

    #[test]
    fn committed_stub_round_trips() {
        let body = encode_committed(0x320);
        assert_eq!(body, [2, 2, 0x20, 3, 0, 0, 0, 0, 0, 0]);
        let f: Vec<u8> = Vec::new();
        let ctx = Ctx::new(&f, Sizes::default());
        assert_eq!(
            decode_stub(&ctx, &body, 0).unwrap(),
            SharedLocation::Committed(0x320)
        );
        // padded to 8 bytes as a version-1 header stores it: still the same stub
        let mut padded = body.clone();
        padded.resize(16, 0);
        assert_eq!(
            decode_stub(&ctx, &padded, 0).unwrap(),
            SharedLocation::Committed(0x320)
        );
    }
}
