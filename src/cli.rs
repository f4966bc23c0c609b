//! The commands behind `gradverify`'s subcommands: each runs, prints, and returns its verdict or
//! the reason it could not run ([`Usage`]); [`exit_status`] maps both to the exit status, the
//! only place that does: 0 pass, 1 fail, 3 inconclusive, 2 bad usage or input.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use gradverify::catalogue::OpKind;
use gradverify::compare::Verdict;
use gradverify::cost::{self, CostTable, MemoryTable};
use gradverify::grade::{self, GradeJob, GradedOp, output};
use gradverify::plot;
use gradverify::serve as server;
use gradverify::sweep::{self, Shard};
use gradverify::timing::TimingTable;
use gradverify::verify::exec::{ExecSubject, Isolation, ProcessLimits, Program, Restarting};
use gradverify::verify::program_ops::{self, Order, ProgramOp, SpecFile};
use gradverify::verify::report::score::{Points, Scorecard};
use gradverify::verify::report::{self, autolab, gradescope, junit, prairielearn};
use gradverify::verify::{self, Config, Fault, Problem, Report};

/// Why a command could not run, as printed to standard error.
#[derive(Debug)]
pub struct Usage(pub String);

impl From<gradverify::Error> for Usage {
    fn from(e: gradverify::Error) -> Usage {
        Usage(format!("gradverify: {e}"))
    }
}

/// What a command ends with: a verdict, or the reason it could not run.
pub type Outcome = Result<Verdict, Usage>;

/// The exit status of an outcome (printing a usage error): 0 pass, 1 fail, 3 inconclusive,
/// 2 bad usage or input.
pub fn exit_status(outcome: Outcome) -> ExitCode {
    match outcome {
        Ok(Verdict::Pass) => ExitCode::SUCCESS,
        Ok(Verdict::Fail) => ExitCode::from(1),
        Ok(Verdict::Inconclusive) => ExitCode::from(3),
        Err(Usage(message)) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

/// How `verify` prints its reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The text reports, one per op, and a summary line.
    Text,
    /// One JSON array of report objects.
    Json,
    /// Gradescope's results.json: a test per op, with its points (`--points`).
    Gradescope,
    /// JUnit XML for CI test reports: a testcase per op.
    Junit,
    /// PrairieLearn's results.json: the score as a fraction, a test per op with its points.
    Prairielearn,
    /// Autolab: the text reports, then the last line {"scores": {op: points, …}}.
    Autolab,
}

/// What a sweep runs and how it prints.
pub struct SweepJob {
    pub cases: u64,
    pub seed: u64,
    pub shard: Shard,
    pub json: bool,
    pub quiet: bool,
}

/// The main job: the reference against both oracles on `cases` random cases, then the cost
/// table at B = 1.
pub fn main_job(cases: u64) -> Outcome {
    let start = Instant::now();
    let report = sweep::run(0, cases)?;
    let table = CostTable::for_sizes(&cost::SIZES, &[1])?;
    print(&format!(
        "gradverify: the reference backprop against explicit Jacobians and central differences\n{report}\ntook {:.2} s on {}\n\n{table}\nMore: `gradverify costs` (batch 32, memory, measured times), `gradverify sweep --help`, `gradverify verify --help`.\n",
        start.elapsed().as_secs_f64(),
        gradverify::timing::pool_threads()
    ));
    Ok(pass_if(report.failures().next().is_none()))
}

/// Runs `f` on a pool of `threads` threads, or on rayon's default pool (which honours
/// RAYON_NUM_THREADS).
pub fn with_threads(threads: Option<u64>, f: impl FnOnce() -> Outcome + Send) -> Outcome {
    let Some(threads) = threads else { return f() };
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads as usize)
        .build()
    {
        Ok(pool) => pool.install(f),
        Err(e) => Err(Usage(format!("gradverify: cannot start {threads} threads: {e}"))),
    }
}

