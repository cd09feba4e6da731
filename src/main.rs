//! The `exelock` command; everything lives in the library's `cli` module.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    exelock::cli::main(std::env::args_os())
}
