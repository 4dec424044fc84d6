//! Building a JavaScript guest program into a component, for `rustyray run <dir>` when
//! the directory holds a `main.js` instead of a `Cargo.toml`.
//!
//! The JavaScript SDK (`guest-sdk-js/rustyray`), its build script and `wit/runtime.wit`
//! are compiled into this binary. The tool is
//! [componentize-js](https://github.com/bytecodealliance/ComponentizeJS) (npm), which
//! embeds the SpiderMonkey engine (StarlingMonkey) and pre-initializes it with Wizer: the
//! program's top level runs once at build time, and every instance (every task) starts
//! from that memory snapshot. componentize-js is installed with npm on first use (saying
//! so) in the tools directory ([`crate::program_build::tools_dir`]). The build script
//! checks the program's syntax, points `import ... from "rustyray"` at the SDK and runs
//! componentize-js; the component is cached by the SHA-256 of everything that goes into
//! it, as Python's are ([`crate::program_build`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::program_build::{
    Language, build_key, cached_build, default_cache, install_tool, program_files, run_builder,
    tools_dir, write_staged,
};
use rustyray::error::{RayError, Result};

/// The componentize-js release guests are built with (from npm).
pub const COMPONENTIZE_JS_VERSION: &str = "0.23.0";

const JS: Language = Language::JavaScript;

/// Where the SDK goes in the stage; a program's stack frames in it are left out of errors.
const SDK_DIR: &str = "__rustyray__";

/// The SDK's files, as `(file name, contents)`.
const SDK_FILES: &[(&str, &str)] = &[
    (
        "index.js",
        include_str!("../../guest-sdk-js/rustyray/index.js"),
    ),
    (
        "errors.js",
        include_str!("../../guest-sdk-js/rustyray/errors.js"),
    ),
    (
        "exports.js",
        include_str!("../../guest-sdk-js/rustyray/exports.js"),
    ),
    (
        "msgpack.js",
        include_str!("../../guest-sdk-js/rustyray/msgpack.js"),
    ),
    ("wit.js", include_str!("../../guest-sdk-js/rustyray/wit.js")),
];

/// The node script that checks, rewrites and componentizes the staged program.
const BUILD_SCRIPT: &str = include_str!("../../guest-sdk-js/build.mjs");

/// The contract the component is built against.
const WIT: &str = include_str!("../../wit/runtime.wit");

/// The module componentize-js starts from: it imports the program (so its
/// registrations run, at build time) and re-exports the SDK's `guest` and `driver`.
const ENTRY: &str = "__rustyray_entry__.js";

/// The program's entry file.
const MAIN: &str = "main.js";

/// Whether `dir` holds a JavaScript program (a `main.js`).
pub fn is_program(dir: &Path) -> bool {
    dir.join(MAIN).is_file()
}

/// Node: `$RUSTYRAY_NODE`, else `node`.
fn node() -> OsString {
    std::env::var_os("RUSTYRAY_NODE").unwrap_or_else(|| "node".into())
}

/// npm: `$RUSTYRAY_NPM`, else `npm`.
fn npm() -> OsString {
    std::env::var_os("RUSTYRAY_NPM").unwrap_or_else(|| "npm".into())
}

/// What to install when node or npm is missing.
const INSTALL_NODE: &str = "Node.js 18 or later with npm is needed to build JavaScript guests: \
     install it (`apt-get install nodejs npm` on Debian/Ubuntu), or set RUSTYRAY_NODE and \
     RUSTYRAY_NPM";

/// Checks that `tool --version` runs; the error names the install command otherwise.
fn check_tool(dir: &Path, tool: &OsString) -> Result<()> {
    let ran = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match ran {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(JS.error(
            dir,
            format!(
                "`{} --version` failed ({status}). {INSTALL_NODE}",
                tool.to_string_lossy()
            ),
        )),
        Err(err) => Err(JS.error(
            dir,
            format!(
                "cannot run {} ({err}). {INSTALL_NODE}",
                tool.to_string_lossy()
            ),
        )),
    }
}

