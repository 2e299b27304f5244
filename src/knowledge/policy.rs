//! Site policy: allow or deny rules that override the knowledge base.
//!
//! # Rule syntax (CLI `--allow SPEC` / `--deny SPEC`)
//!
//! `PORT[/PROTO][@SCOPE]`
//!
//! - `PORT`: 0-65535.
//! - `PROTO`: `tcp` or `udp`; omitted = both.
//! - `SCOPE`: the *server* address the rule applies to: an IPv4/IPv6 host
//!   (`10.0.0.5`, `fd00::1`) or subnet in CIDR form (`10.0.0.0/8`,
//!   `fd00::/8`); omitted = any server. Host bits in a subnet are ignored
//!   (`10.1.2.3/8` = `10.0.0.0/8`). IPv4-mapped IPv6 server addresses match
//!   IPv4 scopes.
//!
//! Examples: `386`, `386/tcp`, `386/udp@10.0.0.0/8`, `8080/tcp@192.0.2.7`.
//!
//! # Config file (TOML)
//!
//! ```toml
//! [[allow]]
//! port = "386/tcp"          # same syntax as the CLI, or an integer: port = 386
//! scope = "10.0.0.5"        # optional; or put it in port = "386/tcp@10.0.0.5"
//! note = "legacy ASA router in the lab"
//!
//! [[deny]]
//! port = 8080
//! transport = "tcp"         # optional alternative to "/tcp"
//! note = "no web proxies here"
//! ```
//!
//! # Actions
//!
//! - `deny`: the pair is treated as a ghost port (class override) for that scope.
//! - `allow`: findings for the pair are suppressed (the caller counts them per rule).
//!
//! # Precedence (`Policy::evaluate`)
//!
//! Among the rules matching port, transport and server address:
//! 1. the most specific scope wins: longer prefix beats shorter, any scope
//!    (no `@`) is least specific; a host (/32, /128) is most specific;
//! 2. at equal scope, a rule naming the transport beats one for both;
//! 3. at equal specificity, deny beats allow;
//! 4. then the rule given first wins (CLI rules are added before config file rules
//!    if the caller adds them first).

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::{Deserialize, Serialize, Serializer};

use crate::Transport;

/// What a rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Deny,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
        }
    }
}

fn ser_scope<S: Serializer>(scope: &Option<IpNet>, s: S) -> Result<S::Ok, S::Error> {
    match scope {
        Some(n) => s.serialize_some(&n.to_string()),
        None => s.serialize_none(),
    }
}

/// One allow/deny rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub action: Action,
    pub port: u16,
    /// `None` = tcp and udp.
    pub transport: Option<Transport>,
    /// Server host or subnet; `None` = any server.
    #[serde(serialize_with = "ser_scope")]
    pub scope: Option<IpNet>,
    pub note: String,
    /// "--allow", "--deny" or "config file PATH line N".
    pub origin: String,
}

impl Rule {
    /// A rule from a CLI spec; origin "--allow" / "--deny", empty note.
    pub fn parse_cli(spec: &str, action: Action) -> Result<Rule, PolicyError> {
        let origin = format!("--{}", action.as_str());
        let (port, transport, scope) = parse_spec(spec, &origin)?;
        Ok(Rule {
            action,
            port,
            transport,
            scope,
            note: String::new(),
            origin,
        })
    }

    pub fn is_deny(&self) -> bool {
        self.action == Action::Deny
    }

    /// The rule in CLI syntax, e.g. "deny 386/udp@10.0.0.0/8".
    pub fn spec(&self) -> String {
        let mut s = format!("{} {}", self.action.as_str(), self.port);
        if let Some(t) = self.transport {
            s.push('/');
            s.push_str(t.as_str());
        }
        if let Some(n) = self.scope {
            s.push('@');
            if n.prefix_len() == n.max_prefix_len() {
                s.push_str(&n.addr().to_string());
            } else {
                s.push_str(&n.to_string());
            }
        }
        s
    }

    fn matches(&self, port: u16, t: Transport, ip: IpAddr) -> bool {
        self.port == port
            && self.transport.is_none_or(|x| x == t)
            && self.scope.is_none_or(|n| n.contains(&ip))
    }

    /// Does the rule name this port and transport (any scope)?
    pub fn names(&self, port: u16, t: Transport) -> bool {
        self.port == port && self.transport.is_none_or(|x| x == t)
    }

    /// (scope specificity, transport named, deny) — larger wins.
    fn rank(&self) -> (u16, bool, bool) {
        let scope = self.scope.map_or(0, |n| u16::from(n.prefix_len()) + 1);
        (scope, self.transport.is_some(), self.action == Action::Deny)
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.spec())
    }
}

