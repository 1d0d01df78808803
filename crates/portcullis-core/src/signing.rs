//! Ed25519 signatures on what the applier remembers (SPEC section 7, THREATS 12): the state
//! (last applied commit, quarantine, the evidence chain's tip) and every evidence record. Any
//! writer of the repository can push any ref, so these records are trusted only when signed
//! with the key the apply environment alone holds (`PORTCULLIS_SIGNING_KEY`). An auditor
//! verifies with the public half (`evidence_public_key` in settings), without the secret.
//!
//! Pure: keys arrive as text, messages as bytes. Each kind of message is signed under its own
//! domain, so a state signature can never pass for a record's, or the other way round.

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

/// What a signature is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// The exact bytes of the state file.
    State,
    /// An evidence record's `hash` (which covers every other member).
    Record,
}

impl Domain {
    fn prefix(self) -> &'static [u8] {
        match self {
            Domain::State => b"portcullis state v1\n",
            Domain::Record => b"portcullis evidence record v1\n",
        }
    }
}

const PUBLIC_PREFIX: &str = "ed25519:";
const SECRET_PREFIX: &str = "ed25519-secret:";

/// The secret half, as `PORTCULLIS_SIGNING_KEY` holds it: `ed25519-secret:<base64 of 32 bytes>`.
pub struct Signer(SigningKey);

/// The public half, as `evidence_public_key` writes it: `ed25519:<base64 of 32 bytes>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier(VerifyingKey);

fn decode32(text: &str, what: &str) -> Result<[u8; 32], String> {
    let bytes = BASE64_STANDARD
        .decode(text.trim())
        .map_err(|_| format!("{what} is not base64"))?;
    bytes
        .try_into()
        .map_err(|_| format!("{what} is not 32 bytes long"))
}

impl Signer {
    /// From a 32-byte seed (`keygen` draws it from the operating system).
    pub fn from_seed(seed: [u8; 32]) -> Signer {
        Signer(SigningKey::from_bytes(&seed))
    }

    pub fn parse(text: &str) -> Result<Signer, String> {
        let body = text.trim().strip_prefix(SECRET_PREFIX).ok_or_else(|| {
            format!("the signing key does not start with `{SECRET_PREFIX}` (`portcullis keygen` prints one)")
        })?;
        Ok(Signer::from_seed(decode32(body, "the signing key")?))
    }

    /// `ed25519-secret:<base64>`, for the apply environment's secret.
    pub fn to_text(&self) -> String {
        format!(
            "{SECRET_PREFIX}{}",
            BASE64_STANDARD.encode(self.0.to_bytes())
        )
    }

    pub fn verifier(&self) -> Verifier {
        Verifier(self.0.verifying_key())
    }

    /// The signature, base64.
    pub fn sign(&self, domain: Domain, message: &[u8]) -> String {
        let mut m = domain.prefix().to_vec();
        m.extend_from_slice(message);
        BASE64_STANDARD.encode(self.0.sign(&m).to_bytes())
    }
}

impl Verifier {
    pub fn parse(text: &str) -> Result<Verifier, String> {
        let body = text
            .trim()
            .strip_prefix(PUBLIC_PREFIX)
            .ok_or_else(|| format!("the public key does not start with `{PUBLIC_PREFIX}`"))?;
        VerifyingKey::from_bytes(&decode32(body, "the public key")?)
            .map(Verifier)
            .map_err(|_| "the public key is not a valid Ed25519 point".to_owned())
    }

    /// `ed25519:<base64>`, as settings write it.
    pub fn to_text(&self) -> String {
        format!(
            "{PUBLIC_PREFIX}{}",
            BASE64_STANDARD.encode(self.0.to_bytes())
        )
    }

    /// Whether `signature` (base64) is this key's over `message` in `domain`. Strict
    /// verification: no malleable or small-order forms.
    pub fn verify(&self, domain: Domain, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = BASE64_STANDARD.decode(signature.trim()) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
            return false;
        };
        let mut m = domain.prefix().to_vec();
        m.extend_from_slice(message);
        self.0
            .verify_strict(&m, &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_key_its_domain_and_its_message() {
        let a = Signer::from_seed([7; 32]);
        let b = Signer::from_seed([8; 32]);
        let sig = a.sign(Domain::State, b"applied: abc");
        assert!(a.verifier().verify(Domain::State, b"applied: abc", &sig));
        assert!(!b.verifier().verify(Domain::State, b"applied: abc", &sig));
        assert!(!a.verifier().verify(Domain::Record, b"applied: abc", &sig));
        assert!(!a.verifier().verify(Domain::State, b"applied: abd", &sig));
        assert!(
            !a.verifier()
                .verify(Domain::State, b"applied: abc", "not base64!")
        );
        assert!(!a.verifier().verify(Domain::State, b"applied: abc", ""));
    }

    #[test]
    fn keys_read_back_as_written_and_bad_text_is_refused() {
        let a = Signer::from_seed([9; 32]);
        let again = Signer::parse(&a.to_text()).unwrap();
        assert_eq!(again.verifier(), a.verifier());
        assert_eq!(
            Verifier::parse(&a.verifier().to_text()).unwrap(),
            a.verifier()
        );
        assert!(Signer::parse("ed25519:AAAA").is_err());
        assert!(Signer::parse("ed25519-secret:AAAA").is_err());
        assert!(Verifier::parse(&a.to_text()).is_err());
    }
}
