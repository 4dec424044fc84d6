//! The `rustyray` binary: the runtime's commands (`run`, `inspect`, `bench`) and the
//! node's (`start`, `deploy`, `job`, `list`, ...); see [`rustyray_cli`].

fn main() -> std::process::ExitCode {
    rustyray_cli::main()
}
