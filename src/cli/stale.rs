//! `expire --close-stale`: access requests nobody moved for `request_ttl` are closed with a
//! comment saying why; a close an earlier run announced but did not finish is finished.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::bot_pr;
use portcullis_core::lifecycle::expire;
use portcullis_core::model::Catalog;
use portcullis_github::Client;

/// Closes the access requests idle past `request_ttl`, and finishes the closing an earlier run
/// began (its comment written, the close not).
pub(super) fn close_stale(client: &Client, catalog: &Catalog, as_of: DateTime<Utc>) -> Result<()> {
    let ttl = catalog
        .settings
        .as_ref()
        .map_or_else(|| chrono::Duration::days(30), |s| s.request_ttl);
    let open: Vec<expire::OpenRequest> = client
        .pulls("open", None)?
        .into_iter()
        .filter_map(|p| {
            let updated = DateTime::parse_from_rfc3339(&p.updated_at).ok()?;
            Some(expire::OpenRequest {
                number: p.number,
                branch: p.head.name,
                updated_at: updated.with_timezone(&Utc),
            })
        })
        .collect();
    let stale = expire::stale(&open, ttl, as_of);
    // A run stopped between its comment and the close left a request whose last activity
    // is that comment: it is no longer idle, and would stay open for good. Finish it.
    let me = portcullis_core::approval::pull::own_login(client, catalog);
    for r in open.iter().filter(|r| {
        portcullis_core::request::is_request_branch(&r.branch) && !stale.contains(&r.number)
    }) {
        let comments = match &me {
            Some(_) => client.comments(r.number)?,
            None => Vec::new(),
        };
        if expire::closing_begun(&comments, me.as_deref(), r) {
            client.update_pull(r.number, None, None, Some("closed"))?;
            eprintln!("closed #{}: an earlier run had begun to close it", r.number);
        }
    }
    for number in stale {
        bot_pr::close(client, number, &expire::stale_comment(ttl))?;
        eprintln!(
            "closed #{number}: no activity for {}",
            portcullis_core::model::time::format_duration(ttl)
        );
    }
    Ok(())
}