/// The reference against both oracles, with a progress bar on a terminal.
pub fn sweep(job: &SweepJob) -> Outcome {
    let range = job.shard.range(job.cases);
    let bar = progress(range.end - range.start, job.quiet || job.json);
    let start = Instant::now();
    let keep = if job.json {
        sweep::Keep::EveryCase
    } else {
        sweep::Keep::Failures
    };
    let result = sweep::run_shard(job.seed, job.cases, job.shard, keep, &|| bar.inc(1));
    bar.finish_and_clear();
    let report = result?;
    let seconds = start.elapsed().as_secs_f64();
    if job.json {
        let mut json = report.to_json();
        json["seconds"] = seconds.into();
        json["threads"] = rayon::current_num_threads().into();
        print(&format!("{json}\n"));
    } else {
        let rate = report.cases() as f64 / seconds;
        print(&format!(
            "{report}\ntook {seconds:.2} s on {} ({rate:.0} cases/s)\n",
            gradverify::timing::pool_threads()
        ));
    }
    Ok(pass_if(report.failures().next().is_none()))
}

/// A program's backward over many cases, one process per thread.
pub fn sweep_program(
    job: &SweepJob,
    command: &str,
    config: Config,
    kinds: &[OpKind],
    timeout: Duration,
    limits: &ProcessLimits,
) -> Outcome {
    let program = Program {
        limits: limits.clone(),
        ..Program::new(command, timeout)
    };
    if let Err(e) = program.start() {
        return Err(Usage(format!(
            "gradverify sweep: cannot start `sh -c {command}`: {e}"
        )));
    }
    let range = job.shard.range(job.cases);
    let make = || program.start_or_fault();
    let reports: Vec<Report> = kinds
        .iter()
        .map(|&kind| verify::verify_parallel(kind, make, config, range.start as usize..range.end as usize))
        .collect();
    if let Some(fault) = reports.iter().find_map(cannot_start) {
        return Err(Usage(format!("gradverify sweep: `sh -c {command}`: {fault}")));
    }
    Ok(print_sweep(&reports, job.json))
}

/// A sweep's reports, as one JSON array or as texts and a summary; their overall verdict.
fn print_sweep(reports: &[Report], json: bool) -> Verdict {
    if json {
        print(&format!("{}\n", reports_json(reports)));
    } else {
        for report in reports {
            print(&format!("{report}\n"));
        }
        print(&summary(reports));
    }
    overall(reports)
}

/// Ops a program brings, to check: the program, where their spec comes from, the cases and
/// the order.
pub struct BroughtJob<'a> {
    /// The program under test.
    pub program: &'a Program,
    /// The spec file (`--spec`); without it, the program's answer to `describe`.
    pub spec: Option<&'a Path>,
    /// Cases per op and their seed.
    pub config: Config,
    /// The first order, or the second too (`--order 2`).
    pub order: Order,
    /// Fast mode (`verify --op NAME --fast`): one random projection per input and case.
    pub fast: bool,
}

/// Every op a program brings (`sweep --exec CMD --spec FILE` or `--described`), each checked
/// as `verify --op` checks it, in one process: a report each, printed as `sweep --exec` prints.
pub fn sweep_program_ops(job: &SweepJob, brought: &BroughtJob<'_>) -> Outcome {
    if job.shard != Shard::WHOLE {
        return Err(Usage(format!(
            "gradverify sweep: argument `--shard` is {}/{}, expected 1/1 with --spec or --described (the ops a program brings are checked in one process)",
            job.shard.part, job.shard.of
        )));
    }
    let command = &brought.program.command;
    let mut subject = started(brought.program, "sweep")?;
    let specs = brought_specs(brought, &mut subject)?;
    for op in &specs.ops {
        second_order_answered(op, &mut subject, brought)?;
    }
    let reports: Vec<Report> = (specs.ops.iter())
        .map(|op| program_ops::check(op, &mut subject, command, brought.config, brought.order))
        .collect();
    if let Some(fault) = subject.cannot_start() {
        return Err(Usage(format!("gradverify sweep: `sh -c {command}`: {fault}")));
    }
    Ok(print_sweep(&reports, job.json))
}

/// The spec of the ops `brought`: its file, or the answer of the program (`subject`) to
/// `describe`.
fn brought_specs(brought: &BroughtJob<'_>, subject: &mut ExecSubject) -> Result<SpecFile, Usage> {
    match brought.spec {
        Some(path) => Ok(SpecFile::read(path)?),
        None => described(subject, &brought.program.command),
    }
}

