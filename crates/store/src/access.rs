//! Confinement: which keys a [`Store`](crate::Store) handle may read and write.
//!
//! A function's store handle is confined ([`Store::confined`](crate::Store::confined)) so that
//! nothing a request says — a key in a stage's input, a run id — can reach outside what the
//! function may touch. An [`Access`] holds two [`Rules`], one for reads and one for writes: a
//! list of key prefixes, each allowed or denied, where **the longest prefix that matches a key
//! decides** and a key no prefix matches is denied. So `allow ""`, `deny runs`,
//! `allow runs/r-1` reads everything but the scratch of runs other than `r-1`.
//!
//! Operations denied by the rules may still be allowed by prefixes loaded on first need
//! ([`Access::with_lazy`]): a stage's run declares its datasets and its model in a record the
//! stage reads only when it touches something outside its scratch.
//!
//! A listing is allowed when its prefix is, and returns only the keys the rules allow; a
//! prefix deletion deletes only allowed keys.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use object_store::path::Path;
use tokio::sync::OnceCell;

/// Whether `key` is `prefix` or lies under it (the empty prefix matches every key).
pub fn under(key: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || key == prefix
        || (key.len() > prefix.len()
            && key.starts_with(prefix)
            && key.as_bytes()[prefix.len()] == b'/')
}

/// Prefixes allowed or denied; the longest match decides, no match denies.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    entries: Vec<(String, bool)>,
}

impl Rules {
    /// No key allowed.
    pub fn none() -> Self {
        Self::default()
    }

    /// Allows `prefix` and everything under it (unless a longer denied prefix says otherwise).
    pub fn allow(mut self, prefix: impl Into<String>) -> Self {
        self.entries.push((clean(prefix.into()), true));
        self
    }

    /// Denies `prefix` and everything under it (unless a longer allowed prefix says otherwise).
    pub fn deny(mut self, prefix: impl Into<String>) -> Self {
        self.entries.push((clean(prefix.into()), false));
        self
    }

    /// Whether `key` is allowed: the longest matching prefix decides (a tie denies).
    pub fn allows(&self, key: &str) -> bool {
        let mut best: Option<(usize, bool)> = None;
        for (prefix, allowed) in &self.entries {
            if under(key, prefix) {
                best = match best {
                    Some((len, prev)) if len > prefix.len() => Some((len, prev)),
                    Some((len, prev)) if len == prefix.len() => Some((len, prev && *allowed)),
                    _ => Some((prefix.len(), *allowed)),
                };
            }
        }
        best.is_some_and(|(_, allowed)| allowed)
    }

    /// The allowed prefixes, for messages (`""` shown as `everything`).
    fn allowed_list(&self) -> String {
        let allowed: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, a)| *a)
            .map(|(p, _)| {
                if p.is_empty() {
                    "everything".to_string()
                } else {
                    format!("{p}/")
                }
            })
            .collect();
        if allowed.is_empty() {
            "nothing".to_string()
        } else {
            allowed.join(", ")
        }
    }
}

/// `prefix` without leading or trailing slashes (no copy when it has none: rules are built
/// for every invocation).
fn clean(prefix: String) -> String {
    if prefix.starts_with('/') || prefix.ends_with('/') {
        prefix.trim_matches('/').to_string()
    } else {
        prefix
    }
}

/// Prefixes allowed beyond the rules, loaded on first need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LazyPrefixes {
    /// More prefixes that may be read.
    pub read: Vec<String>,
    /// More prefixes that may be written.
    pub write: Vec<String>,
}

/// Loads a [`LazyPrefixes`] on first need.
pub type PrefixLoader = Box<dyn Fn() -> BoxFuture<'static, LazyPrefixes> + Send + Sync>;

/// What a confined store handle may read and write, and whose handle it is (for messages).
pub struct Access {
    who: String,
    read: Rules,
    write: Rules,
    lazy: Option<(PrefixLoader, OnceCell<LazyPrefixes>)>,
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access")
            .field("who", &self.who)
            .field("read", &self.read)
            .field("write", &self.write)
            .finish_non_exhaustive()
    }
}

/// Whether an operation reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// get, head, list.
    Read,
    /// put, delete.
    Write,
}

