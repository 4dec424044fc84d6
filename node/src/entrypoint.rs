//! What a job runs: its entrypoint, `rustyray run <module> [flags] [-- args]` (the shell
//! command Ray's clients send), parsed into a [`JobSpec`] and checked against the
//! operator's [`JobPolicy`]. Nothing else runs: the node never hands a string to a shell,
//! and a job only gets the directories and limits the operator allowed.

use std::path::{Path, PathBuf};

use rustyray::net::{parse_net_rule, parse_ports};
use rustyray::sandbox::parse_dir_grant;
use rustyray::{DirAccess, DirGrant, NetRule, PortRange};

use crate::error::{NodeError, Result};

/// What the operator lets jobs have (`rustyray start` flags).
#[derive(Debug, Clone)]
pub struct JobPolicy {
    /// Directories jobs may be granted (`--allow-dir`), canonical.
    pub allow_dirs: Vec<DirGrant>,
    /// Linear memory each guest of a job may grow to, in MiB (`--job-memory`).
    pub memory_mib: u64,
    /// Destinations jobs may ask for (`--allow-net`): each rule a job asks for must be
    /// covered by one of these, and the job's driver runs bounded by them.
    pub allow_net: Vec<NetRule>,
    /// Ports jobs may ask to listen on (`--allow-listen`).
    pub allow_listen: Vec<PortRange>,
}

/// A parsed, allowed entrypoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// The module to run (hash, prefix or name).
    pub module: String,
    /// Flags for `rustyray run`, checked.
    pub run_flags: Vec<String>,
    /// The program's arguments.
    pub args: Vec<String>,
    /// The job's namespace (`--namespace`, Ray's `ray.init(namespace=...)`); `None`: an
    /// anonymous one of its own.
    pub namespace: Option<String>,
}

const USAGE: &str = "a job's entrypoint is `rustyray run <module sha256 or name> \
                     [--namespace NS] [--memory MIB] \
                     [--fuel N] [--task-timeout MS] [--workers N] [--max-output KIB] \
                     [--max-result KIB] [--quiet-tasks] [--dir HOST[:GUEST][:ro]] \
                     [--allow-net HOST[:PORT]] [--allow-listen PORT] [--max-connections N] \
                     [--max-sent KIB] [--max-received KIB] [--connect-timeout MS] \
                     [--read-timeout MS] [-- args]`";

