//! Runs untrusted, model-written Python in a subprocess that cannot hurt the machine
//! or hang the run: a fresh temporary directory as working directory, an empty
//! environment, isolated mode (`-I`), its own process group killed as a whole on
//! timeout, resource limits (address space, CPU time, file size, processes), no
//! network (a separate network namespace via `unshare -n` where the system permits
//! it, and in every case a prelude that replaces the socket API with functions that
//! raise), and a guard in the spirit of HumanEval's `reliability_guard` that disables
//! process spawning, deleting and renaming files, and writing outside the temporary
//! directory. Python is `NOA_PYTHON` (default `python3`), resolved once to the real
//! interpreter so version-manager shims work without an environment.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How a sandboxed program ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Ran to its end without an exception.
    Passed,
    /// Raised, exited early, or was killed by a signal (the reason).
    Failed(String),
    /// Ran past its time limit and was killed.
    TimedOut,
    /// The sandbox itself could not run (no Python, no temp dir).
    Error(String),
}

/// What a sandboxed run produced.
#[derive(Debug, Clone)]
pub struct PythonRun {
    pub outcome: Outcome,
    /// Last part of standard error (the traceback), for the score detail.
    pub stderr_tail: String,
    pub elapsed: Duration,
}

const PRELUDE: &str = r#"
import os, sys, resource
_exit, _write = os._exit, os.write
def _lim(r, v):
    try:
        resource.setrlimit(r, (v, v))
    except Exception:
        pass
_lim(resource.RLIMIT_AS, 1 << 30)
_lim(resource.RLIMIT_FSIZE, 16 << 20)
_lim(resource.RLIMIT_CORE, 0)
_lim(resource.RLIMIT_NPROC, 1)
try:
    resource.setrlimit(resource.RLIMIT_CPU, (__CPU__, __CPU__ + 1))
except Exception:
    pass
_root = os.path.realpath(os.getcwd())
with open("program.py", encoding="utf-8") as f:
    _src = f.read()
import builtins, io, shutil, subprocess, socket, _socket
def _no_net(*a, **k):
    raise OSError("network access is disabled in the noa sandbox")
class _NoSocket:
    def __init__(self, *a, **k):
        _no_net()
for _m in (socket, _socket):
    for _n in ("socket", "SocketType"):
        setattr(_m, _n, _NoSocket)
    for _n in ("create_connection", "create_server", "socketpair", "fromfd", "getaddrinfo", "gethostbyname"):
        if hasattr(_m, _n):
            setattr(_m, _n, _no_net)
def _inside(p):
    try:
        p = os.path.realpath(os.fspath(p))
    except Exception:
        return False
    return p == _root or p.startswith(_root + os.sep)
_open = builtins.open
def _guarded_open(file, mode="r", *a, **k):
    if isinstance(file, int) or not any(c in mode for c in "wax+") or _inside(file):
        return _open(file, mode, *a, **k)
    raise PermissionError("writing outside the sandbox directory is not allowed")
builtins.open = io.open = _guarded_open
import _io
class _GuardedFileIO(_io.FileIO):
    def __init__(self, file, mode="r", *a, **k):
        if not isinstance(file, int) and any(c in mode for c in "wax+") and not _inside(file):
            raise PermissionError("writing outside the sandbox directory is not allowed")
        super().__init__(file, mode, *a, **k)
_io.FileIO = io.FileIO = _GuardedFileIO
_os_open = os.open
_WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
def _guarded_os_open(path, flags, *a, **k):
    if flags & _WRITE and not _inside(path):
        raise PermissionError("writing outside the sandbox directory is not allowed")
    return _os_open(path, flags, *a, **k)
os.open = _guarded_os_open
def _disabled(*a, **k):
    raise PermissionError("disabled in the noa sandbox")
for _n in ("kill", "killpg", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir",
           "setuid", "fork", "forkpty", "rename", "renames", "truncate", "replace", "unlink",
           "fchmod", "fchown", "chmod", "chown", "chroot", "lchown", "link", "symlink",
           "execv", "execve", "execvp", "execvpe", "spawnv", "spawnve", "posix_spawn",
           "posix_spawnp", "popen", "mkdir", "makedirs", "mkfifo", "mknod", "utime"):
    if hasattr(os, _n):
        setattr(os, _n, _disabled)
shutil.rmtree = shutil.move = shutil.chown = _disabled
subprocess.Popen = subprocess.run = subprocess.call = _disabled
for _n in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
    sys.modules[_n] = None
try:
    exec(compile(_src, "program.py", "exec"), {"__name__": "__main__", "__builtins__": builtins})
except BaseException:
    import traceback
    traceback.print_exc()
    sys.stderr.flush()
    _exit(1)