impl Access {
    /// The access of `who` (e.g. "function 'ml-training.rf' of run 'r-1'").
    pub fn new(who: impl Into<String>, read: Rules, write: Rules) -> Self {
        Self {
            who: who.into(),
            read,
            write,
            lazy: None,
        }
    }

    /// Also allows the prefixes `loader` returns, loaded once, when an operation is outside the
    /// rules.
    pub fn with_lazy(mut self, loader: PrefixLoader) -> Self {
        self.lazy = Some((loader, OnceCell::new()));
        self
    }

    /// Who this access belongs to.
    pub fn who(&self) -> &str {
        &self.who
    }

    /// Whether `key` may be used for `op`, without loading lazy prefixes.
    fn allows_now(&self, op: Op, key: &str) -> bool {
        match op {
            Op::Read => self.read.allows(key),
            Op::Write => self.write.allows(key),
        }
    }

    /// Whether `key` may be used for `op`.
    pub async fn allows(&self, op: Op, key: &str) -> bool {
        if self.allows_now(op, key) {
            return true;
        }
        match &self.lazy {
            Some((loader, cell)) => {
                let lazy = cell.get_or_init(loader).await;
                let prefixes = match op {
                    Op::Read => &lazy.read,
                    Op::Write => &lazy.write,
                };
                prefixes.iter().any(|p| under(key, p.trim_matches('/')))
            }
            None => false,
        }
    }

    /// Why `op` on `key` is refused, for the error message.
    pub(crate) fn refusal(&self, op: Op, key: &Path) -> String {
        let (verb, rules) = match op {
            Op::Read => ("read", &self.read),
            Op::Write => ("write", &self.write),
        };
        let mut allowed = rules.allowed_list();
        let extra = self
            .lazy
            .as_ref()
            .and_then(|(_, cell)| cell.get())
            .map(|lazy| match op {
                Op::Read => &lazy.read,
                Op::Write => &lazy.write,
            });
        if let Some(extra) = extra
            && !extra.is_empty()
        {
            allowed.push_str(", and what its run declares: ");
            allowed.push_str(
                &extra
                    .iter()
                    .map(|p| format!("{}/", p.trim_matches('/')))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        format!(
            "{} may not {verb} '{key}' (it may {verb} only {allowed})",
            self.who
        )
    }
}

/// Shared handle to an [`Access`].
pub type SharedAccess = Arc<Access>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_decides() {
        let rules = Rules::none().allow("").deny("runs").allow("runs/r-1");
        assert!(rules.allows("mnist-2k/x.png"));
        assert!(rules.allows("runs/r-1/a"));
        assert!(rules.allows("runs/r-1"));
        assert!(!rules.allows("runs/r-2/a"));
        assert!(!rules.allows("runs"));
        assert!(!rules.allows("runs/r-10/a"), "r-10 is not under r-1");
        assert!(rules.allows("runsx/a"), "runsx is not under runs");
        let none = Rules::none();
        assert!(!none.allows("a"));
        let tie = Rules::none().allow("a").deny("a");
        assert!(!tie.allows("a/b"));
    }

    #[tokio::test]
    async fn lazy_reads_load_once_and_only_when_needed() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let loads = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&loads);
        let access = Access::new(
            "f",
            Rules::none().allow("runs/r"),
            Rules::none().allow("runs/r"),
        )
        .with_lazy(Box::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            Box::pin(async {
                LazyPrefixes {
                    read: vec!["mnist-2k/".to_string()],
                    write: vec!["models/m".to_string()],
                }
            })
        }));
        assert!(access.allows(Op::Read, "runs/r/a").await);
        assert_eq!(loads.load(Ordering::Relaxed), 0);
        assert!(access.allows(Op::Read, "mnist-2k/a.png").await);
        assert!(!access.allows(Op::Read, "secret/a").await);
        assert!(!access.allows(Op::Write, "mnist-2k/a.png").await);
        assert!(access.allows(Op::Write, "models/m/model.safetensors").await);
        assert!(
            !access
                .allows(Op::Write, "models/m2/model.safetensors")
                .await
        );
        assert_eq!(loads.load(Ordering::Relaxed), 1);
        let message = access.refusal(Op::Read, &Path::from("secret/a"));
        assert!(message.contains("may not read 'secret/a'"), "{message}");
        assert!(message.contains("mnist-2k/"), "{message}");
    }
}
