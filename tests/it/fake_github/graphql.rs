//! The GraphQL API, as far as portcullis uses it: a team's members by kind of membership.
//!
//! Every query is first held to GitHub's published GraphQL schema (`@octokit/graphql-schema`,
//! installed by `scripts/test` into `target/graphql-schema/`): a query GitHub would reject is
//! answered with GitHub's error shape and fails the test, so the client cannot rely on a field
//! or argument GitHub does not have. The fake then answers the one query shape it knows.

use std::sync::OnceLock;

use apollo_compiler::{ExecutableDocument, Schema, validation::Valid};
use serde_json::{Value, json};

use super::routes::{Reply, Req, Res};
use super::state::People;

fn schema() -> &'static Valid<Schema> {
    static SCHEMA: OnceLock<Valid<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = std::env::var_os("PORTCULLIS_GRAPHQL_SCHEMA")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("target/graphql-schema/package/schema.graphql")
            });
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "GitHub's GraphQL schema is not at {} ({e}): run `scripts/test`, which installs @octokit/graphql-schema from npm",
                path.display()
            )
        });
        // The published schema defines a few fields twice (`EnterpriseOwnerInfo`'s
        // `repositoryDeployKeySetting`, say); the first definition is kept, as GitHub serves.
        let schema = match Schema::parse(text, "schema.graphql") {
            Ok(s) => s,
            Err(e) => e.partial,
        };
        assert!(
            schema.types.contains_key("Team"),
            "GitHub's GraphQL schema at {} has no `Team` type",
            path.display()
        );
        Valid::assume_valid(schema)
    })
}

/// Why GitHub would refuse `query`, if it would.
pub fn refused(query: &str) -> Option<String> {
    ExecutableDocument::parse_and_validate(schema(), query, "query.graphql")
        .err()
        .map(|e| e.to_string())
}

pub fn answer(people: &People, req: &Req<'_>) -> Res {
    let query = req.field("query").unwrap_or_default();
    if let Some(why) = refused(query) {
        return Reply::ok(json!({"errors": [{"message": why}]}));
    }
    let vars = &req.body["variables"];
    let org = vars["org"].as_str().unwrap_or_default();
    let slug = vars["slug"].as_str().unwrap_or_default();
    if !query.contains("organization(login: $org)") || !query.contains("team(slug: $slug)") {
        return Err(Reply::error(
            400,
            "the fake GitHub answers only the team members query",
        ));
    }
    if !people.org_members.contains_key(org) && !people.teams.keys().any(|(o, _)| o == org) {
        return Reply::ok(json!({
            "data": {"organization": null},
            "errors": [{"type": "NOT_FOUND", "path": ["organization"],
                        "message": format!("Could not resolve to an Organization with the login of '{org}'.")}],
        }));
    }
    if people.team(org, slug).is_none() {
        return Reply::ok(json!({"data": {"organization": {"team": null}}}));
    }
    let members: Vec<String> = if query.contains("membership: IMMEDIATE") {
        people
            .team(org, slug)
            .into_iter()
            .flatten()
            .filter(|(_, state)| state == "active")
            .map(|(login, _)| login.clone())
            .collect()
    } else {
        people.all_members(org, slug)
    };
    let first: usize = query
        .split("first: ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    if first > 100 {
        return Reply::ok(json!({"errors": [{"type": "EXCESSIVE_PAGINATION",
            "message": format!("Requesting {first} records on the `members` connection exceeds the `first` limit of 100 records.")}]}));
    }
    let start = match vars["cursor"].as_str() {
        None => 0,
        Some(c) => match c.strip_prefix("cursor:").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                return Reply::ok(
                    json!({"errors": [{"message": format!("`{c}` does not appear to be a valid cursor.")}]}),
                );
            }
        },
    };
    let page: Vec<Value> = members
        .iter()
        .skip(start)
        .take(first)
        .map(|login| json!({"login": login}))
        .collect();
    let end = start + page.len();
    Reply::ok(json!({"data": {"organization": {"team": {"members": {
        "pageInfo": {"hasNextPage": end < members.len(), "endCursor": format!("cursor:{end}")},
        "nodes": page,
    }}}}}))
}

#[cfg(test)]
mod tests {
    /// The check has teeth: a field, argument or enum value GitHub does not have is refused.
    #[test]
    fn queries_github_would_refuse_are_caught() {
        let members = |args: &str, field: &str| {
            format!(
                "query($org: String!) {{ organization(login: $org) {{ team(slug: \"t\") {{ members({args}) {{ nodes {{ {field} }} }} }} }} }}"
            )
        };
        assert_eq!(
            super::refused(&members("first: 100, membership: IMMEDIATE", "login")),
            None
        );
        assert!(super::refused(&members("first: 100, membership: DIRECT", "login")).is_some());
        assert!(super::refused(&members("first: 100, direct: true", "login")).is_some());
        assert!(super::refused(&members("first: 100", "handle")).is_some());
        assert!(super::refused("query { viewer { login } ").is_some());
    }
}