/// The spec `subject` (running `command`) answers `describe` with, or an error that says why
/// there is none and names `--spec`.
fn described(subject: &mut ExecSubject, command: &str) -> Result<SpecFile, Usage> {
    let answer = program_ops::wire::describe(subject).map_err(|fault| {
        Usage(format!(
            "gradverify: `sh -c {command}` does not describe its ops ({fault}): give their spec with --spec FILE, or answer `describe` as docs/protocol-program-ops.md writes it"
        ))
    })?;
    Ok(SpecFile::from_value(
        answer,
        &format!("the answer of `{command}` to describe"),
    )?)
}

/// At [`Order::Second`], an error unless `subject` (the program of `brought`) answers
/// `second_backward` for `op`.
fn second_order_answered(
    op: &ProgramOp,
    subject: &mut ExecSubject,
    brought: &BroughtJob<'_>,
) -> Result<(), Usage> {
    if brought.order == Order::First {
        return Ok(());
    }
    match program_ops::second_order_missing(op, subject) {
        None => Ok(()),
        Some(fault) => Err(Usage(format!(
            "gradverify: argument `--order` is 2, expected a program that answers `second_backward` for {} (docs/protocol-program-ops.md), or --order 1: `sh -c {}` did not ({fault})",
            op.name, brought.program.command
        ))),
    }
}

/// The fault of a command that could not start at all, if the report found one: said once, as
/// bad usage, instead of once per case.
fn cannot_start(report: &Report) -> Option<&Fault> {
    report.findings.iter().find_map(|finding| match &finding.problem {
        Problem::Fault(fault @ Fault::CannotStart { .. }) => Some(fault),
        _ => None,
    })
}

/// The reports as one JSON array of report objects.
fn reports_json(reports: &[Report]) -> serde_json::Value {
    reports.iter().map(Report::to_json).collect()
}

/// `N of M ops pass`, with a line.
fn summary(reports: &[Report]) -> String {
    let passed = reports.iter().filter(|r| r.passed()).count();
    format!("{passed} of {} ops pass\n", reports.len())
}

/// Fail if any report fails, else inconclusive if any is, else pass.
fn overall(reports: &[Report]) -> Verdict {
    let verdicts: Vec<Verdict> = reports.iter().map(Report::verdict).collect();
    if verdicts.contains(&Verdict::Fail) {
        Verdict::Fail
    } else if verdicts.contains(&Verdict::Inconclusive) {
        Verdict::Inconclusive
    } else {
        Verdict::Pass
    }
}

/// The cost table, the memory table and (unless skipped) the measured times; optionally as
/// Markdown and with an SVG plot.
pub fn costs(markdown: bool, svg: Option<&Path>, timing: bool) -> Outcome {
    let (table, memory) = (CostTable::standard()?, MemoryTable::standard()?);
    if markdown {
        print(&format!("{}\n{}", table.markdown(), memory.markdown()));
    } else {
        print(&format!("{table}\n{memory}"));
    }
    if let Some(path) = svg {
        plot::cost_svg(&table, path)?;
        eprintln!("wrote {}", path.display());
    }
    if timing {
        print(&format!("\n{}\n", TimingTable::standard()?));
    }
    Ok(Verdict::Pass)
}

/// `gradverify explain CODE`: the long explanation of a diagnosis code; an unknown code is a
/// usage error that lists the codes there are. Without a code: every code, a line each, with the
/// first line of its explanation.
pub fn explain(code: Option<&str>) -> Outcome {
    use gradverify::verify::explain::{codes, explanation};
    let Some(code) = code else {
        let lines: Vec<String> = (codes().into_iter())
            .map(|code| {
                let text = explanation(code).unwrap_or_default();
                let first = text.lines().next().unwrap_or_default();
                format!(
                    "{code:<20} {}",
                    first.strip_prefix(&format!("{code}: ")).unwrap_or(first)
                )
            })
            .collect();
        print(&format!(
            "{}\n\n`gradverify explain CODE` explains one.\n",
            lines.join("\n")
        ));
        return Ok(Verdict::Pass);
    };
    match explanation(code) {
        Some(text) => {
            print(text);
            Ok(Verdict::Pass)
        }
        None => Err(Usage(format!(
            "gradverify explain: no diagnosis code `{code}`; the codes are: {}",
            codes().join(", ")
        ))),
    }
}

