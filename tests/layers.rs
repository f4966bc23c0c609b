//! The crate's layers, read from its source: no module uses a module that uses it back, and the
//! layers run one way (the op catalogue at the bottom, the protocol only converting it, the
//! verifier above both, the claims and benches above the verifier).
//!
//! A module is a file of `src/`. It *uses* another where it names it by path (`crate::…`,
//! `super::…`, `self::…`, or a child module's name), outside comments and its `#[cfg(test)]`
//! module. A re-export (`pub use`) is a module's face, not a use: `ops/mod.rs` re-exports
//! `ops::linear::Linear`, which uses `ops::Op` from it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// A module's path below the crate root: `["verify", "ops", "linear"]`.
type ModPath = Vec<String>;

/// One file module: its code (no comments, tests or re-exports) and its re-exports, each item's
/// name with the path it re-exports.
struct Source {
    code: String,
    reexports: BTreeMap<String, Vec<String>>,
}

/// Every file module of `src/` with the modules it uses.
fn graph() -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mut sources = BTreeMap::new();
    read_dir(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src").as_path(),
        &mut Vec::new(),
        &mut sources,
    );
    let modules: BTreeSet<ModPath> = sources.keys().cloned().collect();
    let reexports: BTreeMap<ModPath, BTreeMap<String, Vec<String>>> = (sources.iter())
        .map(|(m, s)| (m.clone(), s.reexports.clone()))
        .collect();
    let crate_ = Crate {
        modules: &modules,
        reexports: &reexports,
    };
    sources
        .iter()
        .map(|(module, source)| {
            let imports = imports(&source.code);
            let names: Vec<String> = children(&source.code)
                .into_iter()
                .chain(imports.keys().cloned())
                .collect();
            let uses = named_paths(&source.code, &names)
                .into_iter()
                .map(|path| match imports.get(&path[0]) {
                    Some(imported) if !["crate", "super", "self"].contains(&path[0].as_str()) => {
                        imported.iter().chain(&path[1..]).cloned().collect()
                    }
                    _ => path,
                })
                .filter_map(|path| crate_.resolve(module, &path, 0))
                .filter(|used| used != module)
                .collect();
            (module.clone(), uses)
        })
        .collect()
}

fn read_dir(dir: &Path, prefix: &mut Vec<String>, out: &mut BTreeMap<ModPath, Source>) {
    let mut entries: Vec<_> = fs::read_dir(dir).expect("src/ is readable").flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            prefix.push(name);
            read_dir(&path, prefix, out);
            prefix.pop();
        } else if let Some(stem) = name.strip_suffix(".rs") {
            let mut module = prefix.clone();
            if !matches!(stem, "mod" | "lib" | "main") {
                module.push(stem.to_owned());
            }
            let text = fs::read_to_string(&path).expect("a source file is text");
            let (code, faces) = code_of(&text);
            let reexports = named_paths(&faces, &children(&code))
                .into_iter()
                .filter_map(|p| Some((p.last()?.clone(), p)))
                .collect();
            out.insert(module, Source { code, reexports });
        }
    }
}

