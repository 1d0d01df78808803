//! The transport under [`super::Client`]: one request with bounded retries, pagination that never
//! returns a partial list, errors that name the call and the fix, and URL encoding of every
//! untrusted path segment. It knows nothing about pull requests or teams.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;
use ureq::http::{HeaderMap, Method, Request};

/// Everything but RFC 3986 unreserved characters is encoded, `/` included: a segment can never
/// become two, and `?`, `#` or `%` can never end the path early.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Responses larger than this are refused (contents of a large file are fetched as a blob, which
/// GitHub caps at 100 MB).
const MAX_BODY: u64 = 128 * 1024 * 1024;

pub(super) const MAX_PAGES: usize = 10_000;

/// How long and how often a call may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The most one call may spend waiting, all retries together. A rate limit that resets later
    /// than this fails at once, saying when it resets.
    pub max_wait: Duration,
    /// The first wait after a 5xx or a connection error; it doubles with each attempt.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            max_wait: Duration::from_secs(120),
            backoff: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// The default policy with `PORTCULLIS_GITHUB_MAX_WAIT` (seconds) as the wait cap.
    pub fn from_env() -> Result<RetryPolicy> {
        let mut policy = RetryPolicy::default();
        if let Ok(text) = std::env::var("PORTCULLIS_GITHUB_MAX_WAIT") {
            let secs: u64 = text.trim().parse().map_err(|_| {
                anyhow!(
                    "`PORTCULLIS_GITHUB_MAX_WAIT` is `{text}`, not a number of seconds\nhint: write e.g. `PORTCULLIS_GITHUB_MAX_WAIT=300`"
                )
            })?;
            policy.max_wait = Duration::from_secs(secs);
        }
        Ok(policy)
    }
}

/// A response whose status has not been judged yet.
pub(super) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    attempts: u32,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// GitHub's `message`, or the start of whatever the body was.
    fn message(&self) -> String {
        match self.json() {
            Some(v) => v
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or_default()
                .to_owned(),
            None => String::from_utf8_lossy(&self.body[..self.body.len().min(200)])
                .trim()
                .to_owned(),
        }
    }

    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The path [`Transport`] sends GraphQL queries to: not a REST path (those start with `/`).
pub(super) const GRAPHQL: &str = "graphql";

pub(super) struct Transport {
    pub api_url: String,
    /// `https://api.github.com/graphql`, or a server's `https://HOST/api/graphql` beside its
    /// `https://HOST/api/v3`: where `GITHUB_GRAPHQL_URL` points in GitHub Actions.
    graphql_url: String,
    pub token: Option<String>,
    pub policy: RetryPolicy,
    agent: ureq::Agent,
}