/// What `verify` checks: a command's backward of some ops.
pub struct VerifyJob<'a> {
    /// The program, run through `sh -c`.
    pub command: &'a str,
    /// The ops, in order.
    pub kinds: &'a [OpKind],
    /// Cases per op and their seed.
    pub config: Config,
    /// How long to wait for each answer.
    pub timeout: Duration,
    /// The program's resource limits and sandbox.
    pub limits: &'a ProcessLimits,
}

/// A program's backward of each op, its reports printed and written as `printing` says.
pub fn verify(job: &VerifyJob<'_>, printing: &Printing<'_>) -> Outcome {
    let command = job.command;
    if let Some(path) = printing.html {
        grade::files::check_file(path)?;
    }
    let program = Program {
        limits: job.limits.clone(),
        ..Program::new(command, job.timeout)
    };
    let mut subject = Restarting::start(program)
        .map_err(|e| Usage(format!("gradverify verify: cannot start `sh -c {command}`: {e}")))?;
    let mut reports = Vec::new();
    for &kind in job.kinds {
        subject.begin_op();
        let report = verify::verify(kind, &mut subject, job.config);
        if let Some(fault) = subject.cannot_start() {
            return Err(could_not_start(command, fault, printing.format));
        }
        if printing.format == Format::Text {
            print(&format!("{report}\n"));
        }
        reports.push(report);
    }
    let names: Vec<&str> = job.kinds.iter().map(|k| k.name()).collect();
    print_reports(command, printing, &names, &reports, &subject.stderr_tail())
}

/// `verify`'s usage error for a command that could not start (`fault`), after PrairieLearn's
/// "ungradable" results when that is the format: not the student's fault to lose an attempt over.
fn could_not_start(command: &str, fault: &dyn std::fmt::Display, format: Format) -> Usage {
    let why = format!("`sh -c {command}`: {fault}");
    if format == Format::Prairielearn {
        print(&format!("{:#}\n", prairielearn::ungradable(&why)));
    }
    Usage(format!("gradverify verify: {why}"))
}

/// How `verify` prints one program's reports.
pub struct Printing<'a> {
    /// The format of standard output.
    pub format: Format,
    /// What each op is worth, for the graders' formats.
    pub points: &'a Points,
    /// Where to write the page, if anywhere.
    pub html: Option<&'a Path>,
}

/// The reports of `command`'s ops (`names`, in order), printed as `printing` says with the
/// program's scores and its last lines of standard error (`tail`), and written as a page;
/// their overall verdict. Text reports are printed as they come, before this.
fn print_reports(
    command: &str,
    printing: &Printing<'_>,
    names: &[&str],
    reports: &[Report],
    tail: &[String],
) -> Outcome {
    let card = Scorecard::of(command, names, reports, printing.points, tail);
    if let Some(path) = printing.html {
        let body = report::html::program(&card, reports, verify::explain::explanation);
        let page = report::html::page(&format!("{command}: gradverify"), &body);
        grade::files::write_fresh(path, page.as_bytes())?;
    }
    match printing.format {
        Format::Json => print(&format!("{}\n", reports_json(reports))),
        Format::Gradescope => print(&format!("{:#}\n", gradescope::results(&card))),
        Format::Prairielearn => print(&format!("{:#}\n", prairielearn::results(&card))),
        Format::Autolab => {
            let texts: String = reports.iter().map(|r| format!("{r}\n")).collect();
            print(&format!("{texts}{}\n", autolab::last_line(&card)));
        }
        Format::Junit => print(&junit::document(&[card])),
        Format::Text => {
            if !reports.iter().all(Report::passed) && !tail.is_empty() {
                print(&format!(
                    "the program's last lines of standard error:\n  | {}\n",
                    tail.join("\n  | ")
                ));
            }
            print(&summary(reports));
        }
    }
    Ok(overall(reports))
}