/// componentize-js's directory (a `node_modules` root), installing it with npm first
/// when it is missing.
pub fn ensure_componentize_js() -> Result<PathBuf> {
    let dir = tools_dir()?.join(format!("componentize-js-{COMPONENTIZE_JS_VERSION}"));
    let announce = format!(
        "first JavaScript build: installing componentize-js {COMPONENTIZE_JS_VERSION} \
         (from npm, about 400 MB with its engine)"
    );
    install_tool(&dir, COMPONENTIZE_JS_VERSION, &announce, |partial| {
        check_tool(&dir, &npm())?;
        // A package.json of its own, so npm installs here and not in a parent's project.
        std::fs::write(
            partial.join("package.json"),
            "{\"name\": \"rustyray-tools\", \"private\": true}\n",
        )
        .map_err(|err| RayError::io(format!("writing into {}", partial.display()), err))?;
        let mut command = Command::new(npm());
        command
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                &format!("@bytecodealliance/componentize-js@{COMPONENTIZE_JS_VERSION}"),
            ])
            .current_dir(partial);
        run_builder(
            JS,
            &dir,
            command,
            &format!("npm install @bytecodealliance/componentize-js@{COMPONENTIZE_JS_VERSION}"),
        )
    })?;
    Ok(dir)
}

/// The program's files: its JavaScript modules.
fn js_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    program_files(JS, dir, |name| {
        name.ends_with(".js") || name.ends_with(".mjs")
    })
}

/// The content key of a build: the program, the SDK, the build script, the WIT and the
/// tool's version.
fn js_key(files: &[(String, Vec<u8>)]) -> String {
    let parts = [COMPONENTIZE_JS_VERSION, BUILD_SCRIPT, WIT].map(str::as_bytes);
    build_key(parts, SDK_FILES, files)
}

/// Builds the JavaScript program in `dir` (cached by content in the default cache
/// directory); the component's path.
pub fn build_program(dir: &Path) -> Result<PathBuf> {
    build_program_in(dir, &default_cache(JS)?)
}

/// Builds the JavaScript program in `dir`, caching the component under `cache_dir`.
pub fn build_program_in(dir: &Path, cache_dir: &Path) -> Result<PathBuf> {
    if !is_program(dir) {
        return Err(JS.error(dir, "no main.js: not a JavaScript program"));
    }
    let files = js_files(dir)?;
    let key = js_key(&files);
    cached_build(cache_dir, "js", &key, |stage, partial| {
        check_tool(dir, &node())?;
        let tool = ensure_componentize_js()?;
        eprintln!(
            "rustyray: building the JavaScript program {} with componentize-js",
            dir.display()
        );
        for (path, bytes) in &files {
            if path.split(['/', '\\']).next() == Some(SDK_DIR) || path == ENTRY {
                return Err(JS.error(dir, format!("{path}: this name is the SDK's, rename it")));
            }
            write_staged(stage, &format!("src/{path}"), bytes)?;
        }
        for (path, text) in SDK_FILES {
            write_staged(stage, &format!("src/{SDK_DIR}/{path}"), text.as_bytes())?;
        }
        write_staged(
            stage,
            &format!("src/{ENTRY}"),
            format!(
                "import \"./{MAIN}\";\nexport {{ guest, driver }} from \"./{SDK_DIR}/exports.js\";\n"
            )
            .as_bytes(),
        )?;
        write_staged(stage, "wit/runtime.wit", WIT.as_bytes())?;
        write_staged(stage, "build.mjs", BUILD_SCRIPT.as_bytes())?;
        let mut command = Command::new(node());
        command
            .arg("build.mjs")
            .arg(&tool)
            .arg(partial)
            .current_dir(stage);
        run_builder(JS, dir, command, "componentize-js")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_follows_the_program() {
        let one = vec![("main.js".to_string(), b"let x = 1".to_vec())];
        let two = vec![("main.js".to_string(), b"let x = 2".to_vec())];
        assert_eq!(js_key(&one), js_key(&one));
        assert_ne!(js_key(&one), js_key(&two));
    }

    #[test]
    fn a_directory_without_main_js_is_not_javascript() {
        let dir = std::env::temp_dir().join(format!("rustyray-js-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(!is_program(&dir));
        std::fs::write(dir.join("main.js"), "").unwrap();
        assert!(is_program(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
