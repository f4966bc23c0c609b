//! The `gradverify` command: parse, run, map outcomes to exit codes (0 agree, 1 disagree,
//! 2 bad usage or input).

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use gradverify::protocol::{OpKind, serve};
use gradverify::sweep;
use gradverify::verify::{self, Config, exec::ExecSubject};

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
    /// Verify a backward written in any language that speaks protocol-v1 on stdin/stdout.
    Verify {
        /// The program to run through `sh -c`, e.g. "python3 student.py".
        #[arg(long, value_name = "CMD")]
        exec: String,
        /// Which ops to verify, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = OpKind::ALL.map(|k| k.name().to_owned()), value_parser = op_name)]
        ops: Vec<String>,
        /// Random cases per op.
        #[arg(long, default_value_t = Config::default().cases as u64, value_parser = clap::value_parser!(u64).range(1..10_000_000))]
        cases: u64,
        /// The seed every case is drawn from.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Seconds to wait for each answer.
        #[arg(long, default_value_t = 10.0, value_parser = positive_seconds)]
        timeout: f64,
    },
}

fn op_name(s: &str) -> Result<String, String> {
    s.parse::<OpKind>()
        .map(|k| k.name().to_owned())
        .map_err(|e| e.to_string())
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds above 0")),
    }
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
        Command::Verify {
            exec,
            ops,
            cases,
            seed,
            timeout,
        } => {
            let config = Config {
                cases: cases as usize,
                seed,
            };
            let kinds: Vec<OpKind> = ops.iter().filter_map(|o| o.parse().ok()).collect();
            run_verify(&exec, &kinds, config, Duration::from_secs_f64(timeout))
        }
    }
}

fn run_verify(command: &str, kinds: &[OpKind], config: Config, timeout: Duration) -> ExitCode {
    let mut subject = match ExecSubject::start(command, timeout) {
        Ok(subject) => subject,
        Err(e) => {
            eprintln!("gradverify verify: cannot start `sh -c {command}`: {e}");
            return ExitCode::from(2);
        }
    };
    let mut passed = 0;
    for &kind in kinds {
        let report = verify::verify(kind, &mut subject, config);
        passed += usize::from(report.passed());
        print(&format!("{report}\n"));
    }
    let tail = subject.stderr_tail();
    if passed < kinds.len() && !tail.is_empty() {
        print(&format!(
            "the program's last lines of standard error:\n  | {}\n",
            tail.join("\n  | ")
        ));
    }
    print(&format!("{passed} of {} ops pass\n", kinds.len()));
    if passed == kinds.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
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