/// A program's backward of an op it brings (`--op NAME`, of `--spec FILE` or of the program's
/// answer to `describe`), checked against finite differences of its own forward (or against a
/// `reference` program), its report printed in any format, as [`verify`] prints.
pub fn verify_program_op(
    brought: &BroughtJob<'_>,
    reference: Option<&Program>,
    op: &str,
    printing: &Printing<'_>,
) -> Outcome {
    if let Some(path) = printing.html {
        grade::files::check_file(path)?;
    }
    let command = &brought.program.command;
    let mut subject = started(brought.program, "verify")?;
    let specs = brought_specs(brought, &mut subject)?;
    let op = specs.op(op)?;
    second_order_answered(op, &mut subject, brought)?;
    let mut reference =
        (reference.map(|r| checked_reference(r, op, brought.config, "verify"))).transpose()?;
    let (config, order) = (brought.config, brought.order);
    let report = match &mut reference {
        Some(reference) => {
            program_ops::against_reference(op, &mut subject, reference, command, config, order)
        }
        None if brought.fast => program_ops::check_fast(op, &mut subject, command, config),
        None => program_ops::check(op, &mut subject, command, config, order),
    };
    if let Some(fault) = subject.cannot_start() {
        return Err(could_not_start(command, fault, printing.format));
    }
    if printing.format == Format::Text {
        print(&format!("{report}\n"));
    }
    print_reports(command, printing, &[&op.name], &[report], &subject.stderr_tail())
}

/// The ops of `specs` that `names` names (every one of them when `names` is empty), in
/// `names`' order, to grade.
pub fn spec_ops(specs: SpecFile, names: &[String]) -> Result<Vec<GradedOp>, Usage> {
    if names.is_empty() {
        return Ok(specs.ops.into_iter().map(GradedOp::Program).collect());
    }
    (names.iter())
        .map(|name| Ok(GradedOp::Program(specs.op(name)?.clone())))
        .collect()
}

/// The spec `program` answers `describe` with (`grade --described`: the instructor's solution
/// describes the ops), or a usage error naming `subcommand`.
pub fn described_by(program: &Program, subcommand: &str) -> Result<SpecFile, Usage> {
    let mut subject = started(program, subcommand)?;
    described(&mut subject, &program.command)
}

/// `program`, started, or a usage error naming its command (and the subcommand).
fn started(program: &Program, subcommand: &str) -> Result<ExecSubject, Usage> {
    let command = &program.command;
    (program.start()).map_err(|e| {
        Usage(format!(
            "gradverify {subcommand}: cannot start `sh -c {command}`: {e}"
        ))
    })
}

/// The reference program, started and checked once by finite differences of its own forward:
/// a reference that fails that is refused (it would fail right answers), with its report.
/// `subcommand` names the command in the message.
fn checked_reference(
    reference: &Program,
    op: &ProgramOp,
    config: Config,
    subcommand: &str,
) -> Result<ExecSubject, Usage> {
    let command = &reference.command;
    let mut subject = started(reference, subcommand)?;
    let report = program_ops::check(op, &mut subject, command, config, Order::First);
    if let Some(fault) = subject.cannot_start() {
        return Err(Usage(format!(
            "gradverify {subcommand}: --reference `sh -c {command}`: {fault}"
        )));
    }
    if !report.passed() {
        return Err(Usage(format!(
            "gradverify {subcommand}: argument `--reference`: `{command}` does not pass its own finite-difference check of {}, so it cannot judge others:\n{report}",
            op.name
        )));
    }
    Ok(subject)
}

/// The speed workloads, as a table or as JSON lines.
pub fn bench(json: bool) -> Outcome {
    let figures = gradverify::bench::all()?;
    if json {
        figures.iter().for_each(|f| print(&format!("{}\n", f.to_json())));
    } else {
        print(&gradverify::bench::table(&figures));
    }
    Ok(Verdict::Pass)
}

