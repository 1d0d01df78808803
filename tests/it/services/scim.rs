//! A SCIM 2.0 server of our own: `scim2-server` (PyPI) in memory on a free loopback port with a
//! bearer token. Its request log shows every PATCH a test caused.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};

pub const TOKEN: &str = "test-token";

pub struct ScimServer {
    pub url: String,
    log: PathBuf,
}

pub fn server() -> &'static ScimServer {
    static SCIM: OnceLock<ScimServer> = OnceLock::new();
    SCIM.get_or_init(start)
}

fn binary() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/scim2-server");
    super::first_existing(
        std::env::var_os("PORTCULLIS_SCIM_SERVER")
            .map(PathBuf::from)
            .into_iter()
            .chain([venv]),
    )
    .unwrap_or_else(|| {
        super::missing(
            "scim2-server",
            "$PORTCULLIS_SCIM_SERVER, or .venv-test/bin/scim2-server",
        )
    })
}

fn start() -> ScimServer {
    let bin = binary();
    let dir = tempfile::Builder::new()
        .prefix("portcullis-scim")
        .tempdir()
        .unwrap();
    let log = dir.path().join("scim.log");
    let port = super::free_port();
    let log_file = std::fs::File::create(&log).unwrap();
    let child = Command::new(&bin)
        .args([
            "--hostname",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--bearer-token",
            TOKEN,
        ])
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| super::missing("scim2-server", &format!("{}: {e}", bin.display())));
    super::keep(child, libc::SIGTERM, dir);
    let s = ScimServer {
        url: format!("http://127.0.0.1:{port}"),
        log: log.clone(),
    };
    super::wait_ready("scim2-server", &log, || {
        s.get("/ServiceProviderConfig").is_some()
    });
    s
}

impl ScimServer {
    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into()
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        let mut r = Self::agent()
            .get(&format!("{}{path}", self.url))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .call()
            .ok()?;
        (r.status() == 200)
            .then(|| serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap())
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let mut r = Self::agent()
            .post(&format!("{}{path}", self.url))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .content_type("application/scim+json")
            .send(body.to_string())
            .unwrap();
        let text = r.body_mut().read_to_string().unwrap();
        assert_eq!(r.status(), 201, "POST {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    pub fn delete(&self, path: &str) {
        let r = Self::agent()
            .delete(&format!("{}{path}", self.url))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .call()
            .unwrap();
        assert_eq!(r.status(), 204, "DELETE {path}");
    }

    /// Removes a member from a group, as someone at the identity provider would.
    pub fn remove_member(&self, group: &str, user: &str) {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": format!("members[value eq \"{user}\"]")}],
        });
        let r = Self::agent()
            .patch(&format!("{}/Groups/{group}", self.url))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .content_type("application/scim+json")
            .send(body.to_string())
            .unwrap();
        assert!(
            r.status().is_success(),
            "PATCH /Groups/{group}: {}",
            r.status()
        );
    }

    /// Creates a User; returns its id.
    pub fn create_user(&self, user_name: &str) -> String {
        let u = self.post(
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name}),
        );
        u["id"].as_str().unwrap().to_owned()
    }

    /// Creates a Group with these member ids; returns its id.
    pub fn create_group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let g = self.post(
            "/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members}),
        );
        g["id"].as_str().unwrap().to_owned()
    }

    /// Member ids of a group, sorted.
    pub fn member_ids(&self, group: &str) -> Vec<String> {
        let g = self.get(&format!("/Groups/{group}")).unwrap();
        let mut ids: Vec<String> = g["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|m| m["value"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    /// PATCH requests the server has answered for this group. The server writes its access
    /// log line after the response has gone out, so the count is read until it holds still.
    pub fn patches(&self, group: &str) -> u64 {
        let needle = format!("\"PATCH /Groups/{group} ");
        let count = || {
            std::fs::read_to_string(&self.log)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(&needle))
                .count() as u64
        };
        let mut last = count();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(60));
            let now = count();
            if now == last {
                return now;
            }
            last = now;
        }
    }
}
