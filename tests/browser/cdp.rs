//! A headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
//! the browser reads commands on its fd 3 and writes answers and events on fd 4, each a JSON
//! message ended by a NUL byte), so that a test needs no WebDriver, no Node and no WebSocket.
//!
//! The browser runs in a process group of its own, with a fresh profile folder and no network
//! of its own making (the flags this machine's notes give); dropping the [`Browser`] kills that
//! group, and only it, and waits until none of its processes is left.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one command may take to be answered.
const ANSWER: Duration = Duration::from_secs(60);

/// The browser to use: `GRADVERIFY_CHROMIUM`, else Debian's `/usr/bin/chromium`, if it runs.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("GRADVERIFY_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let runs = Command::new(&path)
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    runs.then_some(path)
}

/// A running browser with one page attached.
pub struct Browser {
    child: Child,
    commands: File,
    messages: Receiver<Value>,
    next_id: u64,
    session: String,
    /// Every event received so far, for the page's console and network.
    pub events: Vec<Value>,
    profile: PathBuf,
}

impl Browser {
    /// Starts `chromium` headless, with a page of `width` × `height` pixels attached.
    pub fn start(chromium: &Path, width: u32, height: u32) -> Browser {
        static STARTED: AtomicU64 = AtomicU64::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let profile = (std::env::temp_dir()).join(format!("gradverify-chromium-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        let (to_browser_read, to_browser_write) = pipe();
        let (from_browser_read, from_browser_write) = pipe();
        let mut command = Command::new(chromium);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--disable-crash-reporter",
                "--disable-breakpad",
                "--remote-debugging-pipe",
                &format!("--window-size={width},{height}"),
                &format!("--user-data-dir={}", profile.display()),
                "about:blank",
            ])
            // Its crash handler leaves the process group; with its home in the profile its
            // command line names the profile, by which it is found and killed.
            .env("HOME", &profile)
            .env("XDG_CONFIG_HOME", profile.join("config"))
            .env("XDG_CACHE_HOME", profile.join("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        // SAFETY: dup2 and close are async-signal-safe; the fds are this process's own pipes,
        // numbered above 4, so that dup2 onto 3 and 4 never closes one of them.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(to_browser_read, 3) < 0 || libc::dup2(from_browser_write, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start chromium");
        // SAFETY: each fd is a pipe end this process made and owns alone from here on.
        let (commands, answers) = unsafe {
            libc::close(to_browser_read);
            libc::close(from_browser_write);
            (
                File::from_raw_fd(to_browser_write),
                File::from_raw_fd(from_browser_read),
            )
        };
        let (sender, messages) = channel();
        thread::spawn(move || {
            for message in BufReader::new(answers).split(0) {
                let Ok(message) = message else { break };
                let Ok(value) = serde_json::from_slice::<Value>(&message) else {
                    continue;
                };
                if sender.send(value).is_err() {
                    break;
                }
            }
        });
        let mut browser = Browser {
            child,
            commands,
            messages,
            next_id: 0,
            session: String::new(),
            events: Vec::new(),
            profile,
        };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
        let target = target["targetId"].as_str().expect("a target id").to_owned();
        let attached = browser.call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().expect("a session id").to_owned();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable", "Network.enable"] {
            browser.call(domain, json!({}));
        }
        browser
    }

    /// Sends `method` (to the page once one is attached) and waits for its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("a command as JSON");
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .expect("send a command to chromium");
        let answer = self.wait_for(|m| m["id"] == json!(id), method);
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// Loads `url` and waits until its load event.
    pub fn open(&mut self, url: &str) {
        let before = self.events.len();
        self.call("Page.navigate", json!({"url": url}));
        if self.events[before..]
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            return;
        }
        self.wait_for(|m| m["method"] == "Page.loadEventFired", "the load event");
    }

    /// The value of a JavaScript expression in the page (returned by value).
    pub fn evaluate(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {result}");
        result["result"]["value"].clone()
    }

    /// A PNG of the whole page, beyond the window too.
    pub fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine;
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        let data = shot["data"].as_str().expect("the screenshot's data");
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("the screenshot as base64")
    }

    /// The console errors, uncaught exceptions and error log entries seen so far.
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| {
                let params = &e["params"];
                match e["method"].as_str() {
                    Some("Runtime.exceptionThrown") => true,
                    Some("Runtime.consoleAPICalled") => {
                        matches!(params["type"].as_str(), Some("error" | "assert" | "warning"))
                    }
                    Some("Log.entryAdded") => {
                        matches!(params["entry"]["level"].as_str(), Some("error" | "warning"))
                    }
                    _ => false,
                }
            })
            .map(Value::to_string)
            .collect()
    }

    /// The URLs the page asked for.
    pub fn requests(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter_map(|e| e["params"]["request"]["url"].as_str().map(str::to_owned))
            .collect()
    }

    /// The next message `wanted` picks, keeping the events on the way.
    fn wait_for(&mut self, wanted: impl Fn(&Value) -> bool, what: &str) -> Value {
        let deadline = Instant::now() + ANSWER;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(message) if wanted(&message) => {
                    if message.get("method").is_some() {
                        self.events.push(message.clone());
                    }
                    return message;
                }
                Ok(message) => {
                    if message.get("method").is_some() {
                        self.events.push(message);
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("chromium: no {what} within {ANSWER:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("chromium exited waiting for {what}"),
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The browser's group: the browser and every helper process it started, nothing else.
        let group = self.child.id() as libc::pid_t;
        // SAFETY: kill sends a signal; the group is the one this browser was started in.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.child.wait();
        let profile = self.profile.to_string_lossy().into_owned();
        // SIGKILL is asynchronous: the group's other processes are waited out too, and the
        // processes that left the group (the crash handler) are found by the profile they name.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let strays = naming(&profile);
            if (strays.is_empty() && !group_alive(group)) || Instant::now() > deadline {
                break;
            }
            for pid in strays {
                // SAFETY: kill sends a signal to a process whose command line names this
                // browser's own profile folder.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The live processes whose command line holds `text`.
fn naming(text: &str) -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: libc::pid_t = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline).contains(text).then_some(pid)
        })
        .collect()
}

/// Some live process (not a zombie) is in process group `group`, as /proc/PID/stat says (its
/// fields after the command's closing parenthesis: state, ppid, pgrp).
fn group_alive(group: libc::pid_t) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
        fields.len() > 2 && fields[0] != "Z" && fields[2] == group.to_string()
    })
}

/// A pipe whose two ends are numbered above 4 and closed on exec (the child gets its copies
/// on 3 and 4 from dup2, which clears that flag on the copy).
fn pipe() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array; fcntl duplicates each above 4.
    unsafe {
        assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0, "pipe2");
        let high = fds.map(|fd| {
            let high = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
            assert!(high >= 10, "fcntl F_DUPFD_CLOEXEC");
            libc::close(fd);
            high
        });
        (high[0], high[1])
    }
}
