//! Resolving a bind-mount source beneath its mount root on the real file system,
//! refusing every symbolic link: a container that can write below a root could otherwise
//! plant `root/a/esc -> /` and have the next create mount the host's `/`. Checked with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, or a component walk with
//! `O_PATH | O_NOFOLLOW` where openat2 is missing (ENOSYS, kernels before 5.6). Fails
//! closed: a root that cannot be opened, or any error but a missing tail, refuses.

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, Mode, SFlag};
use std::os::fd::{AsFd, OwnedFd};

/// Checks that `source` (already known to be `root` or below it, as text) resolves
/// beneath `root` without a symbolic link. A tail that does not exist yet is accepted
/// once every existing component is a real directory (the engine creates the rest, and
/// no link lies on the way). `Err` says why not.
pub fn check_beneath(root: &str, source: &str) -> Result<(), String> {
    let rest = source
        .strip_prefix(root.trim_end_matches('/'))
        .unwrap_or(source)
        .trim_start_matches('/');
    let root_fd = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("mount root '{root}' cannot be opened ({e})"))?;
    if rest.is_empty() {
        return Ok(());
    }
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
    match openat2(root_fd.as_fd(), rest, how) {
        Ok(_) => Ok(()),
        // A missing tail, or no openat2: walk the components to say which one.
        Err(Errno::ENOENT) | Err(Errno::ENOSYS) => walk(root_fd, rest, source),
        Err(Errno::ELOOP) | Err(Errno::EXDEV) => Err(link_refused(source)),
        Err(e) => Err(format!("host path '{source}' cannot be resolved ({e})")),
    }
}

/// The component walk: each component opened `O_PATH | O_NOFOLLOW` from the last, a
/// symbolic link refused; the first missing component ends the walk (accepted).
fn walk(root: OwnedFd, rest: &str, source: &str) -> Result<(), String> {
    let mut dir = root;
    for component in rest.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if component == ".." {
            return Err(format!("host path '{source}' climbs with '..'"));
        }
        let fd = match openat(
            dir.as_fd(),
            component,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(format!("host path '{source}' cannot be resolved ({e})")),
        };
        let stat = fstat(fd.as_fd())
            .map_err(|e| format!("host path '{source}' cannot be resolved ({e})"))?;
        if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK {
            return Err(link_refused(source));
        }
        dir = fd;
    }
    Ok(())
}

fn link_refused(source: &str) -> String {
    format!(
        "host path '{source}' passes through a symbolic link below its mount root (links \
         are never followed: one could lead anywhere on the host)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_every_symlink_and_accepts_real_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::os::unix::fs::symlink("/", root.join("a/esc")).unwrap();
        std::os::unix::fs::symlink("b", root.join("a/inner")).unwrap();
        let root = root.to_str().unwrap();
        let at = |p: &str| check_beneath(root, &format!("{root}/{p}"));
        assert!(check_beneath(root, root).is_ok());
        assert!(at("a/b").is_ok());
        assert!(at("a/b/not-yet/deeper").is_ok(), "a missing tail");
        for bad in ["a/esc", "a/esc/etc", "a/inner", "a/esc/not-there"] {
            let e = at(bad).unwrap_err();
            assert!(e.contains("symbolic link"), "{bad}: {e}");
        }
        let e = check_beneath("/nonexistent-root", "/nonexistent-root/x").unwrap_err();
        assert!(e.contains("cannot be opened"), "{e}");
    }

    #[test]
    fn the_walk_alone_refuses_links_too() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("a/esc")).unwrap();
        let open = || {
            nix::fcntl::open(
                dir.path(),
                OFlag::O_PATH | OFlag::O_DIRECTORY,
                Mode::empty(),
            )
            .unwrap()
        };
        assert!(walk(open(), "a/esc/etc", "x")
            .unwrap_err()
            .contains("symbolic link"));
        assert!(walk(open(), "a/new/x", "x").is_ok());
        assert!(walk(open(), "a/../a", "x").unwrap_err().contains(".."));
    }
}
