//! The provisioner port: what `apply` and `import` need from a target system, and the names a
//! target knows a role and a person by. The backends that talk to real systems implement
//! [`Provisioner`] at the edge (`portcullis_provisioners`); [`super::memory`] is the in-memory
//! reference every backend is held to.
//!
//! Pure: templates and names in, names out. No connection, no secrets.

use std::collections::BTreeSet;

use anyhow::{Result, bail};

use crate::model::{self, App, Person, Role};

/// What a write did. `Unchanged` is success: the target was already so (SPEC: every operation is
/// idempotent), and it tells `apply` that nothing needs recording as a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Changed,
    Unchanged,
    /// Handed to someone else and not done yet (the `manual` type's issue, or a command that
    /// queued the change); the text says where it waits.
    Pending(String),
}

/// One connected target system. Accounts are the names [`account_for`] renders; targets are
/// the names [`target_of`] gives a role. Every method is synchronous: backends built on async
/// crates run them on their own current-thread runtime.
pub trait Provisioner {
    /// Every member of `target`, completely, or an error: removals are computed from this
    /// listing, so a page or member that cannot be read fails the whole call. A target that does
    /// not exist is an error, not an empty set.
    fn list(&mut self, target: &str) -> Result<BTreeSet<String>>;
    /// Makes `account` a member of `target`. An account the system does not know is an error
    /// (portcullis grants access; it does not create people).
    fn add(&mut self, target: &str, account: &str) -> Result<Effect>;
    /// Ends the membership of `account` in `target`.
    fn remove(&mut self, target: &str, account: &str) -> Result<Effect>;
}

/// The name of the group, team or database role a role maps to (`roles.<r>.target`, default
/// the role id).
pub fn target_of(role: &Role) -> &str {
    role.target.as_deref().unwrap_or(&role.id.value)
}

/// The account name the app's target knows this person by: its `login` template (or the type's
/// default) rendered over the person's fields. For `ldap` the account is the value of the member
/// DN's first RDN (`uid={id},ou=people,...` gives the person's id); the backend builds and
/// escapes the DN itself.
pub fn account_for(app: &App, person: &Person) -> Result<String, String> {
    let template = match &app.provisioner {
        // GitHub logins compare case-insensitively; the team listing is lower-cased too.
        model::Provisioner::GithubTeam { login, .. } => {
            return render_login(login.as_deref().unwrap_or("{github}"), person)
                .map(|l| l.to_lowercase());
        }
        model::Provisioner::Postgres { login, .. } => login.as_deref().unwrap_or("{id}"),
        model::Provisioner::Scim { login, .. } => login.as_deref().unwrap_or("{email}"),
        model::Provisioner::Ldap { login, .. } => &MemberTemplate::parse(login)?.value,
        model::Provisioner::Manual { .. } | model::Provisioner::Command { .. } => "{id}",
    };
    render_login(template, person)
}

/// Replaces `{id}`, `{email}`, `{github}`, `{name}` and `{department}` with the person's fields.
/// An unknown placeholder, an unclosed `{`, a field the person lacks, or a result that is empty
/// or holds control characters is an error: a wrong login would provision someone else.
pub fn render_login(template: &str, person: &Person) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(len) = rest[open..].find('}') else {
            return Err(format!("login template `{template}`: unclosed `{{`"));
        };
        let field = &rest[open + 1..open + len];
        let value = match field {
            "id" => Some(person.id.value.as_str()),
            "email" => Some(person.email.as_str()),
            "github" => person.github.as_deref(),
            "name" => Some(person.name.as_str()),
            "department" => Some(person.department.as_str()),
            _ => {
                return Err(format!(
                    "login template `{template}`: unknown placeholder `{{{field}}}`; use {{id}}, {{email}}, {{github}}, {{name}} or {{department}}"
                ));
            }
        };
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Err(format!(
                "person `{}` has no `{field}`, which the login template `{template}` needs",
                person.id.value
            ));
        };
        out.push_str(value);
        rest = &rest[open + len + 1..];
    }
    out.push_str(rest);
    check_name("login", &out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The checks every backend applies to a target or account before it reaches a system:
/// non-empty, at most 1024 bytes, no control characters (NUL included).
pub fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        bail!("empty {what} name");
    }
    if name.len() > 1024 {
        bail!("{what} name of {} bytes is longer than 1024", name.len());
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        bail!(
            "{what} name {name:?} contains the control character U+{:04X}",
            c as u32
        );
    }
    Ok(())
}

/// A `login` template split into the RDN attribute, the template of its value (the account)
/// and the constant people base.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberTemplate {
    pub attr: String,
    pub value: String,
    pub base: String,
}