/// The source without comments, its test module and its re-exports; and the re-exports.
fn code_of(source: &str) -> (String, String) {
    let code: String = source
        .lines()
        .map(|line| line.split_once("//").map_or(line, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n");
    let code = code.split("#[cfg(test)]").next().unwrap_or_default();
    let (mut kept, mut faces) = (String::new(), String::new());
    let mut rest = code;
    while let Some(start) = rest.find("pub use ").or_else(|| rest.find("pub(crate) use ")) {
        kept.push_str(&rest[..start]);
        let (face, after) = rest[start..].split_once(';').unwrap_or((&rest[start..], ""));
        faces.push_str(face);
        faces.push_str(";\n");
        rest = after;
    }
    kept.push_str(rest);
    (kept, faces)
}

/// The names the code's `use` statements bring in, each with its path (`use super::ops::{self,
/// VerifiedOp}` brings `ops` and `VerifiedOp`).
fn imports(code: &str) -> BTreeMap<String, Vec<String>> {
    let children = children(code);
    let statements: String = code
        .split(';')
        .filter_map(|s| Some(format!("{};", s.trim_start().strip_prefix("use ")?)))
        .collect();
    named_paths(&statements, &children)
        .into_iter()
        .filter_map(|mut path| {
            if path.last().is_some_and(|l| l == "self") {
                path.pop();
            }
            Some((path.last()?.clone(), path))
        })
        .collect()
}

/// The child modules the code declares (`mod linear;`).
fn children(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = (l.strip_prefix("pub "))
                .or_else(|| l.strip_prefix("pub(crate) "))
                .unwrap_or(l);
            l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .collect()
}

/// Every path the code names that may lead to a module of the crate, as segments; the items of
/// a `use a::{b, c::d}` group each as their own path.
fn named_paths(code: &str, names: &[String]) -> Vec<Vec<String>> {
    let starts = |word: &str| ["crate", "super", "self"].contains(&word) || names.iter().any(|c| c == word);
    let mut paths = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let boundary =
            i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_' || bytes[i - 1] == ':');
        if boundary && (bytes[i].is_alphabetic() || bytes[i] == '_') {
            let (path, end) = path_at(&bytes, i);
            let group = bytes.get(end) == Some(&'{');
            if (path.len() > 1 || group) && starts(&path[0]) {
                paths.push(path.clone());
                if group {
                    let close = (end..bytes.len())
                        .find(|&k| bytes[k] == '}')
                        .unwrap_or(bytes.len());
                    let group: String = bytes[end + 1..close].iter().collect();
                    for item in group.split(',') {
                        let item: Vec<String> =
                            item.trim().split("::").map(|s| s.trim().to_owned()).collect();
                        paths.push(path.iter().cloned().chain(item).collect());
                    }
                }
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    paths
}

/// The path `a::b::c` starting at `i`, and where it ends (after a trailing `::`, at a group).
fn path_at(chars: &[char], mut i: usize) -> (Vec<String>, usize) {
    let mut segments = Vec::new();
    loop {
        let start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        segments.push(chars[start..i].iter().collect());
        if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
            i += 2;
            if !chars.get(i).is_some_and(|c| c.is_alphabetic() || *c == '_') {
                return (segments, i);
            }
        } else {
            return (segments, i);
        }
    }
}

/// The crate's modules and what each re-exports.
struct Crate<'a> {
    modules: &'a BTreeSet<ModPath>,
    reexports: &'a BTreeMap<ModPath, BTreeMap<String, Vec<String>>>,
}

impl Crate<'_> {
    /// The module whose item `path` (named in `module`) is: the deepest module on the path, or,
    /// where the item is a re-export, the module it comes from.
    fn resolve(&self, module: &ModPath, path: &[String], depth: usize) -> Option<ModPath> {
        let (mut base, rest) = match path[0].as_str() {
            "crate" => (Vec::new(), &path[1..]),
            "self" => (module.clone(), &path[1..]),
            "super" => {
                let supers = path.iter().take_while(|s| *s == "super").count();
                (
                    module[..module.len().checked_sub(supers)?].to_vec(),
                    &path[supers..],
                )
            }
            _ => (module.clone(), path),
        };
        let mut deepest = None;
        for segment in rest {
            base.push(segment.clone());
            if self.modules.contains(&base) {
                deepest = Some(base.clone());
                continue;
            }
            base.pop();
            let reexport = self.reexports.get(&base).and_then(|r| r.get(segment));
            if let Some(target) = reexport.filter(|_| depth < 8) {
                return self.resolve(&base, target, depth + 1).or(deepest);
            }
            break;
        }
        deepest
    }
}

/// The modules that lie on a cycle of uses, each cycle as a list.
fn cycles(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<String>> {
    let reaches = |from: &ModPath, to: &ModPath| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(m) = stack.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if next == to {
                    return true;
                }
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        false
    };
    let mut found: Vec<Vec<String>> = Vec::new();
    for (module, uses) in graph {
        for used in uses {
            if reaches(used, module) {
                found.push(vec![module.join("/"), used.join("/")]);
            }
        }
    }
    found
}

#[test]
fn no_module_uses_a_module_that_uses_it_back() {
    let graph = graph();
    assert!(graph.len() > 100, "the source was read: {} modules", graph.len());
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "uses that close a cycle (module -> used): {found:?}"
    );
}

