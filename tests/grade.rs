//! Grading end to end with real child processes: `gradverify grade` on a class generated from
//! `examples/student.py` (correct, partial, crashing, late, two buggy, one that cannot start,
//! one in a folder whose name needs quoting), checked through its CSV, its JUnit XML (parsed)
//! and each submission's Gradescope `results.json` (parsed); and `verify --format
//! gradescope|junit` with `--points` on a right and a wrong program.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gradverify");

/// The correct program every submission is made from.
fn student() -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/student.py"))
        .expect("read examples/student.py")
}

/// A submission: `student.py` with `old` replaced by `new` (it must be there).
fn variant(old: &str, new: &str) -> String {
    let source = student();
    assert!(
        source.contains(old),
        "examples/student.py no longer holds `{old}`"
    );
    source.replacen(old, new, 1)
}

/// The class: each submission's name and its program (`None`: no program at all).
fn class() -> Vec<(&'static str, Option<String>)> {
    vec![
        ("correct", Some(student())),
        ("it's quoted", Some(student())),
        // sqerr answers "unsupported op".
        (
            "partial",
            Some(variant(
                r#"    if op == "sqerr":"#,
                r#"    if op == "not sqerr":"#,
            )),
        ),
        // Raises on every relu request: relu fails (restarted three times, then given up on), and
        // the ops after it pass in a program started again.
        (
            "crashing",
            Some(variant(
                r#"    if op == "relu":"#,
                "    if op == \"relu\":\n        raise RuntimeError(\"crash in relu\")\n    if op == \"relu\":",
            )),
        ),
        // Correct but 1.5 s per answer: the budget (4 s) runs out during linear's cases.
        (
            "late",
            Some(variant(
                "    op, inputs = ",
                "    __import__(\"time\").sleep(1.5)\n    op, inputs = ",
            )),
        ),
        // dL/db is the first row of dL/da (Eq. 74 not summed).
        (
            "buggy_bias",
            Some(variant(
                "db = [sum(col) for col in zip(*grad_a)]",
                "db = list(grad_a[0])",
            )),
        ),
        // relu passes dL/dh through without the mask (Eq. 47).
        ("buggy_mask", Some(variant("g if v > 0 else 0.0", "g"))),
        ("missing", None),
    ]
}

/// A fresh folder for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gradverify-grade-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// Writes the submissions into `dir`, each program an executable `student.py`.
fn write_class(dir: &Path, class: &[(&str, Option<String>)]) {
    for (name, program) in class {
        let folder = dir.join(name);
        fs::create_dir_all(&folder).expect("create a submission folder");
        if let Some(program) = program {
            let path = folder.join("student.py");
            fs::write(&path, program).expect("write a submission");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod +x");
        }
    }
}