/// Error in a rule spec or config file; says where and what to write instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error(
        "{origin}: '{spec}' is not a port rule: {message} (expected PORT[/tcp|/udp][@HOST-OR-CIDR], e.g. 386/udp@10.0.0.0/8)"
    )]
    Spec {
        origin: String,
        spec: String,
        message: String,
    },
    #[error("{origin}: {message}")]
    Config { origin: String, message: String },
}

/// Parsed `PORT[/PROTO][@SCOPE]`.
pub type ParsedSpec = (u16, Option<Transport>, Option<IpNet>);

/// Parse a rule spec (see the module docs).
pub fn parse_spec(spec: &str, origin: &str) -> Result<ParsedSpec, PolicyError> {
    let fail = |message: String| PolicyError::Spec {
        origin: origin.to_owned(),
        spec: spec.escape_debug().to_string(),
        message,
    };
    let s = spec.trim();
    let (pp, scope) = match s.split_once('@') {
        Some((a, b)) => (a, Some(parse_scope(b).map_err(fail)?)),
        None => (s, None),
    };
    let (p, proto) = match pp.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (pp, None),
    };
    let port = p
        .trim()
        .parse::<u16>()
        .map_err(|_| fail(format!("'{}' is not a port number 0-65535", p.trim())))?;
    let transport = match proto.map(|x| x.trim().to_ascii_lowercase()) {
        None => None,
        Some(x) if x == "tcp" => Some(Transport::Tcp),
        Some(x) if x == "udp" => Some(Transport::Udp),
        Some(x) => return Err(fail(format!("'{x}' is not tcp or udp"))),
    };
    Ok((port, transport, scope))
}

fn parse_scope(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip.to_canonical()));
    }
    s.parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|_| format!("scope '{s}' is not an IP address or CIDR subnet"))
}