sys.stdout.flush()
_write(1, b"\n__MARKER__\n")
_exit(0)
"#;

/// The interpreter to run: `NOA_PYTHON` or `python3`, resolved to `sys.executable`
/// (a pyenv/asdf shim needs an environment we do not give the child).
fn python() -> Result<PathBuf, String> {
    static RESOLVED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    RESOLVED
        .get_or_init(|| {
            let name = std::env::var(noa_registry::env_vars::NOA_PYTHON)
                .unwrap_or_else(|_| "python3".to_string());
            let out = Command::new(&name)
                .args(["-I", "-c", "import sys; print(sys.executable)"])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run `{name}` (set NOA_PYTHON): {e}"))?;
            let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !out.status.success() || path.is_empty() {
                return Err(format!("`{name}` did not report its executable (set NOA_PYTHON)"));
            }
            Ok(PathBuf::from(path))
        })
        .clone()
}

/// The `unshare` arguments that give the child its own, empty network namespace
/// here: `-n` as root, `-r -n` (inside a user namespace) otherwise; `None` where
/// neither is permitted (containers without namespaces), leaving the prelude's guard.
fn unshare_args() -> Option<&'static [&'static str]> {
    static ARGS: OnceLock<Option<&'static [&'static str]>> = OnceLock::new();
    *ARGS.get_or_init(|| {
        let works = |args: &[&str]| {
            Command::new("unshare")
                .args(args)
                .arg("true")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        const CANDIDATES: [&[&str]; 2] = [&["-n"], &["-r", "-n"]];
        CANDIDATES.into_iter().find(|a| works(a))
    })
}

/// Runs `program` (Python source) in the sandbox for at most `timeout`.
pub fn run_python(program: &str, timeout: Duration) -> PythonRun {
    let started = Instant::now();
    let fail = |msg: String| PythonRun {
        outcome: Outcome::Error(msg),
        stderr_tail: String::new(),
        elapsed: started.elapsed(),
    };
    let python = match python() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let dir = match tempfile::Builder::new().prefix("noa-sandbox-").tempdir() {
        Ok(d) => d,
        Err(e) => return fail(format!("cannot create a sandbox directory: {e}")),
    };
    let marker = format!("NOA-SANDBOX-OK-{:x}", marker_nonce());
    let cpu = timeout.as_secs_f64().ceil() as u64 + 1;
    let prelude = PRELUDE.replace("__CPU__", &cpu.to_string()).replace("__MARKER__", &marker);
    let stdout_path = dir.path().join(".stdout");
    let stderr_path = dir.path().join(".stderr");
    let files = std::fs::write(dir.path().join("program.py"), program)
        .and_then(|()| Ok((File::create(&stdout_path)?, File::create(&stderr_path)?)));
    let (out, err) = match files {
        Ok(f) => f,
        Err(e) => return fail(format!("cannot write the sandbox files: {e}")),
    };
    let mut cmd = match unshare_args() {
        Some(args) => {
            let mut c = Command::new("unshare");
            c.args(args).arg(&python);
            c
        }
        None => Command::new(&python),
    };
    cmd.args(["-I", "-B", "-c", &prelude])
        .current_dir(dir.path())
        .env_clear()
        .env("HOME", dir.path())
        .env("TMPDIR", dir.path())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot start `{}`: {e}", python.display())),
    };
    let deadline = started + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    // The whole group goes, finished or not: nothing the program started outlives it.
    kill_group(child.id());
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read(&stderr_path).map(|b| String::from_utf8_lossy(&b).into_owned());
    let stderr_tail = tail(&stderr.unwrap_or_default(), 1500);
    let outcome = match status {
        None => Outcome::TimedOut,
        Some(s) if s.success() && stdout.contains(&marker) => Outcome::Passed,
        Some(s) => Outcome::Failed(match (s.code(), signal_of(&s)) {
            (_, Some(sig)) => format!("killed by signal {sig}"),
            (Some(0), _) => "exited before the tests finished".to_string(),
            (Some(code), _) => last_line(&stderr_tail).unwrap_or(format!("exit status {code}")),
            (None, None) => "ended abnormally".to_string(),
        }),
    };
    PythonRun { outcome, stderr_tail, elapsed: started.elapsed() }
}

fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{pid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn marker_nonce() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    let a = h.finish();
    let mut h2 = std::collections::hash_map::RandomState::new().build_hasher();
    h2.write_u64(a);
    (u128::from(a) << 64) | u128::from(h2.finish())
}

fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_string()
}

fn last_line(s: &str) -> Option<String> {
    s.lines().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_string())
}

#[cfg(test)]
#[path = "sandbox_tests.rs"]
mod tests;