#[test]
fn the_layers_run_one_way() {
    let graph = graph();
    let under =
        |m: &ModPath, prefix: &[&str]| m.len() >= prefix.len() && m.iter().zip(prefix).all(|(a, b)| a == b);
    let forbidden: [(&[&str], &[&str]); 7] = [
        (&["catalogue"], &["verify"]),
        (&["catalogue"], &["protocol"]),
        (&["protocol"], &["verify"]),
        (&["verify"], &["claims"]),
        (&["oracle"], &["verify"]),
        (&["verify", "hypotheses"], &["verify", "ops"]),
        (&["verify", "report"], &["verify", "ops"]),
    ];
    let mut broken = Vec::new();
    for (module, uses) in &graph {
        for used in uses {
            for (lower, upper) in forbidden {
                if under(module, lower) && under(used, upper) {
                    broken.push(format!("{} uses {}", module.join("/"), used.join("/")));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
    let hypotheses = &graph[&vec!["verify".to_owned(), "hypotheses".to_owned()]];
    assert!(
        hypotheses
            .iter()
            .all(|m| under(m, &["verify", "hypotheses"]) || !under(m, &["verify"])),
        "hypotheses use the verifier above them: {hypotheses:?}"
    );
}

#[test]
fn the_reader_sees_a_use_through_a_reexport_and_a_cycle_where_there_is_one() {
    let owned = |ms: &[&[&str]]| -> Vec<ModPath> {
        ms.iter()
            .map(|m| m.iter().map(|s| (*s).to_owned()).collect())
            .collect()
    };
    let code = "use super::diagnose::{Diagnosis, ev::Evidence};\nmod child;\nfn f() { child::g(); }";
    let paths = named_paths(code, &children(code));
    let modules: BTreeSet<ModPath> = owned(&[
        &["a"],
        &["a", "diagnose"],
        &["a", "diagnose", "ev"],
        &["a", "b", "child"],
        &["a", "report"],
    ])
    .into_iter()
    .collect();
    // a/diagnose re-exports Diagnosis from a/report.
    let reexports = BTreeMap::from([(
        owned(&[&["a", "diagnose"]]).remove(0),
        BTreeMap::from([(
            "Diagnosis".to_owned(),
            owned(&[&["super", "report", "Diagnosis"]]).remove(0),
        )]),
    )]);
    let crate_ = Crate {
        modules: &modules,
        reexports: &reexports,
    };
    let module = owned(&[&["a", "b"]]).remove(0);
    let used: BTreeSet<ModPath> = paths
        .iter()
        .filter_map(|p| crate_.resolve(&module, p, 0))
        .collect();
    let expected: BTreeSet<ModPath> = owned(&[
        &["a", "diagnose"],
        &["a", "report"],
        &["a", "diagnose", "ev"],
        &["a", "b", "child"],
    ])
    .into_iter()
    .collect();
    assert_eq!(used, expected);
    assert_eq!(
        code_of("pub use x::y;\nuse z; // crate::w\n"),
        ("\nuse z; ".to_owned(), "pub use x::y;\n".to_owned())
    );
    let [a, b] = [owned(&[&["a"]]).remove(0), owned(&[&["b"]]).remove(0)];
    let looped = BTreeMap::from([(a.clone(), BTreeSet::from([b.clone()])), (b, BTreeSet::from([a]))]);
    assert_eq!(cycles(&looped).len(), 2);
}
