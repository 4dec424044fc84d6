//! The `rustyray` command, for the CLI tests (see `Cargo.toml`).

fn main() -> std::process::ExitCode {
    rustyray_cli::main()
}
