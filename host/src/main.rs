//! The `rustyray` binary; see [`rustyray::cli`].

fn main() -> std::process::ExitCode {
    rustyray::cli::main()
}
