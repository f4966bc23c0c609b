//! The class report (`grade --html`) and one program's page (`verify --html`) opened in a real
//! browser, headless Chromium from Debian's packages (`.ci/run` installs it; elsewhere the tests
//! skip with a message unless `GRADVERIFY_REQUIRE_CHROMIUM` is set): each page loads with no
//! console error and asks for nothing outside itself, the histogram's bars add up to the class
//! and their drawn heights follow their counts, and a wrong gradient's heat map is drawn. A
//! screenshot of each page is saved to `target/screenshots/` (or `$GRADVERIFY_SCREENSHOTS`), for
//! CI's artifacts.

mod cdp;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gradverify");

/// The browser, or `None` (with a message) where there is none and none is required.
fn chromium() -> Option<PathBuf> {
    let found = cdp::find();
    if found.is_none() {
        assert!(
            std::env::var_os("GRADVERIFY_REQUIRE_CHROMIUM").is_none(),
            "no chromium runs here (GRADVERIFY_CHROMIUM or /usr/bin/chromium), and GRADVERIFY_REQUIRE_CHROMIUM is set"
        );
        eprintln!("skipped: no chromium (apt-get install chromium, or set GRADVERIFY_CHROMIUM)");
    }
    found
}

/// `examples/student.py` with `old` replaced by `new`.
fn variant(old: &str, new: &str) -> String {
    let source = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/student.py"))
        .expect("read examples/student.py");
    assert!(
        source.contains(old),
        "examples/student.py no longer holds `{old}`"
    );
    source.replacen(old, new, 1)
}

/// A class of seven: two correct, a missing mask, a bias not summed, an op left out, a crash
/// in linear, and a folder with no program.
fn write_class(dir: &Path) -> usize {
    let correct = variant("", "");
    let class = [
        ("alice", Some(correct.clone())),
        ("bob", Some(correct)),
        ("carol_mask", Some(variant("g if v > 0 else 0.0", "g"))),
        (
            "dave_bias",
            Some(variant(
                "db = [sum(col) for col in zip(*grad_a)]",
                "db = list(grad_a[0])",
            )),
        ),
        (
            "erin <partial>",
            Some(variant(
                r#"    if op == "sqerr":"#,
                r#"    if op == "not sqerr":"#,
            )),
        ),
        (
            "frank_crash",
            Some(variant(
                r#"    if op == "linear":"#,
                "    if op == \"linear\":\n        raise SystemExit(1)\n    if op == \"linear\":",
            )),
        ),
        ("gina_missing", None),
    ];
    for (name, program) in &class {
        let folder = dir.join(name);
        fs::create_dir_all(&folder).expect("create a submission folder");
        if let Some(program) = program {
            let path = folder.join("student.py");
            fs::write(&path, program).expect("write a submission");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod +x");
        }
    }
    class.len()
}

/// A fresh folder for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gradverify-browser-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// Saves a screenshot for CI's artifacts and checks it is a PNG.
fn save(png: &[u8], name: &str) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: not a PNG");
    let dir = std::env::var_os("GRADVERIFY_SCREENSHOTS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots"),
        PathBuf::from,
    );
    fs::create_dir_all(&dir).expect("create the screenshots' folder");
    fs::write(dir.join(name), png).expect("save a screenshot");
    eprintln!("screenshot: {}", dir.join(name).display());
}

/// Fails on any console error or any request for something outside the page's own files.
fn assert_clean(browser: &cdp::Browser, page: &str) {
    assert!(browser.errors().is_empty(), "{page}: {:#?}", browser.errors());
    let outside: Vec<String> = (browser.requests().into_iter())
        .filter(|url| !url.starts_with("file://") && !url.starts_with("about:"))
        .collect();
    assert!(outside.is_empty(), "{page} asked for {outside:?}");
}

/// The drawn heat maps: how many, and how many of their cells are coloured (not white).
const HEAT_MAPS: &str = r#"(() => {
    const maps = [...document.querySelectorAll("svg.heatmap")];
    const drawn = maps.filter(m => m.getBoundingClientRect().width > 50 && m.getBoundingClientRect().height > 20);
    const coloured = [...document.querySelectorAll("svg.heatmap rect")]
        .filter(r => getComputedStyle(r).fill !== "rgb(255, 255, 255)").length;
    return { maps: maps.length, drawn: drawn.length, coloured };
})()"#;