impl Transport {
    pub fn new(api_url: &str, token: Option<&str>) -> Result<Transport> {
        let api_url = api_url.trim_end_matches('/').to_owned();
        let is_http = api_url.starts_with("https://") || api_url.starts_with("http://");
        if !is_http || api_url.parse::<ureq::http::Uri>().is_err() {
            bail!(
                "`GITHUB_API_URL` is `{api_url}`, not an http(s) URL\nhint: leave it unset for github.com, or set it to your server's API root, e.g. `https://ghe.example.com/api/v3`"
            );
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A moved repository answers 301; following it would drop the token, so report it.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_global(Some(Duration::from_secs(120)))
            .build();
        let graphql_url = match api_url.strip_suffix("/api/v3") {
            Some(host) => format!("{host}/api/graphql"),
            None => format!("{api_url}/graphql"),
        };
        Ok(Transport {
            graphql_url,
            api_url,
            token: token.filter(|t| !t.is_empty()).map(str::to_owned),
            policy: RetryPolicy::default(),
            agent: config.new_agent(),
        })
    }

    /// `path` (with its query) on this API, decoded as `T`.
    pub fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T> {
        let reply = self.send(&method, path, body)?;
        if !reply.ok() {
            return Err(failure(&method, path, &reply));
        }
        decode(&method, path, &reply)
    }

    /// Like [`Transport::json`], with `None` for a 404.
    pub fn json_or_none<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Option<T>> {
        let reply = self.send(&method, path, body)?;
        match reply.status {
            404 => Ok(None),
            _ if reply.ok() => decode(&method, path, &reply).map(Some),
            _ => Err(failure(&method, path, &reply)),
        }
    }

    /// A GraphQL query, read as `T` (its `data`); errors GitHub reports in the body fail it.
    pub fn graphql<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<T> {
        #[derive(serde::Deserialize)]
        struct Answer<T> {
            data: Option<T>,
            #[serde(default)]
            errors: Vec<Problem>,
        }
        #[derive(serde::Deserialize)]
        struct Problem {
            message: String,
        }
        let body = serde_json::json!({"query": query, "variables": variables});
        let answer: Answer<T> = self.json(Method::POST, GRAPHQL, Some(&body))?;
        if !answer.errors.is_empty() {
            bail!(
                "GitHub GraphQL API: {}",
                answer
                    .errors
                    .iter()
                    .map(|e| e.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        answer
            .data
            .ok_or_else(|| anyhow!("GitHub GraphQL API: the answer holds no data"))
    }

    /// A call whose response body does not matter; `also_ok` lists statuses that count as done.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        also_ok: &[u16],
    ) -> Result<()> {
        let reply = self.send(&method, path, body)?;
        if reply.ok() || also_ok.contains(&reply.status) {
            Ok(())
        } else {
            Err(failure(&method, path, &reply))
        }
    }

    /// Every page of a list, 100 at a time, following `Link: <…>; rel="next"`. Any failed page
    /// fails the whole listing: callers compute removals from these lists.
    pub fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut next = Some(format!("{path}{sep}per_page=100"));
        let mut items = Vec::new();
        let mut page = 0;
        while let Some(path) = next.take() {
            page += 1;
            let reply = self.send(&Method::GET, &path, None)?;
            if !reply.ok() {
                return Err(failure(&Method::GET, &path, &reply).context(format!(
                    "listing failed at page {page}; no partial list is used"
                )));
            }
            let batch: Vec<T> = decode(&Method::GET, &path, &reply)?;
            items.extend(batch);
            if let Some(url) = reply.header("link").and_then(next_link) {
                // A million items is far beyond any real listing; a server that keeps linking
                // on is broken, and a listing that never ends must not hang the run.
                if page >= MAX_PAGES {
                    bail!(
                        "GitHub API `GET {path}`: more than {MAX_PAGES} pages; refusing to go on"
                    );
                }
                next = Some(self.relative(&url)?);
            }
        }
        Ok(items)
    }

    /// The path of a pagination link, which must point back at this API: the token is never
    /// sent anywhere else.
    fn relative(&self, url: &str) -> Result<String> {
        url.strip_prefix(&self.api_url)
            .filter(|rest| rest.starts_with('/'))
            .map(str::to_owned)
            .ok_or_else(|| {
                anyhow!(
                    "GitHub sent a pagination link outside `{}`: `{url}`; refusing to follow it",
                    self.api_url
                )
            })
    }

    /// One request with the retry policy applied. Rate limits are retried for every method (the
    /// request was refused, not performed); 5xx and connection errors only for idempotent ones.
    fn send(&self, method: &Method, path: &str, body: Option<&serde_json::Value>) -> Result<Reply> {
        // A GraphQL query is a read, though sent with POST.
        let idempotent = *method != Method::POST || path == GRAPHQL;
        let body = body.map(serde_json::to_vec).transpose()?;
        let policy = self.policy;
        let mut waited = Duration::ZERO;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= policy.max_attempts;
            let wait = match self.once(method, path, body.as_deref()) {
                Ok(mut reply) => {
                    reply.attempts = attempt;
                    if let Some((wait, resets)) = rate_limit(&reply) {
                        if last {
                            return Err(failure(method, path, &reply));
                        }
                        if waited + wait > policy.max_wait {
                            return Err(anyhow!(
                                "GitHub API `{method} {path}`: rate limited (HTTP {}: {}); the limit resets at {resets}, {} s from now, beyond the {} s this run may wait\nhint: run again after the reset, or raise `PORTCULLIS_GITHUB_MAX_WAIT`",
                                reply.status,
                                reply.message(),
                                wait.as_secs(),
                                policy.max_wait.saturating_sub(waited).as_secs()
                            ));
                        }
                        wait
                    } else if reply.status >= 500 && idempotent && !last {
                        let wait = retry_after(&reply).unwrap_or(backoff(policy, attempt));
                        if waited + wait > policy.max_wait {
                            return Ok(reply);
                        }
                        wait
                    } else {
                        return Ok(reply);
                    }
                }
                Err(e) => {
                    let wait = backoff(policy, attempt);
                    if !idempotent || last || waited + wait > policy.max_wait {
                        let tries = if attempt > 1 {
                            format!(" (after {attempt} attempts)")
                        } else {
                            String::new()
                        };
                        return Err(anyhow!(
                            "GitHub API `{method} {path}` failed: {e}{tries}\nhint: check `GITHUB_API_URL` (`{}`) and the network",
                            self.api_url
                        ));
                    }
                    wait
                }
            };
            // Say so: five silent retries look like a hang.
            eprintln!(
                "note: GitHub API `{method} {path}`: attempt {attempt} of {} did not go through; retrying in {:.1} s",
                policy.max_attempts,
                wait.as_secs_f64()
            );
            std::thread::sleep(wait);
            waited += wait;
        }
    }

    fn once(&self, method: &Method, path: &str, body: Option<&[u8]>) -> Result<Reply, ureq::Error> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(if path == GRAPHQL {
                self.graphql_url.clone()
            } else {
                format!("{}{path}", self.api_url)
            })
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = match body {
            Some(bytes) => {
                let request = request
                    .header("Content-Type", "application/json")
                    .body(bytes)?;
                self.agent.run(request)?
            }
            None => self.agent.run(request.body(())?)?,
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()?;
        Ok(Reply {
            status,
            headers,
            body,
            attempts: 1,
        })
    }
}

fn decode<T: DeserializeOwned>(method: &Method, path: &str, reply: &Reply) -> Result<T> {
    serde_json::from_slice(&reply.body).map_err(|e| {
        // Not JSON at all is most often another server than the API; JSON of another shape
        // is GitHub's answer in a form portcullis does not read: say which field.
        if serde_json::from_slice::<serde::de::IgnoredAny>(&reply.body).is_err() {
            anyhow!(
                "GitHub API `{method} {path}`: the response is not JSON (HTTP {})\nhint: check that `GITHUB_API_URL` is the REST API root",
                reply.status
            )
        } else {
            anyhow!(
                "GitHub API `{method} {path}`: GitHub sent a response portcullis cannot read (HTTP {}): {e}\nhint: this is a defect in portcullis or a change in GitHub's API; report it with the field named above",
                reply.status
            )
        }
    })
}

/// `Some((wait, when it resets))` when the reply is a rate limit: 429, or 403 with no requests
/// remaining or a secondary-limit message.
fn rate_limit(reply: &Reply) -> Option<(Duration, String)> {
    let exhausted = reply.header("x-ratelimit-remaining") == Some("0");
    let limited = reply.status == 429
        || (reply.status == 403
            && (exhausted
                || reply
                    .message()
                    .to_ascii_lowercase()
                    .contains("secondary rate limit")));
    if !limited {
        return None;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let reset = reply
        .header("x-ratelimit-reset")
        .and_then(|r| r.trim().parse::<i64>().ok());
    let secs = match (retry_after(reply), reset) {
        (Some(wait), _) => wait.as_secs() as i64,
        // Waiting at least a second: GitHub's clock and ours may disagree slightly.
        (None, Some(reset)) if exhausted || reply.status == 429 => (reset - now).max(1),
        // GitHub's advice for a secondary limit without `retry-after`: wait a minute.
        _ => 60,
    };
    let resets = chrono::DateTime::from_timestamp(now + secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("epoch {}", now + secs));
    Some((Duration::from_secs(secs as u64), resets))
}

fn retry_after(reply: &Reply) -> Option<Duration> {
    reply
        .header("retry-after")
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn backoff(policy: RetryPolicy, attempt: u32) -> Duration {
    policy.backoff * 2u32.saturating_pow(attempt - 1)
}

/// The URL of `rel="next"` in a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_owned())
    })
}

