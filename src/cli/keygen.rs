//! `keygen`: a new Ed25519 key pair for signing the applier's state and evidence. The secret
//! goes in the apply environment's `PORTCULLIS_SIGNING_KEY`, the public key in
//! `evidence_public_key` in policies/settings.yaml, where an auditor verifies with it.

use anyhow::{Result, anyhow};

use super::Exit;

/// Print a new key pair: the secret for `PORTCULLIS_SIGNING_KEY`, the public key for settings
#[derive(clap::Args)]
#[command(after_help = "Examples:
  portcullis keygen    the secret goes in PORTCULLIS_SIGNING_KEY, the public key in settings")]
pub struct Args {}

pub fn run(_args: Args) -> Result<Exit> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| anyhow!("the operating system gave no randomness: {e}"))?;
    let signer = portcullis_core::signing::Signer::from_seed(seed);
    println!("{}", signer.to_text());
    eprintln!(
        "The line above is the secret: store it as the `PORTCULLIS_SIGNING_KEY` secret of the apply environment, and nowhere else.\nAdd the public key to policies/settings.yaml, through a pull request the security team approves:\n\n  evidence_public_key: \"{}\"\n",
        signer.verifier().to_text()
    );
    Ok(Exit::Success)
}
