//! Untrusted programs cannot hurt the verifier: with real child processes, every way a program
//! can linger, hog or misbehave ends with the fault said as it is and no process of it left.
//!
//! Each test marks the processes it starts with a unique `GRADVERIFY_TEST_MARK` in their
//! environment and afterwards scans `/proc/*/environ` for it, so tests running in parallel never
//! see each other's processes. Cases that differ by isolation run under each one this machine
//! has (a process group always; a PID namespace where the kernel allows; bubblewrap where it is
//! installed and allowed), and say on standard output which they skip.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use gradverify::verify::exec::{ExecSubject, Isolation, ProcessLimits, Program};
use gradverify::verify::ops;
use gradverify::verify::{self, Backward, Config};

const BIN: &str = env!("CARGO_BIN_EXE_gradverify");
const MARK: &str = "GRADVERIFY_TEST_MARK";
/// How long the processes of a killed program are given to disappear (SIGKILL is asynchronous).
const VANISH: Duration = Duration::from_secs(20);

/// A mark no other test uses.
fn new_mark(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{test}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The isolations to test on this machine (a process group always).
fn isolations(test: &str) -> Vec<Isolation> {
    let mut all = vec![Isolation::ProcessGroup];
    if Isolation::PidNamespace.available() {
        all.push(Isolation::PidNamespace);
    } else {
        println!("{test}: no PID namespace on this machine; tested with a process group only");
    }
    all
}

/// `command` with a time-out of `millis` a request, marked, under `isolation`.
fn program(command: &str, millis: u64, mark: &str, isolation: Isolation) -> Program {
    Program {
        env: vec![(MARK.to_owned(), mark.to_owned())],
        isolation: Some(isolation),
        ..Program::new(command, Duration::from_millis(millis))
    }
}

fn start(program: &Program) -> ExecSubject {
    program
        .start()
        .unwrap_or_else(|e| panic!("start `{}`: {e}", program.command))
}

/// The live processes whose environment holds `mark` (pid and command line). Zombies have an
/// empty environment and do not count.
fn marked(mark: &str) -> Vec<String> {
    let needle = format!("{MARK}={mark}\0").into_bytes();
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(environ) = fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.windows(needle.len()).any(|w| w == needle) {
            let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            found.push(format!("{} {cmdline}", name.to_string_lossy()));
        }
    }
    found
}