/// The error for a reply GitHub did not accept: method, path, status, GitHub's message and a
/// hint at the fix.
fn failure(method: &Method, path: &str, reply: &Reply) -> anyhow::Error {
    let message = reply.message();
    let mut text = format!(
        "GitHub API `{method} {path}` failed: HTTP {}{}",
        reply.status,
        if message.is_empty() {
            String::new()
        } else {
            format!(" ({message})")
        }
    );
    if reply.attempts > 1 {
        text.push_str(&format!(" after {} attempts", reply.attempts));
    }
    let hint = match reply.status {
        301 | 302 | 307 | 308 => {
            "the repository was renamed or moved: update `GITHUB_REPOSITORY`".to_owned()
        }
        401 => "check `GITHUB_TOKEN`: it is missing, expired or revoked".to_owned(),
        403 => "check that `GITHUB_TOKEN` has the permission this call needs".to_owned(),
        404 if path.starts_with("/orgs/") => {
            "check the org and team slug, and that `GITHUB_TOKEN` can read the org's teams"
                .to_owned()
        }
        404 => "check `GITHUB_REPOSITORY` / the number or name in the path, and that `GITHUB_TOKEN` can see it".to_owned(),
        409 | 405 => "the pull request changed or cannot be merged as it is; look at it on GitHub".to_owned(),
        422 => format!("GitHub refused the request: {}", validation_errors(reply)),
        s if s >= 500 => "GitHub had an internal error; run again later".to_owned(),
        _ => "see GitHub's message above".to_owned(),
    };
    anyhow!("{text}\nhint: {hint}")
}