#[test]
fn the_class_report_opens_in_chromium_with_a_histogram_that_adds_up_to_the_class() {
    let Some(chromium) = chromium() else { return };
    let dir = scratch("class");
    let class = write_class(&dir.join("class"));
    let html = dir.join("html");
    let run = Command::new(BIN)
        .args([
            "grade",
            dir.join("class").to_str().unwrap(),
            "--exec",
            "./student.py",
        ])
        .args([
            "--cases",
            "6",
            "--ops",
            "linear,relu,sqerr,mlp",
            "--jobs",
            "2",
            "--quiet",
        ])
        .args(["--html", html.to_str().unwrap()])
        .output()
        .expect("run gradverify grade");
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let mut browser = cdp::Browser::start(&chromium, 1280, 1000);
    let index = html.join("index.html");
    browser.open(&format!("file://{}", index.display()));
    let bars = browser.evaluate(
        r#"[...document.querySelectorAll("svg.histogram rect.bar")].map(b => ({
            count: Number(b.dataset.count), score: b.dataset.score, height: b.getBoundingClientRect().height }))"#,
    );
    let bars = bars.as_array().expect("the bars");
    let total: u64 = bars.iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(total as usize, class, "the bars add up to the class: {bars:?}");
    let scores: Vec<&str> = bars.iter().map(|b| b["score"].as_str().unwrap()).collect();
    assert_eq!(scores, ["0", "1", "2", "3", "4"], "one bar per reachable score");
    // Drawn heights follow the counts: the tallest bar is the most common score, an empty bar
    // has no height, and each is in proportion.
    let tallest = bars
        .iter()
        .map(|b| b["count"].as_f64().unwrap())
        .fold(0.0, f64::max);
    let full = bars
        .iter()
        .map(|b| b["height"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(full > 100.0, "the tallest bar is drawn: {bars:?}");
    for bar in bars {
        let expected = full * bar["count"].as_f64().unwrap() / tallest;
        assert!(
            (bar["height"].as_f64().unwrap() - expected).abs() < 1.0,
            "{bar} against {expected}"
        );
    }
    let rows = browser.evaluate(r#"document.querySelectorAll("a[href^='submissions/']").length"#);
    assert_eq!(rows, Value::from(class), "a link per submission");
    let codes = browser.evaluate(r#"document.body.innerText"#);
    let text = codes.as_str().unwrap();
    for code in ["mask_missing", "bias_not_summed"] {
        assert!(text.contains(code), "the common codes name {code}:\n{text}");
    }
    assert!(
        text.contains("erin <partial>"),
        "the name is shown as text, not markup"
    );
    assert_clean(&browser, "index.html");
    save(&browser.screenshot(), "class-report.png");

    // A failing submission's page: its heat maps are drawn, the wrong cells coloured.
    let link = browser.evaluate(
        r#"[...document.querySelectorAll("a[href^='submissions/']")].find(a => a.textContent === "carol_mask").href"#,
    );
    browser.open(link.as_str().expect("carol's page"));
    let maps = browser.evaluate(HEAT_MAPS);
    assert!(maps["drawn"].as_u64().unwrap() >= 1, "{maps}");
    assert!(maps["coloured"].as_u64().unwrap() >= 1, "{maps}");
    assert_clean(&browser, "carol_mask's page");
    save(&browser.screenshot(), "class-report-submission.png");
    drop(browser);
    fs::remove_dir_all(&dir).expect("remove the scratch folder");
}

#[test]
fn one_programs_page_shows_the_wrong_gradient_as_a_heat_map() {
    let Some(chromium) = chromium() else { return };
    let dir = scratch("verify");
    let program = dir.join("student.py");
    fs::write(
        &program,
        variant("db = [sum(col) for col in zip(*grad_a)]", "db = list(grad_a[0])"),
    )
    .expect("write the program");
    let page = dir.join("report.html");
    let run = Command::new(BIN)
        .args(["verify", "--exec", &format!("python3 {}", program.display())])
        .args([
            "--ops",
            "linear,relu",
            "--cases",
            "8",
            "--html",
            page.to_str().unwrap(),
        ])
        .output()
        .expect("run gradverify verify");
    assert_eq!(
        run.status.code(),
        Some(1),
        "linear fails: {}",
        String::from_utf8_lossy(&run.stdout)
    );

    let mut browser = cdp::Browser::start(&chromium, 1100, 900);
    browser.open(&format!("file://{}", page.display()));
    let maps = browser.evaluate(HEAT_MAPS);
    assert!(maps["drawn"].as_u64().unwrap() >= 1, "{maps}");
    let text = browser.evaluate("document.body.innerText");
    let text = text.as_str().unwrap();
    assert!(
        text.contains("bias_not_summed") && text.contains("dL/db"),
        "{text}"
    );
    assert_clean(&browser, "report.html");
    save(&browser.screenshot(), "verify-report.png");
    drop(browser);
    fs::remove_dir_all(&dir).expect("remove the scratch folder");
}