/// Fails unless every process marked `mark` is gone (waiting up to [`VANISH`] for SIGKILL to
/// land).
#[track_caller]
fn assert_none_left(mark: &str) {
    let start = Instant::now();
    let mut left = marked(mark);
    while !left.is_empty() && start.elapsed() < VANISH {
        thread::sleep(Duration::from_millis(20));
        left = marked(mark);
    }
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

/// Fails unless some process marked `mark` runs (so that the scan is seen to work).
#[track_caller]
fn assert_running(mark: &str) {
    assert!(!marked(mark).is_empty(), "no process marked {mark} runs");
}

fn relu_request() -> gradverify::catalogue::Request {
    verify::cases::request(ops::relu::KIND, &[1, 2], &mut gradverify::random::case_rng(0, 0))
}

/// The message of a failed answer.
#[track_caller]
fn failure(subject: &mut ExecSubject) -> String {
    match subject.answer(&relu_request()) {
        Err(fault) => fault.to_string(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn relu_passes(subject: &mut ExecSubject) {
    let report = verify::verify(ops::relu::KIND, subject, Config::default().cases(3).seed(0));
    assert!(report.passed(), "{report}");
}

#[test]
fn a_program_that_answers_then_sleeps_is_killed_with_everything_it_started() {
    for isolation in isolations("answers then sleeps") {
        let mark = new_mark("sleeps");
        let mut subject = start(&program(
            &format!("{BIN} serve; sleep 613"),
            5000,
            &mark,
            isolation,
        ));
        relu_passes(&mut subject);
        assert_running(&mark);
        drop(subject);
        assert_none_left(&mark);
    }
}

#[test]
fn a_program_that_spins_at_full_cpu_after_answering_is_killed() {
    for isolation in isolations("spins") {
        let mark = new_mark("spins");
        let command = format!("{BIN} serve; while :; do :; done");
        let mut subject = start(&program(&command, 5000, &mark, isolation));
        relu_passes(&mut subject);
        drop(subject);
        assert_none_left(&mark);
    }
}

#[test]
fn a_program_that_never_answers_is_given_up_and_killed_before_the_end() {
    for isolation in isolations("never answers") {
        let mark = new_mark("silent");
        let mut subject = start(&program("sleep 613", 300, &mark, isolation));
        assert_running(&mark);
        assert_eq!(failure(&mut subject), "no answer within 0.3 s (request id 1)");
        assert_eq!(failure(&mut subject), "no answer within 0.3 s (request id 2)");
        // Given up: killed now, not when the subject is dropped.
        assert_none_left(&mark);
        assert!(failure(&mut subject).starts_with("the program stopped answering"));
    }
}

#[test]
fn a_program_that_closes_its_standard_input_is_said_to_and_killed() {
    for isolation in isolations("closes stdin") {
        let mark = new_mark("stdin");
        let mut subject = start(&program("exec 0<&-; sleep 613", 400, &mark, isolation));
        // A first request may land in the pipe before the program closes it (and time out);
        // a later one cannot be written.
        let messages: Vec<String> = (0..3).map(|_| failure(&mut subject)).collect();
        let closed = "the program closed its standard input but is still running";
        assert_eq!(messages[2], closed, "{messages:?}");
        assert!(
            messages[0] == closed || messages[0].starts_with("no answer within"),
            "{messages:?}"
        );
        assert_none_left(&mark);
    }
}

#[test]
fn a_grandchild_holding_standard_output_dies_with_the_program() {
    for isolation in isolations("grandchild") {
        let mark = new_mark("grandchild");
        let mut subject = start(&program("sleep 613 & exit 3", 1000, &mark, isolation));
        let message = failure(&mut subject);
        match isolation {
            // The namespace dies with its process 1, the shell: standard output closes.
            Isolation::PidNamespace => assert!(
                message.starts_with("the program exited (exit status: 3)"),
                "{message}"
            ),
            _ => assert!(
                message.starts_with(
                    "the program exited (exit status: 3), but a child process kept its standard output open"
                ),
                "{message}"
            ),
        }
        assert_none_left(&mark);
    }
}

#[test]
fn a_grandchild_that_calls_setsid_dies_too() {
    // In a PID namespace it dies with the namespace; in a process group alone, by its token.
    for isolation in isolations("setsid") {
        let mark = new_mark("setsid");
        let command = format!("setsid sleep 613 & {BIN} serve");
        let mut subject = start(&program(&command, 5000, &mark, isolation));
        relu_passes(&mut subject);
        // The escaped sleep runs in a session of its own.
        assert!(
            marked(&mark).iter().any(|p| p.contains("sleep 613")),
            "{:?}",
            marked(&mark)
        );
        drop(subject);
        assert_none_left(&mark);
    }
}

#[test]
fn the_verify_command_leaves_nothing_behind() {
    let mark = new_mark("cli");
    let out = Command::new(BIN)
        .args([
            "verify",
            "--ops",
            "relu",
            "--cases",
            "1",
            "--timeout",
            "0.3",
            "--exec",
        ])
        .arg("sleep 613; sleep 614")
        .env(MARK, &mark)
        .output()
        .expect("run gradverify verify");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("no answer within 0.3 s"));
    assert_none_left(&mark);
}

#[test]
fn a_latin_1_byte_on_standard_error_is_shown_and_the_program_still_passes() {
    let mark = new_mark("stderr");
    // Logs a Latin-1 line to standard error before every answer.
    let command = format!(
        r#"while IFS= read -r line; do printf 'log: caf\351\n' >&2; printf '%s\n' "$line" | {BIN} serve; done"#
    );
    let mut subject = start(&program(&command, 5000, &mark, Isolation::ProcessGroup));
    relu_passes(&mut subject);
    assert!(
        subject.stderr_tail().contains(&"log: caf\u{fffd}".to_owned()),
        "{:?}",
        subject.stderr_tail()
    );
    drop(subject);
    assert_none_left(&mark);
}

#[test]
fn a_non_utf8_line_on_standard_output_fails_one_answer_and_the_next_passes() {
    let mark = new_mark("stdout");
    let command = format!(r"printf 'caf\351\n'; exec {BIN} serve");
    let mut subject = start(&program(&command, 5000, &mark, Isolation::ProcessGroup));
    let message = failure(&mut subject);
    assert!(
        message.starts_with("the answer is not JSON") && message.contains("`caf\u{fffd}`"),
        "{message}"
    );
    // The late answer to the first request is skipped; the second is read.
    assert!(subject.answer(&relu_request()).is_ok());
    drop(subject);
    assert_none_left(&mark);
}

#[test]
fn a_100_mb_answer_line_is_refused_without_stopping() {
    let mark = new_mark("long");
    let command = format!("head -c 100000000 /dev/zero | tr '\\0' x; echo; exec {BIN} serve");
    let mut subject = start(&program(&command, 30_000, &mark, Isolation::ProcessGroup));
    assert_eq!(
        failure(&mut subject),
        "the answer line has 100000000 bytes, more than the limit of 67108864 bytes; it was read through, not kept"
    );
    assert!(subject.answer(&relu_request()).is_ok());
    drop(subject);
    assert_none_left(&mark);
}

#[test]
fn an_answer_line_far_longer_than_its_gradients_need_is_refused_before_parsing() {
    // 3 MB for a relu request of a few numbers: under the 64 MiB cap, over what it can need.
    let mark = new_mark("bloated");
    let command = format!(
        "printf '{{\"id\": 1, \"grads\": {{\"a\": ['; head -c 3000000 /dev/zero | tr '\\0' ' '; echo ']}}}}'; exec {BIN} serve"
    );
    let mut subject = start(&program(&command, 30_000, &mark, Isolation::ProcessGroup));
    let message = failure(&mut subject);
    assert!(
        message.starts_with("the answer line has 3000")
            && message.contains("more than the limit of 1048768 bytes")
            && message.ends_with("it was read through, not kept"),
        "{message}"
    );
    assert!(subject.answer(&relu_request()).is_ok());
    drop(subject);
    assert_none_left(&mark);
}

#[test]
fn a_program_that_exits_at_once_fails_every_case_with_its_status() {
    for isolation in isolations("exits at once") {
        let mark = new_mark("exits");
        let mut subject = start(&program("exit 0", 5000, &mark, isolation));
        let message = failure(&mut subject);
        assert_eq!(
            message,
            "the program exited (exit status: 0) and wrote nothing to standard error"
        );
        assert_eq!(failure(&mut subject), message);
        assert!(subject.cannot_start().is_none());
        assert_none_left(&mark);
    }
}

#[test]
fn a_command_that_cannot_start_is_said_once() {
    for isolation in isolations("cannot start") {
        let mark = new_mark("nostart");
        let mut subject = start(&program("no_such_program_xyz", 5000, &mark, isolation));
        let message = failure(&mut subject);
        assert!(
            message.starts_with("the command could not be started (exit status: 127)")
                && message.contains("sh: 1: no_such_program_xyz: "),
            "{message}"
        );
        assert!(subject.cannot_start().is_some());
        assert_none_left(&mark);
    }
}

/// `gradverify ARGS --exec no_such_program_xyz` says once that the command cannot start, shows
/// no smallest shape, and exits 2.
#[track_caller]
fn assert_cannot_start_said_once(args: &[&str]) {
    let out = Command::new(BIN)
        .args(args)
        .args(["--exec", "no_such_program_xyz"])
        .output()
        .expect("run gradverify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    // The shell's message ("not found"; "Permission denied" when a PATH folder is unreadable).
    assert_eq!(text.matches("no_such_program_xyz: ").count(), 1, "{text}");
    assert!(!text.contains("smallest"), "{text}");
}

#[test]
fn the_verify_command_says_once_that_a_command_cannot_start_and_exits_2() {
    assert_cannot_start_said_once(&["verify"]);
}

#[test]
fn the_sweep_command_says_once_that_a_command_cannot_start_and_exits_2() {
    assert_cannot_start_said_once(&["sweep", "--cases", "20"]);
}

#[test]
fn the_cpu_limit_kills_a_program_that_spins_before_answering() {
    for isolation in isolations("cpu limit") {
        let mark = new_mark("cpu");
        let mut spin = program("while :; do :; done", 120_000, &mark, isolation);
        spin.limits = ProcessLimits {
            cpu_seconds: 1,
            ..ProcessLimits::default()
        };
        let mut subject = start(&spin);
        let message = failure(&mut subject);
        assert!(message.contains("SIGXCPU"), "{message}");
        assert!(
            message.contains("the CPU limit of 1 s, --cpu-seconds") || message.contains("--cpu-seconds 1"),
            "the limit is named: {message}"
        );
        assert_none_left(&mark);
    }
}

#[test]
fn the_memory_limit_stops_an_allocation_past_it() {
    let mark = new_mark("memory");
    let mut hog = program(
        r#"python3 -c "b = bytearray(600 << 20)""#,
        60_000,
        &mark,
        Isolation::ProcessGroup,
    );
    hog.limits = ProcessLimits {
        memory_mb: 300,
        ..ProcessLimits::default()
    };
    let message = failure(&mut start(&hog));
    assert!(
        message.contains("exit status: 1") && message.contains("MemoryError"),
        "{message}"
    );
    assert_none_left(&mark);
}

/// A fresh folder for one test.
fn folder(mark: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gradverify-{mark}"));
    fs::create_dir_all(&dir).expect("create a temporary folder");
    dir
}

#[test]
fn the_file_size_limit_stops_a_large_write() {
    let mark = new_mark("fsize");
    let dir = folder(&mark);
    let mut writer = program(
        "exec head -c 3000000 /dev/zero > big",
        60_000,
        &mark,
        Isolation::ProcessGroup,
    );
    writer.limits = ProcessLimits {
        file_mb: 1,
        ..ProcessLimits::default()
    };
    writer.dir = Some(dir.clone());
    let message = failure(&mut start(&writer));
    let size = fs::metadata(dir.join("big")).map(|m| m.len());
    fs::remove_dir_all(&dir).expect("remove the temporary folder");
    assert!(message.contains("SIGXFSZ"), "{message}");
    assert_eq!(size.ok(), Some(1 << 20));
    assert_none_left(&mark);
}

#[test]
fn the_sandbox_has_no_network_and_writes_only_in_its_folder() {
    if !Isolation::Sandbox.available() {
        println!("skipped: bubblewrap (bwrap) is missing or refused here");
        return;
    }
    let mark = new_mark("sandbox");
    let dir = folder(&mark);
    let outside = PathBuf::from("/var/tmp").join(format!("gradverify-{mark}"));
    let command = format!(
        "echo ok > inside; echo no > {} 2>/dev/null && echo WROTE-OUTSIDE >&2; echo interfaces $(grep -c : /proc/net/dev) >&2; exit 5",
        outside.display()
    );
    let mut sandboxed = program(&command, 30_000, &mark, Isolation::Sandbox);
    sandboxed.limits.sandbox = true;
    sandboxed.dir = Some(dir.clone());
    let message = failure(&mut start(&sandboxed));
    let inside = fs::read_to_string(dir.join("inside"));
    fs::remove_dir_all(&dir).expect("remove the temporary folder");
    assert!(
        message.starts_with("the program exited (exit status: 5)"),
        "{message}"
    );
    assert!(message.contains("interfaces 1"), "only loopback: {message}");
    assert!(!message.contains("WROTE-OUTSIDE"), "{message}");
    assert!(!outside.exists());
    assert_eq!(inside.ok().as_deref(), Some("ok\n"));
    assert_none_left(&mark);
}

#[test]
fn the_sandbox_drops_every_capability_so_root_cannot_remount_or_unmount() {
    if !Isolation::Sandbox.available() {
        println!("skipped: bubblewrap (bwrap) is missing or refused here");
        return;
    }
    let mark = new_mark("caps");
    let dir = folder(&mark);
    let command = "mount -o remount,rw / 2>/dev/null && echo REMOUNTED >&2; umount /tmp 2>/dev/null && echo UNMOUNTED >&2; grep CapEff /proc/self/status >&2; exit 5";
    let mut sandboxed = program(command, 30_000, &mark, Isolation::Sandbox);
    sandboxed.limits.sandbox = true;
    sandboxed.dir = Some(dir.clone());
    let message = failure(&mut start(&sandboxed));
    fs::remove_dir_all(&dir).expect("remove the temporary folder");
    assert!(
        message.starts_with("the program exited (exit status: 5)"),
        "{message}"
    );
    assert!(
        !message.contains("REMOUNTED") && !message.contains("UNMOUNTED"),
        "{message}"
    );
    assert!(message.contains("CapEff:\t0000000000000000"), "{message}");
    assert_none_left(&mark);
}

/// What a program run by `gradverify verify ARGS --seed SECRET` sees of other processes: `ps`, the
/// `/proc/*/cmdline` and `/proc/*/environ` holding the secret, and its parent's command line,
/// read before it answers (through `gradverify serve`). The secret is split in the program's own
/// command line, so that only the verifier's holds it whole.
struct Seen {
    passed: bool,
    ps: Vec<String>,
    holding_secret: String,
    parent: String,
}

fn seen_from_inside(test: &str, args: &[&str]) -> Seen {
    let mark = new_mark(test);
    let dir = folder(&mark);
    let secret = (7_319_532_846_000_000_000 + u64::from(std::process::id())).to_string();
    let (head, tail) = secret.split_at(9);
    // The answering binary is copied into the program's own folder: the sandbox hides the
    // rest of /tmp, where a checkout (and so BIN) may be.
    fs::copy(BIN, dir.join("answer")).expect("copy gradverify into the program's folder");
    let program = format!(
        r#"ps -e -o pid=,args= > ps; S={head}; for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do case "$(tr '\0' ' ' < $f 2>/dev/null)" in *"$S"{tail}*) echo $f;; esac; done > holding; cat /proc/$PPID/cmdline > parent; exec ./answer serve"#
    );
    let out = Command::new(BIN)
        .args(["verify", "--ops", "relu", "--cases", "3", "--timeout", "30"])
        .args(args)
        .args(["--seed", &secret, "--exec", &program])
        .current_dir(&dir)
        .env(MARK, &mark)
        .output()
        .expect("run gradverify verify");
    let read = |name: &str| fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}: {out:?}"));
    let seen = Seen {
        passed: out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 of 1 ops pass"),
        ps: String::from_utf8_lossy(&read("ps"))
            .lines()
            .map(|l| l.trim().to_owned())
            .collect(),
        holding_secret: String::from_utf8_lossy(&read("holding")).into_owned(),
        parent: String::from_utf8_lossy(&read("parent")).replace('\0', " "),
    };
    fs::remove_dir_all(&dir).expect("remove the temporary folder");
    assert_none_left(&mark);
    seen
}

#[test]
fn a_program_sees_only_its_own_processes_not_the_verifiers_command_line() {
    let mut runs: Vec<(&str, &[&str])> = Vec::new();
    if Isolation::PidNamespace.sees_only_its_own_processes() {
        runs.push(("PID namespace", &[]));
    } else {
        println!("own processes: no PID namespace with a /proc of its own here; skipped");
    }
    if Isolation::Sandbox.available() {
        runs.push(("sandbox", &["--sandbox"]));
    } else {
        println!("own processes: bubblewrap (bwrap) is missing or refused here; skipped");
    }
    for (isolation, args) in runs {
        let seen = seen_from_inside("own-processes", args);
        // It still works.
        assert!(seen.passed, "{isolation}");
        assert_eq!(
            seen.holding_secret, "",
            "{isolation}: the verifier's command line is seen"
        );
        // Its parent, process 1 of the namespace (gradverify's init, wiped, or bwrap), is not
        // the verifier.
        assert!(!seen.parent.contains("--seed"), "{isolation}: {}", seen.parent);
        // `ps` lists process 1 and the program's own: the shell and `ps`.
        let own = |line: &String| line.starts_with("1 ") || line.contains("ps -e -o pid=,args=");
        assert!(seen.ps.iter().all(own), "{isolation}: {:?}", seen.ps);
        assert!(seen.ps.len() <= 4, "{isolation}: {:?}", seen.ps);
    }
}

#[test]
fn a_program_that_floods_its_output_is_timed_out_not_followed_for_ever() {
    let mark = new_mark("flood");
    // Endless "late answers": each is skipped, and a line is always ready.
    let mut subject = start(&program(
        r#"yes '{"id": 0}'"#,
        300,
        &mark,
        Isolation::ProcessGroup,
    ));
    assert_eq!(failure(&mut subject), "no answer within 0.3 s (request id 1)");
    assert_eq!(failure(&mut subject), "no answer within 0.3 s (request id 2)");
    assert_none_left(&mark);
}