/// GitHub's `errors` of a 422, one per line's worth, as `resource.field: code (message)`.
fn validation_errors(reply: &Reply) -> String {
    let errors = reply
        .json()
        .and_then(|v| v.get("errors").cloned())
        .and_then(|e| e.as_array().cloned())
        .unwrap_or_default();
    if errors.is_empty() {
        return "no details beyond the message".to_owned();
    }
    let describe = |e: &serde_json::Value| -> String {
        if let Some(s) = e.as_str() {
            return s.to_owned();
        }
        let field = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        let mut out = [field("resource"), field("field")]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(".");
        for part in [field("code"), field("message")] {
            if !part.is_empty() {
                if !out.is_empty() {
                    out.push_str(": ");
                }
                out.push_str(part);
            }
        }
        out
    };
    errors.iter().map(describe).collect::<Vec<_>>().join("; ")
}

/// One path segment (a login, a team slug, a sha), encoded. Empty, `.` and `..` are refused:
/// they would address a different resource.
pub(super) fn segment(s: &str) -> Result<String> {
    if s.is_empty() || s == "." || s == ".." {
        bail!("`{s}` is not a valid name for a GitHub API path segment");
    }
    Ok(utf8_percent_encode(s, SEGMENT).to_string())
}

/// A path of segments joined by `/` (a file path, a branch name), each segment encoded.
pub(super) fn segments(s: &str) -> Result<String> {
    let parts: Result<Vec<String>> = s.split('/').map(segment).collect();
    parts
        .map(|p| p.join("/"))
        .with_context(|| format!("`{s}` is not a valid path"))
}

/// A query-string value, encoded.
pub(super) fn query(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_encode_every_reserved_character() {
        assert_eq!(segment("a b#c?d/e%f").unwrap(), "a%20b%23c%3Fd%2Fe%25f");
        assert_eq!(segments("dir/é x.yaml").unwrap(), "dir/%C3%A9%20x.yaml");
        assert!(segments("a/../b").is_err());
        assert!(segments("a//b").is_err());
        assert!(segment("").is_err());
    }

    #[test]
    fn next_link_is_found_among_other_relations() {
        let link = r#"<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=3>; rel="next", <https://api.github.com/x?page=9>; rel="last""#;
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/x?page=3")
        );
        assert_eq!(next_link(r#"<https://a/x?page=1>; rel="prev""#), None);
    }
}
