//! Writing the grader's files where students' programs have run: a program (without the sandbox)
//! can write anywhere the grader can, so it may have planted a symbolic link where a report goes,
//! or a folder where the CSV goes. Each file is therefore written to a fresh temporary file in
//! its folder (created with `O_EXCL`, which follows no link) and renamed into place, which
//! replaces a planted link instead of writing through it; a submission's folder that is a link
//! or a file is replaced by a real folder. The paths are checked before grading starts, so that
//! a class is never graded for nothing.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Tells the temporary files of one process apart.
static NEXT: AtomicU64 = AtomicU64::new(0);

fn output_error(path: &Path, message: impl ToString) -> Error {
    Error::Output {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Writes `text` to `path` through a fresh temporary file renamed into place: a link at `path`
/// is replaced, not followed; a folder at `path`, or a missing folder, is an error that names it
/// ([`check_file`]).
pub fn write_fresh(path: &Path, text: &[u8]) -> Result<()> {
    check_file(path)?;
    let folder = folder_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = folder.join(format!(
        ".{name}.gradverify-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .and_then(|mut file| file.write_all(text).and_then(|()| file.sync_all()))
        .and_then(|()| fs::rename(&temporary, path));
    written.map_err(|e| {
        let _ = fs::remove_file(&temporary);
        output_error(path, e)
    })
}

/// The folder `dir/name` as a real folder: a link or a file planted there is removed first.
pub fn real_folder(dir: &Path, name: &str) -> Result<PathBuf> {
    let folder = dir.join(name);
    match fs::symlink_metadata(&folder) {
        Ok(m) if m.is_dir() => return Ok(folder),
        Ok(_) => fs::remove_file(&folder).map_err(|e| output_error(&folder, e))?,
        Err(_) => {}
    }
    fs::create_dir(&folder).map_err(|e| output_error(&folder, e))?;
    Ok(folder)
}

/// Checks before grading that a file can be written at `path`: its folder exists and nothing
/// but a file (or nothing) is there.
pub fn check_file(path: &Path) -> Result<()> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(output_error(path, "is a folder, not a file"));
    }
    let folder = folder_of(path);
    if !folder.is_dir() {
        return Err(output_error(
            path,
            format!("its folder {} does not exist", folder.display()),
        ));
    }
    Ok(())
}

/// The folder a file goes in (`.` for a bare name).
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Makes the reports' folder before grading (a real folder: not a link, not a file).
pub fn check_folder(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| output_error(dir, e))?;
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        _ => Err(output_error(dir, "is not a folder")),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gradverify-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("a scratch folder");
        dir
    }

    #[test]
    fn a_planted_link_is_replaced_and_its_target_left_alone() {
        let dir = scratch("link");
        let target = dir.join("victim");
        fs::write(&target, "precious").unwrap();
        let path = dir.join("grades.csv");
        symlink(&target, &path).unwrap();
        write_fresh(&path, b"a,b\n").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
        assert_eq!(fs::read_to_string(&path).unwrap(), "a,b\n");
        assert!(!fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
        let leftovers = fs::read_dir(&dir).unwrap().count();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(leftovers, 2, "no temporary file is left");
    }

    #[test]
    fn a_folder_at_a_files_path_is_an_error_that_names_it_before_and_when_writing() {
        let dir = scratch("folder");
        let path = dir.join("grades.csv");
        fs::create_dir(&path).unwrap();
        let before = check_file(&path).unwrap_err().to_string();
        let writing = write_fresh(&path, b"x").unwrap_err().to_string();
        let missing = check_file(&dir.join("nowhere/grades.csv"))
            .unwrap_err()
            .to_string();
        fs::remove_dir_all(&dir).unwrap();
        for message in [before, writing] {
            assert!(
                message.contains("grades.csv") && message.contains("is a folder"),
                "{message}"
            );
        }
        assert!(missing.contains("does not exist"), "{missing}");
    }

    #[test]
    fn a_submissions_folder_that_is_a_link_becomes_a_real_folder() {
        let dir = scratch("subfolder");
        let elsewhere = scratch("elsewhere");
        symlink(&elsewhere, dir.join("alice")).unwrap();
        let folder = real_folder(&dir, "alice").unwrap();
        write_fresh(&folder.join("report.txt"), b"ok").unwrap();
        let escaped = fs::read_dir(&elsewhere).unwrap().count();
        let real = fs::symlink_metadata(&folder).unwrap().is_dir();
        fs::remove_dir_all(&dir).unwrap();
        fs::remove_dir_all(&elsewhere).unwrap();
        assert_eq!(escaped, 0, "nothing was written through the link");
        assert!(real);
    }
}