/// Parses `entrypoint` and checks it against `policy`.
pub fn parse(entrypoint: &str, policy: &JobPolicy) -> Result<JobSpec> {
    let words = shlex::split(entrypoint)
        .ok_or_else(|| NodeError::BadEntrypoint(format!("unbalanced quotes; {USAGE}")))?;
    let mut words = words.into_iter();
    let program = words.next().unwrap_or_default();
    let is_rustyray = Path::new(&program)
        .file_name()
        .is_some_and(|name| name == "rustyray");
    if !is_rustyray || words.next().as_deref() != Some("run") {
        return Err(NodeError::BadEntrypoint(format!(
            "{:?} is not one the node runs; {USAGE}",
            entrypoint.chars().take(200).collect::<String>()
        )));
    }
    let mut module = None;
    let mut run_flags = Vec::new();
    let mut args = Vec::new();
    let mut memory = policy.memory_mib;
    let mut namespace = None;
    while let Some(word) = words.next() {
        if word == "--" {
            args.extend(words.by_ref());
            break;
        }
        let (flag, inline) = match word.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (word.clone(), None),
        };
        let mut value = |flag: &str| {
            inline
                .clone()
                .or_else(|| words.next())
                .ok_or_else(|| NodeError::BadEntrypoint(format!("{flag} needs a value; {USAGE}")))
        };
        match flag.as_str() {
            "--memory" => {
                let asked = number(&value("--memory")?, "--memory")?;
                if asked > policy.memory_mib {
                    return Err(NodeError::OverLimit {
                        what: "memory (MiB)",
                        asked,
                        limit: policy.memory_mib,
                        flag: "job-memory",
                    });
                }
                memory = asked;
            }
            "--fuel" | "--task-timeout" | "--workers" | "--max-output" | "--max-result"
            | "--max-connections" | "--max-sent" | "--max-received" | "--connect-timeout"
            | "--read-timeout" => {
                let amount = number(&value(&flag)?, &flag)?;
                run_flags.extend([flag.clone(), amount.to_string()]);
            }
            "--quiet-tasks" => run_flags.push(flag.clone()),
            "--namespace" => namespace = Some(check_namespace(value("--namespace")?)?),
            "--dir" => {
                let grant = parse_dir_grant(&value("--dir")?).map_err(NodeError::BadEntrypoint)?;
                let spec = allowed_dir(&grant, &policy.allow_dirs)?;
                run_flags.extend(["--dir".to_string(), spec]);
            }
            "--allow-net" => {
                let spec = value("--allow-net")?;
                let rule = parse_net_rule(&spec)
                    .map_err(|err| NodeError::BadEntrypoint(err.to_string()))?;
                if !policy.allow_net.iter().any(|bound| bound.covers(&rule)) {
                    return Err(NodeError::NetNotAllowed {
                        entry: format!("--allow-net {spec}"),
                        fix: format!("--allow-net {rule}"),
                        allowed: list_or_none(&policy.allow_net, "no network"),
                    });
                }
                run_flags.extend(["--allow-net".to_string(), rule.to_string()]);
            }
            "--allow-listen" => {
                let spec = value("--allow-listen")?;
                let ports = parse_ports(&spec).map_err(|err| {
                    NodeError::BadEntrypoint(format!("--allow-listen {spec:?}: {err}"))
                })?;
                if !policy.allow_listen.iter().any(|bound| bound.covers(&ports)) {
                    return Err(NodeError::NetNotAllowed {
                        entry: format!("--allow-listen {spec}"),
                        fix: format!("--allow-listen {ports}"),
                        allowed: list_or_none(&policy.allow_listen, "no listening port"),
                    });
                }
                run_flags.extend(["--allow-listen".to_string(), ports.to_string()]);
            }
            "--load" => {
                return Err(NodeError::BadEntrypoint(
                    "--load is not needed: every deployed module is loaded beside the job's \
                     program"
                        .into(),
                ));
            }
            "--env" | "--stdin" => {
                return Err(NodeError::BadEntrypoint(format!(
                    "{flag} is not allowed in a job (a job gets no environment and no stdin)"
                )));
            }
            other if other.starts_with('-') => {
                return Err(NodeError::BadEntrypoint(format!(
                    "unknown flag {other:?}; {USAGE}"
                )));
            }
            _ if module.is_none() => module = Some(word.clone()),
            _ => {
                return Err(NodeError::BadEntrypoint(format!(
                    "unexpected {word:?} (program arguments go after `--`); {USAGE}"
                )));
            }
        }
    }
    let module =
        module.ok_or_else(|| NodeError::BadEntrypoint(format!("no module named; {USAGE}")))?;
    run_flags.extend(["--memory".to_string(), memory.to_string()]);
    // The operator's allow-list, laid over the driver as a bound it cannot widen: even
    // a grant that slipped past the check above would pass only inside it. Always laid
    // (empty: no network at all).
    run_flags.push("--net-bounded".to_string());
    for rule in &policy.allow_net {
        run_flags.extend(["--net-bound".to_string(), rule.to_string()]);
    }
    for ports in &policy.allow_listen {
        run_flags.extend(["--listen-bound".to_string(), ports.to_string()]);
    }
    Ok(JobSpec {
        module,
        run_flags,
        args,
        namespace,
    })
}

/// A namespace a job may name: 1 to 64 letters, digits, `_`, `-` or `.`, not starting
/// with `anonymous-` (the prefix of the namespaces the node makes up).
pub fn check_namespace(namespace: String) -> Result<String> {
    let plain = !namespace.is_empty()
        && namespace.len() <= 64
        && namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !plain || namespace.starts_with(ANONYMOUS_PREFIX) {
        return Err(NodeError::BadEntrypoint(format!(
            "--namespace {:?}: use 1 to 64 letters, digits, '_', '-' or '.', not starting \
             with {ANONYMOUS_PREFIX:?}",
            namespace.chars().take(80).collect::<String>()
        )));
    }
    Ok(namespace)
}

/// The prefix of the namespace a job gets when it names none.
pub const ANONYMOUS_PREFIX: &str = "anonymous-";

/// The operator's list as the error shows it: `only A, B`, or `none` named as `what`.
fn list_or_none<T: std::fmt::Display>(items: &[T], none: &str) -> String {
    if items.is_empty() {
        none.into()
    } else {
        let items: Vec<String> = items.iter().map(ToString::to_string).collect();
        format!("only {}", items.join(", "))
    }
}

fn number(text: &str, flag: &str) -> Result<u64> {
    text.parse()
        .map_err(|_| NodeError::BadEntrypoint(format!("{flag} takes a number, not {text:?}")))
}

