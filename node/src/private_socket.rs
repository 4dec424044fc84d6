//! Where the node's private unix sockets go (detached actors, tasks): a 0700
//! directory of the data dir, or a private temporary one when that path is too long
//! for a socket address. One place, so both sockets get the same rules.

use std::path::{Path, PathBuf};

use crate::error::{NodeError, Result};

/// The longest socket path a `sockaddr_un` takes, with room for its terminator.
const MAX_SOCKET_PATH: usize = 100;

/// `dir/node.sock`, or one in a new private temporary directory named
/// `rustyray-<purpose>-<pid>-<random>` when that is too long (the second path, which the
/// caller removes on shutdown).
pub(crate) fn socket_path(dir: &Path, purpose: &str) -> Result<(PathBuf, Option<PathBuf>)> {
    let socket = dir.join("node.sock");
    if socket.as_os_str().len() <= MAX_SOCKET_PATH {
        return Ok((socket, None));
    }
    let private = std::env::temp_dir().join(format!(
        "rustyray-{purpose}-{}-{}",
        std::process::id(),
        crate::modules::hex(&crate::token::random_bytes(6))
    ));
    create_private_dir(&private)?;
    Ok((private.join("node.sock"), Some(private)))
}

/// Creates `dir` (and its parents) and makes it reachable by the node's user only.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .map_err(|err| NodeError::io(format!("creating {}", dir.display()), err))
}