fn gradverify(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run gradverify")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The first element inside `suite`'s testcase `op` (none for a pass).
fn first_element<'a, 'i>(suite: roxmltree::Node<'a, 'i>, op: &str) -> Option<roxmltree::Node<'a, 'i>> {
    let case = suite
        .children()
        .find(|c| c.has_tag_name("testcase") && c.attribute("name") == Some(op))
        .unwrap_or_else(|| panic!("no testcase {op}"));
    case.children().find(|c| c.is_element())
}

/// The CSV's rows as maps from column to value.
fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("read the CSV");
    let header = reader.headers().expect("a header").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("a CSV record");
            header
                .iter()
                .map(str::to_owned)
                .zip(r.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

#[test]
fn a_generated_class_is_graded_into_a_csv_junit_xml_and_gradescope_results() {
    let dir = scratch("class");
    let class_dir = dir.join("class");
    write_class(&class_dir, &class());
    let (csv, junit, out) = (dir.join("grades.csv"), dir.join("grades.xml"), dir.join("out"));
    let run = gradverify(&[
        "grade",
        class_dir.to_str().unwrap(),
        "--exec",
        "./student.py",
        "--cases",
        "4",
        "--ops",
        "linear,relu,sqerr,mlp",
        "--points",
        "linear=2,mlp=3",
        "--budget-seconds",
        "4",
        "--jobs",
        "2",
        "--csv",
        csv.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "grading finished, whatever the scores:\n{}",
        text(&run)
    );

    // The table: a row per submission, in name order.
    let table = String::from_utf8_lossy(&run.stdout).to_string();
    let names: Vec<&str> = table
        .lines()
        .skip(1)
        .take(8)
        .map(|l| l.split("  ").next().unwrap().trim())
        .collect();
    assert_eq!(
        names,
        [
            "buggy_bias",
            "buggy_mask",
            "correct",
            "crashing",
            "it's quoted",
            "late",
            "missing",
            "partial"
        ],
        "{table}"
    );

    // The CSV: score, an outcome per op, codes and the reason.
    let rows = csv_rows(&csv);
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["submission"] == name)
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    let outcomes = |name: &str| ["linear", "relu", "sqerr", "mlp"].map(|op| row(name)[op].clone());
    assert_eq!(rows.len(), 8);
    for name in ["correct", "it's quoted"] {
        assert_eq!(
            (row(name)["score"].as_str(), row(name)["max_score"].as_str()),
            ("7", "7")
        );
        assert_eq!(outcomes(name), ["pass"; 4]);
        assert_eq!(row(name)["reason"], "");
    }
    assert_eq!(row("partial")["score"], "6");
    assert_eq!(outcomes("partial"), ["pass", "pass", "not_implemented", "pass"]);
    assert!(
        row("partial")["reason"].contains("sqerr: not implemented"),
        "{:?}",
        row("partial")
    );

    // A crash in relu costs relu's point only: the program is started again for the next op.
    assert_eq!(row("crashing")["score"], "6");
    assert_eq!(outcomes("crashing"), ["pass", "fail", "pass", "pass"]);
    assert!(
        row("crashing")["codes"].contains("relu:exited"),
        "{:?}",
        row("crashing")
    );
    assert!(
        row("crashing")["reason"].contains("RuntimeError: crash in relu"),
        "{:?}",
        row("crashing")
    );

    assert_eq!(row("late")["score"], "0");
    assert_eq!(outcomes("late"), ["fail", "not_run", "not_run", "not_run"]);
    assert_eq!(row("late")["codes"], "linear:out_of_time");
    assert!(
        row("late")["reason"].starts_with("the submission's time budget of 4 s ran out"),
        "{:?}",
        row("late")
    );

    assert_eq!(row("buggy_bias")["linear"], "fail");
    assert_eq!(row("buggy_bias")["relu"], "pass");
    assert!(
        row("buggy_bias")["codes"].contains("linear:bias_not_summed"),
        "{:?}",
        row("buggy_bias")
    );
    assert_eq!(
        outcomes("buggy_mask")[..2],
        ["pass".to_owned(), "fail".to_owned()]
    );
    assert!(
        row("buggy_mask")["codes"].contains("relu:mask_missing"),
        "{:?}",
        row("buggy_mask")
    );

    assert_eq!(row("missing")["score"], "0");
    assert_eq!(outcomes("missing"), ["not_run"; 4]);
    assert!(
        row("missing")["reason"].starts_with("the command could not start (exit status: 127)"),
        "{:?}",
        row("missing")
    );

    // The JUnit XML: a testsuite per submission, a testcase per op.
    let xml = fs::read_to_string(&junit).expect("read the JUnit XML");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<roxmltree::Node> = root.children().filter(|n| n.has_tag_name("testsuite")).collect();
    assert_eq!(suites.len(), 8);
    let suite = |name: &str| *suites.iter().find(|s| s.attribute("name") == Some(name)).unwrap();
    for s in &suites {
        assert_eq!(s.attribute("tests"), Some("4"));
    }
    assert_eq!(suite("it's quoted").attribute("failures"), Some("0"));
    assert!(
        first_element(suite("correct"), "linear").is_none(),
        "a pass is a bare testcase"
    );
    let bias = first_element(suite("buggy_bias"), "linear").expect("a failure");
    assert_eq!(
        (bias.tag_name().name(), bias.attribute("type")),
        ("failure", Some("fail"))
    );
    assert!(
        bias.text().unwrap().contains("bias gradient not summed"),
        "the failure carries the report"
    );
    let unsupported = first_element(suite("partial"), "sqerr").expect("a failure");
    assert_eq!(unsupported.attribute("type"), Some("not_implemented"));
    assert!(
        unsupported
            .attribute("message")
            .unwrap()
            .contains("\"unsupported op\"")
    );
    let not_started = first_element(suite("missing"), "relu").expect("an error");
    assert_eq!(
        (not_started.tag_name().name(), not_started.attribute("type")),
        ("error", Some("not_run"))
    );
    assert_eq!(suite("missing").attribute("errors"), Some("4"));
    let score = |s: roxmltree::Node| {
        s.descendants()
            .find(|p| p.has_tag_name("property") && p.attribute("name") == Some("score"))
            .and_then(|p| p.attribute("value"))
            .map(str::to_owned)
    };
    assert_eq!(score(suite("partial")).as_deref(), Some("6"));

    // Each submission's folder: Gradescope's results.json, the reports as JSON and as text.
    let results = |name: &str| -> Value {
        serde_json::from_str(&fs::read_to_string(out.join(name).join("results.json")).expect("results.json"))
            .expect("results.json is JSON")
    };
    let partial = results("partial");
    assert_eq!(partial["score"], 6.0);
    let tests = partial["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 4);
    assert_eq!(
        (tests[0]["name"].as_str(), tests[0]["max_score"].as_f64()),
        (Some("linear"), Some(2.0))
    );
    assert_eq!(tests[2]["status"], "failed");
    assert_eq!(tests[2]["score"], 0.0);
    assert!(tests[2]["output"].as_str().unwrap().contains("NOT IMPLEMENTED"));
    assert_eq!(tests[3]["status"], "passed");
    assert_eq!(tests[3]["score"], 3.0);
    assert_eq!(results("missing")["score"], 0.0);
    assert!(
        results("missing")["output"]
            .as_str()
            .unwrap()
            .contains("could not start")
    );
    let report: Value =
        serde_json::from_str(&fs::read_to_string(out.join("buggy_mask/report.json")).unwrap()).unwrap();
    assert_eq!(
        report["reports"][1]["findings"][0]["diagnosis"]["code"],
        "mask_missing"
    );
    let report_text = fs::read_to_string(out.join("crashing/report.txt")).unwrap();
    assert!(
        report_text.contains("the program exited (exit status: 1)"),
        "{report_text}"
    );

    // And each other autograder's file: PrairieLearn's results (score a fraction of the
    // points), Autolab's output (its last line the scores) and JUnit XML for CodeGrade.
    let prairielearn: Value =
        serde_json::from_str(&fs::read_to_string(out.join("partial/prairielearn.json")).unwrap())
            .expect("prairielearn.json is JSON");
    assert_eq!(prairielearn["gradable"], Value::from(true));
    assert_eq!(prairielearn["score"], Value::from(6.0 / 7.0));
    assert_eq!(prairielearn["tests"][2]["points"], Value::from(0.0));
    let autolab = fs::read_to_string(out.join("crashing/autolab.txt")).unwrap();
    let last: Value = serde_json::from_str(autolab.lines().last().unwrap()).expect("a JSON last line");
    assert_eq!(
        last["scores"],
        serde_json::json!({"linear": 2.0, "relu": 0.0, "sqerr": 1.0, "mlp": 3.0})
    );
    let xml = fs::read_to_string(out.join("buggy_bias/junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("junit.xml is well-formed");
    let failed: Vec<&str> = (doc.descendants())
        .filter(|n| n.has_tag_name("failure"))
        .filter_map(|n| n.parent()?.attribute("name"))
        .collect();
    assert_eq!(failed, ["linear", "mlp"], "{xml}");
    fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn shards_split_the_class_in_name_order_and_together_grade_it_once() {
    let dir = scratch("shards");
    let class_dir = dir.join("class");
    let class = [("alice", Some(student())), ("bob", None), ("carol", None)];
    write_class(&class_dir, &class);
    let mut graded = Vec::new();
    for shard in ["1/2", "2/2"] {
        let csv = dir.join(format!("{}.csv", shard.replace('/', "of")));
        let run = gradverify(&[
            "grade",
            class_dir.to_str().unwrap(),
            "--exec",
            "./student.py",
            "--ops",
            "relu",
            "--cases",
            "2",
            "--shard",
            shard,
            "--csv",
            csv.to_str().unwrap(),
        ]);
        assert_eq!(run.status.code(), Some(0), "{}", text(&run));
        graded.push(
            csv_rows(&csv)
                .iter()
                .map(|r| r["submission"].clone())
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(graded, [vec!["alice"], vec!["bob", "carol"]]);
    fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn output_paths_are_checked_before_grading_and_a_planted_link_is_not_written_through() {
    let dir = scratch("outputs");
    let class = dir.join("class");
    write_class(&class, &[("alice", Some(student()))]);
    // A folder where the CSV goes: said before any submission runs (no table, exit 2).
    let csv_folder = dir.join("grades.csv");
    fs::create_dir(&csv_folder).unwrap();
    let run = gradverify(&[
        "grade",
        class.to_str().unwrap(),
        "--exec",
        "python3 student.py",
        "--csv",
        csv_folder.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(
        text(&run).contains("grades.csv") && text(&run).contains("is a folder"),
        "{}",
        text(&run)
    );
    assert!(
        !text(&run).contains("alice"),
        "nothing was graded: {}",
        text(&run)
    );

    // A link where a report goes (as a program could plant while it runs): replaced, not
    // followed; the file it points at is left alone.
    let out = dir.join("out");
    fs::create_dir_all(out.join("alice")).unwrap();
    let victim = dir.join("victim");
    fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, out.join("alice/report.txt")).unwrap();
    let csv = dir.join("real.csv");
    let run = gradverify(&[
        "grade",
        class.to_str().unwrap(),
        "--exec",
        "python3 student.py",
        "--ops",
        "relu",
        "--csv",
        csv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = fs::read_to_string(out.join("alice/report.txt")).unwrap();
    let victim_now = fs::read_to_string(&victim).unwrap();
    fs::remove_dir_all(&dir).expect("clean up");
    assert_eq!(victim_now, "precious");
    assert!(report.contains("relu"), "{report}");
}

#[test]
fn what_a_student_writes_reaches_no_terminal_file_or_spreadsheet_raw() {
    let dir = scratch("escapes");
    let class = dir.join("class");
    // A folder name that is a formula, a program that clears the screen, rings and crashes.
    let program = "#!/bin/sh\nprintf 'boom\\033[2J\\007\\000 done\\n' >&2\nexit 3\n".to_owned();
    write_class(&class, &[("=HYPERLINK(1)", Some(program))]);
    let (csv, out) = (dir.join("grades.csv"), dir.join("out"));
    let run = gradverify(&[
        "grade",
        class.to_str().unwrap(),
        "--exec",
        "./student.py",
        "--ops",
        "relu",
        "--csv",
        csv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let csv_text = fs::read_to_string(&csv).unwrap();
    let report = fs::read_to_string(out.join("=HYPERLINK(1)/report.txt")).unwrap();
    fs::remove_dir_all(&dir).expect("clean up");
    let raw = |t: &str| {
        t.chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    };
    for (what, t) in [
        ("table", String::from_utf8_lossy(&run.stdout).to_string()),
        ("CSV", csv_text.clone()),
        ("report.txt", report.clone()),
    ] {
        assert!(!raw(&t), "{what} carries a raw control character: {t:?}");
    }
    assert!(report.contains("boom\\x1b[2J\\x07\\x00 done"), "{report}");
    assert!(csv_text.contains("\n'=HYPERLINK(1),"), "{csv_text}");
}

#[test]
fn bad_usage_of_grade_exits_2_naming_the_argument() {
    let dir = scratch("usage");
    let nowhere = dir.join("nowhere");
    for (args, says) in [
        (
            vec!["grade", nowhere.to_str().unwrap(), "--exec", "true"],
            "argument `DIR`",
        ),
        (vec!["grade", dir.to_str().unwrap(), "--exec", "true"], "has none"),
        (
            vec!["grade", dir.to_str().unwrap(), "--exec", "true", "--shard", "3/2"],
            "--shard",
        ),
        (
            vec!["grade", dir.to_str().unwrap(), "--exec", "true", "--jobs", "0"],
            "--jobs",
        ),
        (
            vec![
                "grade",
                dir.to_str().unwrap(),
                "--exec",
                "true",
                "--budget-seconds",
                "0",
            ],
            "--budget-seconds",
        ),
        (
            vec![
                "grade",
                dir.to_str().unwrap(),
                "--exec",
                "true",
                "--points",
                "relu=x",
            ],
            "--points",
        ),
        (
            vec![
                "grade",
                dir.to_str().unwrap(),
                "--exec",
                "true",
                "--ops",
                "relu",
                "--points",
                "mlp=2",
            ],
            "points only for the ops checked (relu)",
        ),
    ] {
        let run = gradverify(&args);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", text(&run));
        assert!(
            text(&run).contains(says),
            "{args:?} should say {says}: {}",
            text(&run)
        );
    }
    fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn verify_writes_gradescope_results_and_junit_with_points() {
    let dir = scratch("verify");
    write_class(
        &dir,
        &[
            ("right", Some(student())),
            ("wrong", Some(variant("g if v > 0 else 0.0", "g"))),
        ],
    );
    let program = |name: &str| dir.join(name).join("student.py").to_str().unwrap().to_owned();
    let run = |name: &str, format: &str| {
        gradverify(&[
            "verify",
            "--exec",
            &program(name),
            "--ops",
            "linear,relu",
            "--cases",
            "4",
            "--points",
            "relu=2.5",
            "--format",
            format,
        ])
    };
    let right = run("right", "gradescope");
    assert_eq!(right.status.code(), Some(0), "{}", text(&right));
    let results: Value = serde_json::from_slice(&right.stdout).expect("results.json on stdout");
    assert_eq!(results["score"], 3.5);
    assert_eq!(results["tests"][1]["max_score"], 2.5);
    assert_eq!(results["tests"][1]["status"], "passed");

    let wrong = run("wrong", "gradescope");
    assert_eq!(
        wrong.status.code(),
        Some(1),
        "the exit status still says fail: {}",
        text(&wrong)
    );
    let results: Value = serde_json::from_slice(&wrong.stdout).expect("results.json on stdout");
    assert_eq!(results["score"], 1.0);
    assert_eq!(results["tests"][1]["status"], "failed");
    assert!(
        results["tests"][1]["output"]
            .as_str()
            .unwrap()
            .contains("relu mask missing")
    );

    let wrong = run("wrong", "junit");
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    let xml = String::from_utf8(wrong.stdout).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let failures: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("failure")).collect();
    assert_eq!(failures.len(), 1, "{xml}");
    assert_eq!(failures[0].parent().unwrap().attribute("name"), Some("relu"));
    assert_eq!(failures[0].attribute("message"), Some("dL/da: wrong values"));
    fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn verify_writes_prairielearn_results_and_autolabs_last_line() {
    let dir = scratch("platforms");
    write_class(
        &dir,
        &[
            ("right", Some(student())),
            ("wrong", Some(variant("g if v > 0 else 0.0", "g"))),
        ],
    );
    let run = |name: &str, format: &str| {
        let program = dir.join(name).join("student.py");
        let out = gradverify(&[
            "verify",
            "--exec",
            program.to_str().unwrap(),
            "--ops",
            "linear,relu",
            "--cases",
            "4",
            "--points",
            "relu=3",
            "--format",
            format,
        ]);
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let right: Value = serde_json::from_str(&run("right", "prairielearn")).expect("JSON");
    let wrong: Value = serde_json::from_str(&run("wrong", "prairielearn")).expect("JSON");
    let autolab = run("wrong", "autolab");
    let missing = gradverify(&[
        "verify",
        "--exec",
        "./no_such_program",
        "--format",
        "prairielearn",
    ]);
    fs::remove_dir_all(&dir).expect("clean up");
    assert_eq!(missing.status.code(), Some(2));
    let ungradable: Value = serde_json::from_slice(&missing.stdout).expect("JSON");
    assert_eq!(ungradable["gradable"], Value::from(false), "{ungradable:#}");
    assert!(
        ungradable["format_errors"][0]
            .as_str()
            .unwrap()
            .contains("no_such_program")
    );
    assert_eq!(
        (right["gradable"].clone(), right["score"].clone()),
        (Value::from(true), Value::from(1.0))
    );
    // relu (3 of 4 points) fails: a quarter of the marks.
    assert_eq!(wrong["score"], Value::from(0.25));
    assert_eq!(wrong["tests"][1]["name"], "relu");
    assert_eq!(wrong["tests"][1]["points"], Value::from(0.0));
    assert!(
        wrong["tests"][1]["message"]
            .as_str()
            .unwrap()
            .contains("mask_missing")
            || wrong["tests"][1]["output"]
                .as_str()
                .unwrap()
                .contains("mask_missing"),
        "{wrong:#}"
    );
    let last: Value = serde_json::from_str(autolab.lines().last().expect("a last line")).expect("JSON");
    assert_eq!(last["scores"], serde_json::json!({"linear": 1.0, "relu": 0.0}));
    assert!(autolab.contains("relu ("), "the reports come first: {autolab}");
}