/// The `--dir` flag for `grant` if an allowed directory covers it (read-only if that
/// one is), else why not.
fn allowed_dir(grant: &DirGrant, allowed: &[DirGrant]) -> Result<String> {
    let asked_ro = grant.access == DirAccess::ReadOnly;
    let mode = if asked_ro { ":ro" } else { "" };
    let refuse = || NodeError::DirNotAllowed {
        path: grant.host.display().to_string(),
        mode,
        allowed: list_or_none(
            &allowed
                .iter()
                .map(|dir| {
                    let ro = if dir.access == DirAccess::ReadOnly {
                        ":ro"
                    } else {
                        ""
                    };
                    format!("{}{ro}", dir.host.display())
                })
                .collect::<Vec<_>>(),
            "no directory",
        ),
    };
    // Canonical, so `..` and symlinks cannot leave the allowed tree.
    let host: PathBuf = grant.host.canonicalize().map_err(|_| refuse())?;
    let covered = allowed
        .iter()
        .any(|dir| host.starts_with(&dir.host) && (asked_ro || dir.access == DirAccess::ReadWrite));
    if !covered {
        return Err(refuse());
    }
    Ok(format!("{}:{}{mode}", host.display(), grant.guest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_what_the_operator_allows_or_that_it_allows_nothing() {
        assert_eq!(list_or_none::<String>(&[], "no directory"), "no directory");
        assert_eq!(
            list_or_none(&["/a".to_string(), "/b:ro".to_string()], "no directory"),
            "only /a, /b:ro"
        );
        let refused = allowed_dir(
            &DirGrant {
                host: PathBuf::from("/etc"),
                guest: "/etc".into(),
                access: DirAccess::ReadOnly,
            },
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            refused.contains(
                "but the node allows no directory: start the node with --allow-dir /etc:ro"
            ),
            "{refused}"
        );
    }

    fn policy(dirs: Vec<DirGrant>) -> JobPolicy {
        JobPolicy {
            allow_dirs: dirs,
            memory_mib: 256,
            allow_net: vec![parse_net_rule("127.0.0.1:7000-7099").unwrap()],
            allow_listen: vec![parse_ports("9000").unwrap()],
        }
    }

    #[test]
    fn parses_a_run() {
        let spec = parse("rustyray run tasks --fuel 100 -- 20 'a b'", &policy(vec![])).unwrap();
        assert_eq!(spec.module, "tasks");
        assert_eq!(
            spec.run_flags,
            [
                "--fuel",
                "100",
                "--memory",
                "256",
                "--net-bounded",
                "--net-bound",
                "127.0.0.1:7000-7099",
                "--listen-bound",
                "9000"
            ]
        );
        assert_eq!(spec.args, ["20", "a b"]);
    }

    #[test]
    fn refuses_what_is_not_a_run() {
        for bad in [
            "python script.py",
            "rustyray inspect x",
            "rustyray run",
            "rustyray run x --env HOME",
            "rustyray run x --memory 99999",
            "rustyray run x --load y",
            "rustyray run x y",
            "rustyray run x --dir /etc",
            "rustyray run 'x",
        ] {
            assert!(parse(bad, &policy(vec![])).is_err(), "{bad}");
        }
    }

    #[test]
    fn network_must_be_within_the_operators_list() {
        let spec = parse(
            "rustyray run x --allow-net 127.0.0.1:7005 --allow-listen 9000",
            &policy(vec![]),
        )
        .unwrap();
        assert_eq!(
            spec.run_flags[..4],
            ["--allow-net", "127.0.0.1:7005", "--allow-listen", "9000"]
        );
        for (bad, fix) in [
            ("--allow-net 127.0.0.1:8000", "--allow-net 127.0.0.1:8000"),
            ("--allow-net 127.0.0.1", "--allow-net 127.0.0.1:*"),
            ("--allow-net localhost:7000", "--allow-net localhost:7000"),
            ("--allow-listen 9001", "--allow-listen 9001"),
        ] {
            let err = parse(&format!("rustyray run x {bad}"), &policy(vec![])).unwrap_err();
            assert_eq!(err.kind(), "net_not_allowed", "{bad}");
            assert_eq!(err.status(), 400);
            let message = err.to_string();
            assert!(message.contains(bad), "{message}");
            assert!(
                message.contains(&format!("rustyray start {fix}")),
                "{message}"
            );
        }
        for hidden in ["--net-bound *", "--listen-bound 1-65535", "--net-bounded"] {
            assert!(
                parse(&format!("rustyray run x {hidden}"), &policy(vec![])).is_err(),
                "{hidden}"
            );
        }
    }

    #[test]
    fn dirs_must_be_allowed() {
        let tmp = std::env::temp_dir().canonicalize().unwrap();
        let ro = vec![DirGrant {
            host: tmp.clone(),
            guest: "/tmp".into(),
            access: DirAccess::ReadOnly,
        }];
        let spec = format!("rustyray run x --dir {}:/data:ro", tmp.display());
        assert!(parse(&spec, &policy(ro.clone())).is_ok());
        let rw = format!("rustyray run x --dir {}:/data", tmp.display());
        assert!(matches!(
            parse(&rw, &policy(ro)),
            Err(NodeError::DirNotAllowed { .. })
        ));
    }
}
