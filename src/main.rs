//! The `gradverify` command: parse, run, map outcomes to exit codes (0 agree, 1 disagree,
//! 2 bad usage or input).

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use gradverify::protocol::serve;
use gradverify::sweep;

/// Cases in the default run: enough to cover every op at many shapes in about a second.
const DEFAULT_CASES: u64 = 400;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Proves backward passes right: the reference backprop against explicit Jacobians and finite differences"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the reference backprop against both oracles over random shapes (the default job).
    Sweep {
        /// How many random cases (op or network × shape × values).
        #[arg(long, default_value_t = DEFAULT_CASES, value_parser = clap::value_parser!(u64).range(1..))]
        cases: u64,
        /// The seed every case is drawn from.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Answer protocol-v1 requests on standard input with the reference gradients.
    Serve,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Sweep {
        cases: DEFAULT_CASES,
        seed: 0,
    }) {
        Command::Sweep { cases, seed } => run_sweep(cases, seed),
        Command::Serve => match serve::serve(io::stdin().lock(), io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gradverify serve: {e}");
                ExitCode::from(2)
            }
        },
    }
}

fn run_sweep(cases: u64, seed: u64) -> ExitCode {
    let start = Instant::now();
    let report = match sweep::run(seed, cases) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("gradverify: {e}");
            return ExitCode::from(2);
        }
    };
    print(&format!(
        "gradverify: the reference backprop against explicit Jacobians and central differences\n{report}\ntook {:.2} s on {} threads\n",
        start.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    ));
    if report.failures().next().is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Writes `text` to standard output; a reader that went away (`| head`) is not an error.
fn print(text: &str) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        eprintln!("gradverify: cannot write to standard output: {e}");
    }
}