/// A set of rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    allow: Vec<toml::Spanned<ConfigRule>>,
    #[serde(default)]
    deny: Vec<toml::Spanned<ConfigRule>>,
    /// `[scan]` defaults: read by the command line (`cli::config`), not here.
    #[serde(default, rename = "scan")]
    _scan: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PortValue {
    Int(i64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigRule {
    port: PortValue,
    #[serde(default)]
    transport: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    note: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |s| s.matches('\n').count()) + 1
}

impl Policy {
    pub fn new() -> Policy {
        Policy::default()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn push(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    /// Append the rules of `other` (they rank after existing rules on ties).
    pub fn extend(&mut self, other: Policy) {
        self.rules.extend(other.rules);
    }

    /// Add a rule from a CLI spec; origin becomes "--allow" / "--deny".
    pub fn add_cli(&mut self, action: Action, spec: &str, note: &str) -> Result<(), PolicyError> {
        let mut rule = Rule::parse_cli(spec, action)?;
        rule.note = note.to_owned();
        self.rules.push(rule);
        Ok(())
    }

    /// Rule by index (as returned by [`Policy::evaluate_index`]).
    pub fn rule(&self, index: usize) -> Option<&Rule> {
        self.rules.get(index)
    }

    /// True when some rule names this port and transport, whatever its scope
    /// (callers use it to decide which flows need a closer look).
    pub fn mentions(&self, port: u16, t: Transport) -> bool {
        self.rules.iter().any(|r| r.names(port, t))
    }

    /// Same as [`Policy::from_toml_str`].
    pub fn from_toml(text: &str, name: &str) -> Result<Policy, PolicyError> {
        Policy::from_toml_str(text, name)
    }

    /// Parse a TOML policy; `name` (usually the path) is used in origins and errors.
    pub fn from_toml_str(text: &str, name: &str) -> Result<Policy, PolicyError> {
        let file_origin = format!("config file {name}");
        let cfg: ConfigFile = toml::from_str(text).map_err(|e| PolicyError::Config {
            origin: file_origin.clone(),
            message: format!(
                "{}; expected [[allow]] / [[deny]] tables with port = \"386/tcp\" and optional scope, transport, note (and an optional [scan] table)",
                e.to_string().trim_end()
            ),
        })?;
        let mut policy = Policy::new();
        let tagged = cfg
            .allow
            .into_iter()
            .map(|r| (Action::Allow, r))
            .chain(cfg.deny.into_iter().map(|r| (Action::Deny, r)));
        let mut with_lines = Vec::new();
        for (action, spanned) in tagged {
            let line = line_of(text, spanned.span().start);
            with_lines.push((line, action, spanned.into_inner()));
        }
        with_lines.sort_by_key(|(line, _, _)| *line);
        for (line, action, r) in with_lines {
            let origin = format!("{file_origin} line {line}");
            let spec = match r.port {
                PortValue::Int(n) => n.to_string(),
                PortValue::Text(s) => s,
            };
            let (port, mut transport, mut scope) = parse_spec(&spec, &origin)?;
            if let Some(t) = r.transport {
                let parsed = parse_spec(&format!("{port}/{t}"), &origin)?.1;
                if transport.is_some() && transport != parsed {
                    return Err(PolicyError::Config {
                        origin,
                        message: format!(
                            "transport = \"{t}\" contradicts port = \"{spec}\"; keep one"
                        ),
                    });
                }
                transport = parsed;
            }
            if let Some(s) = r.scope {
                if scope.is_some() {
                    return Err(PolicyError::Config {
                        origin,
                        message: format!(
                            "scope given twice (port = \"{spec}\" and scope = \"{s}\"); keep one"
                        ),
                    });
                }
                scope = Some(parse_scope(&s).map_err(|m| PolicyError::Config {
                    origin: origin.clone(),
                    message: m,
                })?);
            }
            policy.rules.push(Rule {
                action,
                port,
                transport,
                scope,
                note: r.note,
                origin,
            });
        }
        Ok(policy)
    }

    /// Read and parse a TOML policy file.
    pub fn load_toml_file(path: &Path) -> Result<Policy, PolicyError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Config {
            origin: format!("config file {name}"),
            message: format!("cannot read it: {e}"),
        })?;
        Policy::from_toml_str(&text, &name)
    }

    /// The deciding rule for a flow to `server_ip` on port/transport, if any
    /// (precedence in the module docs).
    pub fn evaluate(&self, port: u16, t: Transport, server_ip: IpAddr) -> Option<&Rule> {
        self.evaluate_index(port, t, server_ip).map(|(_, r)| r)
    }

    /// Like [`Policy::evaluate`], with the rule's index (for per-rule counters).
    pub fn evaluate_index(
        &self,
        port: u16,
        t: Transport,
        server_ip: IpAddr,
    ) -> Option<(usize, &Rule)> {
        let ip = server_ip.to_canonical();
        let mut best: Option<(usize, &Rule)> = None;
        for (i, r) in self.rules.iter().enumerate() {
            if r.matches(port, t, ip) && best.is_none_or(|(_, b)| r.rank() > b.rank()) {
                best = Some((i, r));
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Transport::{Tcp, Udp};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn spec_syntax() {
        assert_eq!(parse_spec("386", "t"), Ok((386, None, None)));
        assert_eq!(parse_spec("386/TCP", "t"), Ok((386, Some(Tcp), None)));
        let (_, t, s) = parse_spec("386/udp@10.1.2.3/8", "t").unwrap_or((0, None, None));
        assert_eq!(t, Some(Udp));
        assert_eq!(s.map(|n| n.to_string()).as_deref(), Some("10.0.0.0/8"));
        let (_, _, s) = parse_spec("53@fd00::1", "t").unwrap_or((0, None, None));
        assert_eq!(s.map(|n| n.to_string()).as_deref(), Some("fd00::1/128"));
        for bad in [
            "",
            "38x",
            "70000",
            "386/sctp",
            "386@10.0.0.0/33",
            "386@host.example",
        ] {
            assert!(parse_spec(bad, "--allow").is_err(), "{bad}");
        }
        let e = parse_spec("386/tpc", "--deny")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with("--deny: '386/tpc' is not a port rule: 'tpc' is not tcp or udp"),
            "{e}"
        );
    }

    #[test]
    fn precedence_scope_then_transport_then_deny() {
        let mut p = Policy::new();
        let add = |p: &mut Policy, a, s| p.add_cli(a, s, "").is_ok();
        assert!(add(&mut p, Action::Allow, "386"));
        assert!(add(&mut p, Action::Deny, "386@10.0.0.0/8"));
        assert!(add(&mut p, Action::Allow, "386/tcp@10.0.0.5"));
        assert!(add(&mut p, Action::Allow, "386/udp@10.0.0.0/8"));
        let win = |port, t, a: &str| p.evaluate(port, t, ip(a)).map(|r| r.spec());
        // no scope matches outside 10/8: global allow
        assert_eq!(win(386, Tcp, "192.0.2.1").as_deref(), Some("allow 386"));
        // /8 deny beats the global allow
        assert_eq!(
            win(386, Tcp, "10.9.9.9").as_deref(),
            Some("deny 386@10.0.0.0/8")
        );
        // host rule beats /8
        assert_eq!(
            win(386, Tcp, "10.0.0.5").as_deref(),
            Some("allow 386/tcp@10.0.0.5")
        );
        assert_eq!(
            win(386, Udp, "10.0.0.5").as_deref(),
            Some("allow 386/udp@10.0.0.0/8")
        );
        // equal scope: transport-specific allow beats both-transport deny
        assert_eq!(
            win(386, Udp, "10.1.1.1").as_deref(),
            Some("allow 386/udp@10.0.0.0/8")
        );
        // other port: nothing
        assert_eq!(win(387, Tcp, "10.0.0.5"), None);
        // IPv4-mapped IPv6 server address matches the IPv4 scope
        assert_eq!(
            win(386, Tcp, "::ffff:10.0.0.5").as_deref(),
            Some("allow 386/tcp@10.0.0.5")
        );
        assert_eq!(win(386, Tcp, "fd00::1").as_deref(), Some("allow 386"));
    }

    #[test]
    fn deny_beats_allow_at_equal_specificity() {
        let mut p = Policy::new();
        assert!(p.add_cli(Action::Allow, "386/tcp@10.0.0.0/8", "a").is_ok());
        assert!(p.add_cli(Action::Deny, "386/tcp@10.0.0.0/8", "d").is_ok());
        let r = p.evaluate(386, Tcp, ip("10.2.3.4"));
        assert_eq!(r.map(|r| r.action), Some(Action::Deny));
        assert_eq!(r.map(|r| r.origin.as_str()), Some("--deny"));
        assert_eq!(
            p.evaluate_index(386, Tcp, ip("10.2.3.4")).map(|(i, _)| i),
            Some(1)
        );
        assert!(p.rule(1).is_some_and(Rule::is_deny));
        assert!(p.mentions(386, Tcp) && !p.mentions(386, Udp) && !p.mentions(387, Tcp));
        let r = Rule::parse_cli("53/udp@fd00::/8", Action::Allow);
        assert_eq!(
            r.map(|r| r.to_string()).ok().as_deref(),
            Some("allow 53/udp@fd00::/8")
        );
    }

    #[test]
    fn toml_config() {
        let text = r#"
# site policy
[[allow]]
port = "386/tcp"
note = "lab ASA router"
scope = "10.0.0.5"

[[deny]]
port = 8080
transport = "tcp"
note = "no proxies"

[[allow]]
port = "53/udp@192.0.2.0/24"
"#;
        let p = match Policy::from_toml_str(text, "site.toml") {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(p.rules().len(), 3);
        let r0 = &p.rules()[0];
        assert_eq!(r0.spec(), "allow 386/tcp@10.0.0.5");
        assert_eq!(r0.note, "lab ASA router");
        assert_eq!(r0.origin, "config file site.toml line 3");
        assert_eq!(p.rules()[1].spec(), "deny 8080/tcp");
        assert_eq!(p.rules()[1].origin, "config file site.toml line 8");
        assert_eq!(p.rules()[2].origin, "config file site.toml line 13");
        let json = serde_json::to_string(r0).unwrap_or_default();
        assert!(json.contains("\"scope\":\"10.0.0.5/32\""), "{json}");
    }

    #[test]
    fn toml_errors_are_located() {
        let e = Policy::from_toml_str("[[allow]]\nport = \"38x\"\n", "p.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with("config file p.toml line 1: '38x' is not a port rule"),
            "{e}"
        );
        let e = Policy::from_toml_str("[[allow]]\nprot = 386\n", "p.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("config file p.toml") && e.contains("prot"),
            "{e}"
        );
        let e = Policy::from_toml_str(
            "[[deny]]\nport = \"386@10.0.0.1\"\nscope = \"10.0.0.2\"\n",
            "p.toml",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("scope given twice"), "{e}");
        assert!(Policy::from_toml_str("[[allow]]\nport = 70000\n", "p").is_err());
        assert!(
            Policy::from_toml_str("[[allow]]\nport = \"1\"\ntransport = \"sctp\"\n", "p").is_err()
        );
        assert!(Policy::load_toml_file(Path::new("/nonexistent/ghostport.toml")).is_err());
    }

    #[test]
    fn toml_scan_table_is_left_to_the_cli() {
        let text = "[scan]\nmax_flows = 5\n\n[[allow]]\nport = 386\n";
        let p = Policy::from_toml_str(text, "c.toml").map(|p| p.rules().len());
        assert_eq!(p, Ok(1));
        // other unknown tables are still refused
        assert!(Policy::from_toml_str("[scna]\nmax_flows = 5\n", "c.toml").is_err());
    }
}
