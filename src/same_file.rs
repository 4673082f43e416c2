//! Refusing runs that would write over what they read.
//!
//! `redactor filter -o events.ndjson events.ndjson` would truncate its
//! input before reading a line of it, and with its output appended to its
//! input (`redactor filter events.ndjson >>events.ndjson`) it would read
//! its own output back without end. Both are refused before anything is
//! opened for writing, with exit status 2. Files are compared by identity
//! (device and inode), so a symbolic or hard link to an input is caught
//! too. Only regular files are compared: a terminal, a pipe or `/dev/null`
//! may be read and written in the same run without harm.

use std::fs::{File, Metadata};
use std::path::Path;

use crate::UsageError;

/// A file a run reads or writes, as its messages name it, with its
/// identity when it is an existing regular file.
pub(crate) struct Named {
    label: String,
    id: Option<(u64, u64)>,
}

impl Named {
    /// The file at `p` (followed through links), named `what p`.
    pub(crate) fn path(what: &str, p: &Path) -> Named {
        Named {
            label: format!("{what} {}", p.display()),
            id: std::fs::metadata(p).ok().as_ref().and_then(identity),
        }
    }

    /// A file this run has opened, named `what p`.
    pub(crate) fn file(what: &str, p: &Path, f: &File) -> Named {
        Named {
            label: format!("{what} {}", p.display()),
            id: f.metadata().ok().as_ref().and_then(identity),
        }
    }

    /// The files `policy` was read from (its own file and its key files).
    pub(crate) fn policy_files(policy: &redactor_core::Policy) -> impl Iterator<Item = Named> + '_ {
        policy
            .files
            .iter()
            .map(|p| Named::path("the policy's file", p))
    }

    /// Standard input.
    pub(crate) fn stdin() -> Named {
        Named {
            label: "standard input".into(),
            id: descriptor_id(std::io::stdin()),
        }
    }

    /// Standard output.
    pub(crate) fn stdout() -> Named {
        Named {
            label: STDOUT.into(),
            id: descriptor_id(std::io::stdout()),
        }
    }

    /// Whether both are one regular file; never for files without an
    /// identity (missing, devices, pipes).
    fn same_file_as(&self, other: &Named) -> bool {
        self.id.is_some() && self.id == other.id
    }
}

/// How messages name standard output.
const STDOUT: &str = "standard output";

/// The identity of the file open on a standard stream's descriptor
/// (through a duplicate of it).
#[cfg(unix)]
fn descriptor_id(stream: impl std::os::fd::AsFd) -> Option<(u64, u64)> {
    let file = File::from(stream.as_fd().try_clone_to_owned().ok()?);
    identity(&file.metadata().ok()?)
}

#[cfg(not(unix))]
fn descriptor_id<T>(_: T) -> Option<(u64, u64)> {
    None
}

/// Device and inode of a regular file; `None` for anything else, and on
/// systems without inodes (where nothing is compared).
fn identity(meta: &Metadata) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        meta.is_file().then(|| (meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Refuses a run in which a file written is also a file read: writing
/// would truncate the input, or append to it while it is being read.
///
/// # Errors
///
/// A [`UsageError`] naming the first such pair.
pub(crate) fn refuse_overwrite(reads: &[Named], writes: &[Named]) -> Result<(), UsageError> {
    for w in writes {
        if let Some(r) = reads.iter().find(|r| r.same_file_as(w)) {
            // A shell's `>` has emptied the file before the run began.
            let shell = if w.label == STDOUT {
                " by redactor (a shell's `>` empties the file before redactor starts)"
            } else {
                ""
            };
            return Err(UsageError(format!(
                "{} is the same file as {}: writing it would destroy it or read it back without end; nothing was written{shell}",
                w.label, r.label
            )));
        }
    }
    Ok(())
}

/// Refuses a run that would write two of its outputs into one file, where
/// their lines would overwrite each other.
///
/// # Errors
///
/// A [`UsageError`] naming the first such pair.
pub(crate) fn refuse_shared(writes: &[Named]) -> Result<(), UsageError> {
    for (i, a) in writes.iter().enumerate() {
        if let Some(b) = writes[i + 1..].iter().find(|b| b.same_file_as(a)) {
            return Err(UsageError(format!(
                "{} and {} are the same file: their lines would overwrite each other",
                a.label, b.label
            )));
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::{refuse_overwrite, refuse_shared, Named};

    fn temp(name: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("redactor-same-{}-{name}", std::process::id()));
        std::fs::write(&p, b"{}\n").unwrap();
        p
    }

    #[test]
    fn links_to_one_file_are_the_same_file_and_devices_never_are() {
        let a = temp("a");
        let b = temp("b");
        let link = std::env::temp_dir().join(format!("redactor-same-{}-link", std::process::id()));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&a, &link).unwrap();
        let reads = [Named::path("input", &a)];
        let err = refuse_overwrite(&reads, &[Named::path("--output", &link)]).unwrap_err();
        assert!(
            err.0.starts_with(&format!(
                "--output {} is the same file as input {}",
                link.display(),
                a.display()
            )),
            "{}",
            err.0
        );
        assert!(refuse_overwrite(&reads, &[Named::path("--output", &b)]).is_ok());
        // Missing files and devices have no identity to compare.
        let missing = std::path::Path::new("/nonexistent/redactor-same");
        assert!(refuse_overwrite(
            &[Named::path("input", missing)],
            &[Named::path("--output", missing)]
        )
        .is_ok());
        let null = std::path::Path::new("/dev/null");
        if null.exists() {
            assert!(refuse_overwrite(
                &[Named::path("input", null)],
                &[Named::path("--output", null)]
            )
            .is_ok());
        }
        let f = std::fs::File::open(&b).unwrap();
        let err = refuse_shared(&[
            Named::path("--output", &a),
            Named::file("--quarantine", &b, &f),
            Named::path("--json", &b),
        ])
        .unwrap_err();
        assert!(
            err.0.starts_with(&format!(
                "--quarantine {} and --json {}",
                b.display(),
                b.display()
            )),
            "{}",
            err.0
        );
        assert!(
            refuse_shared(&[Named::path("--output", &a), Named::path("--quarantine", &b)]).is_ok()
        );
        for p in [a, b, link] {
            let _ = std::fs::remove_file(p);
        }
    }
}
