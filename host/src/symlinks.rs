//! Symlinks a guest creates stay inside its grant.
//!
//! cap-std keeps a guest's *own* path lookups inside a granted directory, but
//! `symlink-at` stores whatever target the guest names: `out/link -> ../../etc`
//! is refused when the guest follows it, yet it is there for the host, for other
//! programs and for a later run with a wider grant. So `symlink-at` is replaced
//! (linker shadowing) by one that refuses, with `not-permitted`, a target that is
//! empty, absolute or climbs with `..`, and otherwise does what WASI's would. A
//! target without `..` can only go down from wherever the link is, so it stays
//! inside the grant even if the link is later moved; links that climb within a
//! grant are refused too, the price of a rule that needs no knowledge of where in
//! the grant the descriptor is.

use std::path::{Component, Path};

use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::filesystem::types::{ErrorCode, HostDescriptor};

use crate::error::{RayError, Result};

/// The interface whose `symlink-at` is replaced (guests of any 0.2.x match it).
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";

/// Whether a symlink with this target, wherever it is created, points inside the
/// directory that holds it.
pub(crate) fn target_stays_inside(target: &str) -> bool {
    let path = Path::new(target);
    !target.is_empty()
        && path
            .components()
            .all(|part| matches!(part, Component::Normal(_) | Component::CurDir))
}

/// Replaces WASI's `symlink-at` in `linker` with the checked one.
pub(crate) fn guard_symlinks<T: WasiView + 'static>(linker: &mut Linker<T>) -> Result<()> {
    linker.allow_shadowing(true);
    let replaced = linker.instance(FILESYSTEM_TYPES).and_then(|mut instance| {
        instance.func_wrap_async(
            "[method]descriptor.symlink-at",
            |mut store, (fd, target, link): (Resource<Descriptor>, String, String)| {
                Box::new(async move {
                    if !target_stays_inside(&target) {
                        return Ok((Err(ErrorCode::NotPermitted),));
                    }
                    let mut view = store.data_mut().filesystem();
                    match HostDescriptor::symlink_at(&mut view, fd, target, link).await {
                        Ok(()) => Ok((Ok(()),)),
                        Err(err) => Ok((Err(err.downcast()?),)),
                    }
                })
            },
        )
    });
    linker.allow_shadowing(false);
    replaced.map_err(|err| RayError::Internal(format!("guarding symlink-at: {err:#}")))
}

#[cfg(test)]
mod tests {
    use super::target_stays_inside;

    #[test]
    fn only_downward_relative_targets_are_allowed() {
        for ok in ["file", "sub/file", "./sub/./file", "a/b/c"] {
            assert!(target_stays_inside(ok), "{ok}");
        }
        for refused in [
            "",
            "/etc/passwd",
            "..",
            "../x",
            "sub/../../x",
            "sub/..",
            "a/../b",
        ] {
            assert!(!target_stays_inside(refused), "{refused}");
        }
    }
}