impl MemberTemplate {
    /// Placeholders may appear only in the first RDN's value, which must be a single
    /// `attr=value` pair; the rest is the people base, a constant DN.
    pub fn parse(login: &str) -> Result<MemberTemplate, String> {
        let bad = |why: &str| {
            Err(format!(
                "ldap `login` template `{login}` {why}; write it as `uid={{id}},ou=people,dc=example,dc=com`"
            ))
        };
        let Some((rdn, base)) = login.split_once(',') else {
            return bad("has no people base after the first `,`");
        };
        let Some((attr, value)) = rdn.split_once('=') else {
            return bad("does not start with `attribute=`");
        };
        let attr_ok = attr.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !attr_ok {
            return bad(&format!(
                "starts with `{attr}`, which is not an attribute name"
            ));
        }
        if value.is_empty() || value.contains(['\\', '+', '=', '"', '<', '>', ';', '#']) {
            return bad(
                "has an empty or escaped first value (write placeholders and plain text only)",
            );
        }
        if base.contains(['{', '}']) || parse_dn(base).is_none_or(|d| d.is_empty()) {
            return bad("has placeholders or an invalid DN after the first `,`");
        }
        Ok(MemberTemplate {
            attr: attr.to_owned(),
            value: value.to_owned(),
            base: base.to_owned(),
        })
    }

    /// The account of a member DN, or None when the DN is not `<attr>=<value>,<people base>`.
    pub fn account_of(&self, dn: &str) -> Option<String> {
        let rdns = parse_dn(dn)?;
        let base = parse_dn(&self.base)?;
        let (first, rest) = rdns.split_first()?;
        let [(attr, value)] = first.as_slice() else {
            return None;
        };
        (attr.eq_ignore_ascii_case(&self.attr) && same_dn(rest, &base)).then(|| value.clone())
    }
}

type Rdn = Vec<(String, String)>;

/// Parses an RFC 4514 DN into RDNs of (attribute, unescaped value). None for anything that is
/// not a plain string DN (including `#`-hex BER values, which never name a person here).
pub fn parse_dn(dn: &str) -> Option<Vec<Rdn>> {
    let bytes = dn.as_bytes();
    let mut rdns = Vec::new();
    let mut rdn = Vec::new();
    let mut i = 0;
    if dn.is_empty() {
        return Some(rdns);
    }
    loop {
        let eq = i + dn[i..].find('=')?;
        let attr = dn[i..eq].trim();
        if attr.is_empty() || attr.contains([',', '+']) {
            return None;
        }
        i = eq + 1;
        if bytes.get(i) == Some(&b'#') {
            return None;
        }
        let mut value = Vec::new();
        let end = loop {
            match bytes.get(i) {
                None => break None,
                Some(b',') | Some(b'+') => break Some(bytes[i]),
                Some(b'\\') => {
                    let next = *bytes.get(i + 1)?;
                    if next.is_ascii_hexdigit() {
                        let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                        value.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 3;
                    } else {
                        value.push(next);
                        i += 2;
                    }
                }
                Some(&b) => {
                    value.push(b);
                    i += 1;
                }
            }
        };
        rdn.push((attr.to_owned(), String::from_utf8(value).ok()?));
        match end {
            Some(b'+') => {}
            _ => {
                rdns.push(std::mem::take(&mut rdn));
            }
        }
        if end.is_none() {
            return Some(rdns);
        }
        i += 1;
    }
}

/// DN equality as the directory sees it for the attributes of a base (`dc`, `ou`, `o`: case
/// ignored): attribute names and values compared without case, value order within an RDN kept.
fn same_dn(a: &[Rdn], b: &[Rdn]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.len() == y.len()
                && x.iter().zip(y).all(|((xa, xv), (ya, yv))| {
                    xa.eq_ignore_ascii_case(ya) && xv.to_lowercase() == yv.to_lowercase()
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PersonType, Pos, Spanned};

    fn person(github: Option<&str>) -> Person {
        Person {
            id: Spanned {
                value: "alice".into(),
                pos: Pos::START,
            },
            item: Pos::START,
            name: "Alice Example".into(),
            email: "alice@example.com".into(),
            github: github.map(str::to_owned),
            github_id: None,
            department: "sales".into(),
            title: None,
            manager: None,
            kind: PersonType::Employee,
            leaver: false,
            end_date: None,
        }
    }

    #[test]
    fn login_templates_render_person_fields() {
        let p = person(Some("alice-gh"));
        assert_eq!(render_login("{id}", &p).unwrap(), "alice");
        assert_eq!(
            render_login("{github}:{department}", &p).unwrap(),
            "alice-gh:sales"
        );
        assert_eq!(
            render_login("x-{email}-{name}", &p).unwrap(),
            "x-alice@example.com-Alice Example"
        );
    }

    #[test]
    fn login_templates_refuse_unknown_fields_and_missing_values() {
        let p = person(None);
        let e = render_login("{github}", &p).unwrap_err();
        assert!(e.contains("has no `github`"), "{e}");
        let e = render_login("{title}", &p).unwrap_err();
        assert!(e.contains("unknown placeholder `{title}`"), "{e}");
        let e = render_login("{id", &p).unwrap_err();
        assert!(e.contains("unclosed"), "{e}");
    }

    #[test]
    fn names_with_control_characters_or_nothing_in_them_are_refused() {
        assert!(check_name("account", "").is_err());
        assert!(check_name("account", "a\0b").is_err());
        assert!(check_name("account", "a\nb").is_err());
        assert!(check_name("account", &"a".repeat(1025)).is_err());
        check_name("account", "o\"brien, x+y").unwrap();
    }
}