/// Where `grade` writes beside its table.
pub struct GradeFiles {
    pub csv: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

/// The cores of this machine (1 if unknown).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Grades a class with a progress bar, prints the table and writes the files; passes whatever
/// the students scored.
pub fn grade(job: &GradeJob, files: &GradeFiles, quiet: bool) -> Outcome {
    // What every submission would fail alike is the grader's problem, not the students'.
    if job.limits.sandbox && !Isolation::Sandbox.available() {
        return Err(Usage(
            "gradverify grade: --sandbox needs bubblewrap (`bwrap`), which is missing or refused here"
                .to_owned(),
        ));
    }
    // The outputs' paths are checked before the class is graded, not after.
    for path in files.csv.iter().chain(&files.junit) {
        grade::files::check_file(path)?;
    }
    for dir in files.out.iter().chain(&files.html) {
        grade::files::check_folder(dir)?;
    }
    let submissions = grade::submissions(&job.dir, job.shard)?;
    // A wrong solution would fail the whole class: it is checked once, before anyone is graded.
    if let Some(reference) = job.reference_program() {
        for op in &job.ops {
            if let GradedOp::Program(op) = op {
                let mut solution = checked_reference(&reference, op, job.config, "grade")?;
                // Nor would a solution without a double backward leave anyone the op's points.
                let missing = (job.order == Order::Second)
                    .then(|| program_ops::second_order_missing(op, &mut solution))
                    .flatten();
                if let Some(fault) = missing {
                    return Err(Usage(format!(
                        "gradverify grade: argument `--order` is 2, but the reference `{}` does not answer `second_backward` for {} ({fault}): grade the others with --op, or --order 1",
                        reference.command, op.name
                    )));
                }
            }
        }
    }
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(submissions.len() as u64)
    };
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} submissions, {eta} left") {
        bar.set_style(style);
    }
    let start = Instant::now();
    let graded = grade::grade(job, &submissions, &|_| bar.inc(1));
    bar.finish_and_clear();
    print(&output::table(&graded, &job.op_names()));
    print(&format!(
        "graded {} submission{} in {:.1} s, {} at a time\n",
        graded.len(),
        if graded.len() == 1 { "" } else { "s" },
        start.elapsed().as_secs_f64(),
        job.jobs.clamp(1, graded.len().max(1))
    ));
    if let Some(path) = &files.csv {
        output::write(path, &output::csv(&graded, &job.op_names())?)?;
    }
    if let Some(path) = &files.junit {
        output::write(path, output::junit(&graded).as_bytes())?;
    }
    if let Some(dir) = &files.out {
        output::write_reports(dir, &graded)?;
    }
    if let Some(dir) = &files.html {
        grade::html::write(dir, &graded, &job.op_names())?;
    }
    Ok(Verdict::Pass)
}

/// Serves protocol requests on standard input until it closes.
pub fn serve() -> Outcome {
    match server::serve(io::stdin().lock(), io::stdout().lock()) {
        Ok(()) => Ok(Verdict::Pass),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Verdict::Pass),
        Err(e) => Err(Usage(format!("gradverify serve: {e}"))),
    }
}

/// A progress bar on standard error, drawn only on a terminal and unless `hidden`.
fn progress(len: u64, hidden: bool) -> ProgressBar {
    if hidden {
        return ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} cases, {eta} left") {
        bar.set_style(style);
    }
    bar
}

/// Pass if `ok`, else fail.
fn pass_if(ok: bool) -> Verdict {
    if ok { Verdict::Pass } else { Verdict::Fail }
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

#[cfg(test)]
mod tests {
    use super::*;
    use gradverify::verify::Inconclusive;

    #[test]
    fn the_overall_verdict_is_fail_over_inconclusive_over_pass_and_maps_to_0_1_3() {
        let pass = Report::new("p", "linear", 1);
        let mut undecided = Report::new("p", "relu", 1);
        undecided.inconclusive.push(Inconclusive {
            gradient: "a".to_owned(),
            reason: "every element at a kink".to_owned(),
            try_next: "another seed".to_owned(),
        });
        let unimplemented = Report {
            implemented: false,
            ..Report::new("p", "sqerr", 1)
        };
        assert_eq!(overall(std::slice::from_ref(&pass)), Verdict::Pass);
        assert_eq!(overall(&[pass.clone(), undecided.clone()]), Verdict::Inconclusive);
        assert_eq!(overall(&[undecided, unimplemented, pass]), Verdict::Fail);
        assert_eq!(exit_status(Ok(Verdict::Pass)), ExitCode::SUCCESS);
        assert_eq!(exit_status(Ok(Verdict::Fail)), ExitCode::from(1));
        assert_eq!(exit_status(Ok(Verdict::Inconclusive)), ExitCode::from(3));
        assert_eq!(
            exit_status(Err(Usage("gradverify: bad".to_owned()))),
            ExitCode::from(2)
        );
    }
}
