//! Signed tile URLs: an HMAC-SHA256 over what a URL may show (tenant, field, index, week and
//! the version of the field-week raster) and until when. A tile request is checked against it
//! before anything is read, so tiles need no login header and still stay within their tenant.

use sha2::{Digest, Sha256};

use crate::credentials::hex;

/// Bytes of the MAC kept in the URL (128 bits, as hex).
const MAC_BYTES: usize = 16;

/// What a signature covers. `week` is `None` for "the latest OK week".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileGrant<'a> {
    pub tenant: &'a str,
    pub aoi: &'a str,
    pub index: &'a str,
    pub week: Option<(i32, u8)>,
    /// Version of the field-week raster (empty for the latest week).
    pub version: &'a str,
    /// Unix seconds after which the signature is refused.
    pub expires: i64,
}

impl TileGrant<'_> {
    fn message(&self) -> String {
        let week = self
            .week
            .map_or_else(|| "latest".to_owned(), |(y, w)| format!("{y}-W{w:02}"));
        format!(
            "vivacampo-tile-v1\n{}\n{}\n{}\n{week}\n{}\n{}",
            self.tenant, self.aoi, self.index, self.version, self.expires
        )
    }
}

/// Why a signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Expired,
    Invalid,
}

/// Signs and checks tile grants with one secret key (replicas must share it).
#[derive(Clone)]
pub struct TileSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for TileSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TileSigner(..)")
    }
}

impl TileSigner {
    pub fn new(key: &[u8]) -> TileSigner {
        TileSigner { key: key.to_vec() }
    }

    /// The `sig` query value for a grant.
    pub fn sign(&self, grant: &TileGrant) -> String {
        hex(&hmac_sha256(&self.key, grant.message().as_bytes())[..MAC_BYTES])
    }

    /// Checks `sig` against the grant at time `now` (unix seconds), in constant time.
    pub fn verify(&self, grant: &TileGrant, sig: &str, now: i64) -> Result<(), Refusal> {
        let expected = self.sign(grant);
        let same = expected.len() == sig.len()
            && expected
                .bytes()
                .zip(sig.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            Err(Refusal::Invalid)
        } else if now > grant.expires {
            Err(Refusal::Expired)
        } else {
            Ok(())
        }
    }
}

/// HMAC-SHA256 (RFC 2104) over the sha2 crate the API already links.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test cases 2 and 6 (a key longer than the block).
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn grants_are_bound_to_every_field() {
        let signer = TileSigner::new(b"k");
        let grant = TileGrant {
            tenant: "t1",
            aoi: "a1",
            index: "ndvi",
            week: Some((2026, 10)),
            version: "1-5",
            expires: 100,
        };
        let sig = signer.sign(&grant);
        assert_eq!(sig.len(), 32);
        assert_eq!(signer.verify(&grant, &sig, 100), Ok(()));
        assert_eq!(signer.verify(&grant, &sig, 101), Err(Refusal::Expired));
        for other in [
            TileGrant {
                tenant: "t2",
                ..grant.clone()
            },
            TileGrant {
                aoi: "a2",
                ..grant.clone()
            },
            TileGrant {
                index: "ndre",
                ..grant.clone()
            },
            TileGrant {
                week: None,
                ..grant.clone()
            },
            TileGrant {
                version: "1-6",
                ..grant.clone()
            },
            TileGrant {
                expires: 1000,
                ..grant.clone()
            },
        ] {
            assert_eq!(signer.verify(&other, &sig, 0), Err(Refusal::Invalid));
        }
        assert_eq!(
            TileSigner::new(b"other").verify(&grant, &sig, 0),
            Err(Refusal::Invalid)
        );
    }
}
