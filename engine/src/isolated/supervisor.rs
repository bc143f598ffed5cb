//! The parent side: [`WorkerModel`] starts a worker process for one model, sends it
//! requests, routes each reply to its caller, and watches it. When the worker dies
//! (a signal, an exit) or stays silent past the hang timeout while requests wait
//! (then it is killed), every request it held fails with `EngineError::Crashed`,
//! whose cause names the signal and llama.cpp's last line on stderr; the next request
//! starts a new worker. Callers decide how many restarts to allow ([`crashes`]).
//!
//! [`crashes`]: WorkerModel::crashes

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::protocol::{Load, Request, Response, encode};
use crate::error::DIED_WHILE_LOADING;
use crate::generate::Reply;
use crate::handle::Submit;
use crate::{
    ChatMessage, EngineConfig, EngineError, GenerateRequest, Generation, Loglikelihood,
    LoglikelihoodRequest, ModelInfo, SpeedRequest, SpeedResult, StreamEvent, TemplateKind,
    WorkerCommand,
};

/// How long a worker may take to load its model before it is taken as hung.
const LOAD_TIMEOUT: Duration = Duration::from_secs(600);
/// How far past a request's deadline a worker may stay silent about it.
const DEADLINE_GRACE: Duration = Duration::from_secs(10);
/// Lines of a worker's stderr kept to explain its death.
const STDERR_LINES: usize = 20;

/// Where a worker stands, as `/v1/models` and `/metrics` show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerState {
    /// Running and answering.
    Ready,
    /// Its last worker died; the next request starts another.
    Crashed,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking reply thread must not wedge the model: the data stays consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A waiting caller.
enum Waiter {
    Gen(Reply, Option<Instant>),
    Loglik(Sender<Vec<Result<Loglikelihood, EngineError>>>, usize),
    Speed(Sender<Result<SpeedResult, EngineError>>),
    Render(Sender<Result<String, EngineError>>),
    Count(Sender<Result<usize, EngineError>>),
}

impl Waiter {
    fn fail(self, e: EngineError) {
        match self {
            Waiter::Gen(reply, _) => reply.fail(e),
            Waiter::Loglik(tx, n) => drop(tx.send(vec![Err(e); n])),
            Waiter::Speed(tx) => drop(tx.send(Err(e))),
            Waiter::Render(tx) => drop(tx.send(Err(e))),
            Waiter::Count(tx) => drop(tx.send(Err(e))),
        }
    }
    fn deadline(&self) -> Option<Instant> {
        match self {
            Waiter::Gen(_, d) => *d,
            _ => None,
        }
    }
}

#[derive(Default)]
struct Shared {
    pending: HashMap<u64, Waiter>,
    /// Set once the worker is gone: why.
    dead: Option<String>,
    /// Set before the supervisor kills it: the reason to report instead of SIGKILL.
    kill_reason: Option<String>,
    /// Last time the worker said anything (or the first request after a quiet spell).
    heard: Option<Instant>,
    closing: bool,
}

/// One running worker process.
struct Process {
    pid: u32,
    child: Mutex<Child>,
    stdin: Mutex<Option<ChildStdin>>,
    shared: Mutex<Shared>,
    next_id: AtomicU64,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Process {
    fn is_dead(&self) -> bool {
        lock(&self.shared).dead.is_some()
    }

    /// Register `waiter` and send the request `make(id)`.
    fn call(&self, waiter: Waiter, make: impl FnOnce(u64) -> Request) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut sh = lock(&self.shared);
            if let Some(cause) = &sh.dead {
                let e = EngineError::Crashed { cause: cause.clone() };
                drop(sh);
                return waiter.fail(e);
            }
            if sh.pending.is_empty() {
                sh.heard = Some(Instant::now());
            }
            sh.pending.insert(id, waiter);
        }
        let line = match encode(&make(id)) {
            Ok(l) => l,
            Err(e) => {
                if let Some(w) = lock(&self.shared).pending.remove(&id) {
                    w.fail(e);
                }
                return;
            }
        };
        let mut stdin = lock(&self.stdin);
        let sent = stdin.as_mut().is_some_and(|s| s.write_all(line.as_bytes()).is_ok());
        if !sent {
            // The worker is going away; its reader fails the waiter when it is gone
            // (with the real cause: this is a symptom).
            drop(stdin);
            let _ = lock(&self.child).kill();
        }
    }

    fn kill(&self, reason: String) {
        lock(&self.shared).kill_reason.get_or_insert(reason);
        let _ = lock(&self.child).kill();
    }

    /// Route one message from the worker.
    fn deliver(&self, msg: Response) {
        let mut sh = lock(&self.shared);
        sh.heard = Some(Instant::now());
        let (id, done) = match &msg {
            Response::Token { id, .. } => (*id, false),
            Response::Generated { id, .. }
            | Response::Loglikelihood { id, .. }
            | Response::Speed { id, .. }
            | Response::Rendered { id, .. }
            | Response::Counted { id, .. } => (*id, true),
            Response::Ready { .. } | Response::LoadFailed { .. } => return,
        };
        if !done {
            if let (Some(Waiter::Gen(Reply::Stream(tx), _)), Response::Token { text, .. }) =
                (sh.pending.get(&id), msg)
            {
                let _ = tx.send(StreamEvent::Token(text));
            }
            return;
        }
        let Some(waiter) = sh.pending.remove(&id) else { return };
        drop(sh);
        match (waiter, msg) {
            (Waiter::Gen(Reply::Once(tx), _), Response::Generated { result, .. }) => {
                let _ = tx.send(result);
            }
            (Waiter::Gen(Reply::Stream(tx), _), Response::Generated { result, .. }) => {
                let _ = tx.send(match result {
                    Ok(g) => StreamEvent::Done(g),
                    Err(e) => StreamEvent::Failed(e),
                });
            }
            (Waiter::Loglik(tx, _), Response::Loglikelihood { results, .. }) => {
                let _ = tx.send(results);
            }
            (Waiter::Speed(tx), Response::Speed { result, .. }) => drop(tx.send(result)),
            (Waiter::Render(tx), Response::Rendered { result, .. }) => drop(tx.send(result)),
            (Waiter::Count(tx), Response::Counted { tokens, .. }) => drop(tx.send(Ok(tokens))),
            (w, other) => w.fail(EngineError::Unavailable(format!(
                "the worker answered with the wrong kind of message: {other:?}"
            ))),
        }
    }

    /// The worker is gone: record why and fail everything it held.
    fn bury(&self, status: Option<ExitStatus>, stderr_done: &Receiver<()>) -> Option<String> {
        let _ = stderr_done.recv_timeout(Duration::from_millis(500));
        let mut sh = lock(&self.shared);
        let closing = sh.closing;
        let mut cause = match (sh.kill_reason.take(), status) {
            (Some(r), _) => r,
            (None, Some(s)) => describe(s),
            (None, None) => "its output closed".to_owned(),
        };
        if let Some(last) = lock(&self.stderr).iter().rev().find(|l| !l.trim().is_empty()) {
            cause.push_str(&format!("; its last words: `{}`", last.trim()));
        }
        sh.dead = Some(cause.clone());
        let waiters: Vec<Waiter> = sh.pending.drain().map(|(_, w)| w).collect();
        drop(sh);
        for w in waiters {
            w.fail(EngineError::Crashed { cause: cause.clone() });
        }
        let clean = closing && status.is_some_and(|s| s.success());
        (!clean).then_some(cause)
    }
}

/// "SIGILL (Illegal instruction)", or "exited with status 3".
fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.signal(), status.code()) {
        (Some(sig), _) => {
            let (name, what) = match sig {
                libc::SIGILL => return crate::error::ILLEGAL_INSTRUCTION.to_owned(),
                libc::SIGABRT => ("SIGABRT", "Aborted"),
                libc::SIGBUS => ("SIGBUS", "Bus error"),
                libc::SIGFPE => ("SIGFPE", "Floating-point exception"),
                libc::SIGKILL => ("SIGKILL", "Killed: out of memory, or by another process"),
                libc::SIGSEGV => ("SIGSEGV", "Segmentation fault"),
                libc::SIGTERM => ("SIGTERM", "Terminated"),
                _ => ("signal", "killed by a signal"),
            };
            if name == "signal" {
                format!("signal {sig} ({what})")
            } else {
                format!("{name} ({what})")
            }
        }
        (None, Some(code)) => format!("exited with status {code}"),
        (None, None) => "exited".to_owned(),
    }
}

/// What a worker says once it has loaded: the model's info, its template kind, BOS
/// text and llama.cpp's system info.
type Loaded = (ModelInfo, TemplateKind, String, String);

/// Start a worker for `path` and wait for it to load. `crashes` collects the causes of
/// its death if it dies later.
fn spawn(
    path: &Path,
    config: &EngineConfig,
    command: &WorkerCommand,
    requests_before: u64,
    crashes: Arc<Mutex<Vec<String>>>,
) -> Result<(Arc<Process>, Loaded), EngineError> {
    let shown = path.display().to_string();
    let load_err = |reason: String| EngineError::Load { path: shown.clone(), reason };
    let mut cfg = config.clone();
    cfg.worker = None;
    let load = encode(&Load { path: shown.clone(), config: cfg, requests_before })?;
    let (child, stdin, stdout, stderr) = start_child(command, &load).map_err(load_err)?;
    let proc = Arc::new(Process {
        pid: child.id(),
        child: Mutex::new(child),
        stdin: Mutex::new(Some(stdin)),
        shared: Mutex::new(Shared::default()),
        next_id: AtomicU64::new(1),
        stderr: Arc::new(Mutex::new(VecDeque::new())),
    });
    let stderr_done = keep_stderr_tail(&proc, stderr)?;
    let ready = read_replies(&proc, stdout, stderr_done, crashes)?;
    let watched = Arc::clone(&proc);
    let hang = command.hang_timeout;
    thread("noa-worker-watchdog", move || watchdog(&watched, hang))?;
    let loaded = await_ready(&proc, &ready).map_err(|e| e.into_error(load_err))?;
    Ok((proc, loaded))
}

/// Start the worker process and send it `load` (the encoded [`Load`]). The error is
/// the reason, for `EngineError::Load`.
fn start_child(
    command: &WorkerCommand,
    load: &str,
) -> Result<(Child, ChildStdin, ChildStdout, ChildStderr), String> {
    let mut child = Command::new(&command.program)
        .args(&command.args)
        .envs(command.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("cannot start the engine worker `{}`: {e}", command.program.display())
        })?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        return Err("the engine worker has no pipes".into());
    };
    if let Err(e) = stdin.write_all(load.as_bytes()) {
        let _ = child.kill();
        return Err(format!("cannot talk to the engine worker: {e}"));
    }
    Ok((child, stdin, stdout, stderr))
}

/// Keep the last `STDERR_LINES` lines of the worker's stderr (llama.cpp's log) to
/// explain its death; the receiver hears when stderr has closed.
fn keep_stderr_tail(proc: &Process, stderr: ChildStderr) -> Result<Receiver<()>, EngineError> {
    let (done_tx, done) = mpsc::channel();
    let tail = Arc::clone(&proc.stderr);
    let pid = proc.pid;
    thread("noa-worker-stderr", move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            tracing::debug!(target: "noa_engine::worker", pid, "{line}");
            let mut t = lock(&tail);
            if t.len() == STDERR_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
        let _ = done_tx.send(());
    })?;
    Ok(done)
}

/// Route the worker's replies to their callers until its output closes, then bury it.
/// The receiver gets the load outcome (`Ready` or `LoadFailed`), or hangs up when the
/// worker died first.
fn read_replies(
    proc: &Arc<Process>,
    stdout: ChildStdout,
    stderr_done: Receiver<()>,
    crashes: Arc<Mutex<Vec<String>>>,
) -> Result<Receiver<Response>, EngineError> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let reader = Arc::clone(proc);
    let pid = proc.pid;
    thread("noa-worker-reader", move || {
        let mut ready = Some(ready_tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<Response>(&line) {
                Ok(msg @ (Response::Ready { .. } | Response::LoadFailed { .. })) => {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(msg);
                    }
                }
                Ok(msg) => reader.deliver(msg),
                Err(_) => {
                    tracing::warn!(pid, "engine worker wrote a line that is not a message: {line}")
                }
            }
        }
        let status = {
            let mut child = lock(&reader.child);
            wait_a_while(&mut child)
        };
        if let Some(cause) = reader.bury(status, &stderr_done) {
            tracing::warn!(pid, "engine worker died: {cause}");
            lock(&crashes).push(cause);
        }
        drop(ready);
    })?;
    Ok(ready_rx)
}

/// Why a worker did not load.
enum NotLoaded {
    /// The worker's own error (the model would not load).
    Failed(EngineError),
    /// Hung or died: the reason, for `EngineError::Load`.
    Lost(String),
}

impl NotLoaded {
    fn into_error(self, load_err: impl FnOnce(String) -> EngineError) -> EngineError {
        match self {
            NotLoaded::Failed(e) => e,
            NotLoaded::Lost(reason) => load_err(reason),
        }
    }
}

/// Wait for the worker to say it has loaded; close or kill it when it will not.
fn await_ready(proc: &Process, ready: &Receiver<Response>) -> Result<Loaded, NotLoaded> {
    match ready.recv_timeout(LOAD_TIMEOUT) {
        Ok(Response::Ready { info, template, bos, system_info }) => {
            Ok((info, template, bos, system_info))
        }
        Ok(Response::LoadFailed { error }) => {
            proc.close();
            Err(NotLoaded::Failed(error))
        }
        Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {
            proc.kill(format!("hung: not loaded after {} s", LOAD_TIMEOUT.as_secs()));
            Err(NotLoaded::Lost(format!(
                "the engine worker did not load it in {} s",
                LOAD_TIMEOUT.as_secs()
            )))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // Died while loading: the reader has buried it with the cause.
            let cause = lock(&proc.shared).dead.clone().unwrap_or_else(|| "it exited".into());
            Err(NotLoaded::Lost(format!("{DIED_WHILE_LOADING}{cause}")))
        }
    }
}

/// The child's exit status once it has closed its output (killing it if it lingers).
fn wait_a_while(child: &mut Child) -> Option<ExitStatus> {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                return child.wait().ok();
            }
            Err(_) => return None,
        }
    }
}

fn watchdog(proc: &Process, hang: Duration) {
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let sh = lock(&proc.shared);
        if sh.dead.is_some() {
            return;
        }
        if sh.pending.is_empty() || sh.closing {
            continue;
        }
        let now = Instant::now();
        let silent = sh.heard.map_or(Duration::ZERO, |h| now.saturating_duration_since(h));
        let overdue =
            sh.pending.values().filter_map(Waiter::deadline).any(|d| now > d + DEADLINE_GRACE);
        drop(sh);
        if silent > hang {
            proc.kill(format!("hung: no answer for {} s (killed)", silent.as_secs()));
        } else if overdue && silent > DEADLINE_GRACE {
            proc.kill(format!(
                "hung: silent {} s past a request's deadline (killed)",
                DEADLINE_GRACE.as_secs()
            ));
        }
    }
}

impl Process {
    /// Ask the worker to finish (close its input); kill it if it does not go quietly.
    fn close(&self) {
        lock(&self.shared).closing = true;
        lock(&self.stdin).take();
        let mut child = lock(&self.child);
        if wait_a_while(&mut child).is_none() {
            let _ = child.kill();
        }
    }
}

fn thread(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), EngineError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(drop)
        .map_err(|e| EngineError::Unavailable(format!("cannot start a thread: {e}")))
}

/// A model loaded in a supervised worker process. Methods block like
/// [`LocalModel`](crate::LocalModel)'s; a dead worker is replaced on the next call.
pub struct WorkerModel {
    path: PathBuf,
    config: EngineConfig,
    command: WorkerCommand,
    info: ModelInfo,
    template: TemplateKind,
    bos: String,
    system_info: String,
    current: Mutex<Arc<Process>>,
    sent: AtomicU64,
    crashes: Arc<Mutex<Vec<String>>>,
    starts: AtomicU64,
}

impl std::fmt::Debug for WorkerModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerModel")
            .field("path", &self.path)
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

impl WorkerModel {
    /// Start a worker with `config.worker`'s command and load `path` in it.
    pub fn start(path: &Path, config: &EngineConfig) -> Result<Self, EngineError> {
        let command = config
            .worker
            .clone()
            .ok_or_else(|| EngineError::Unavailable("no worker command configured".into()))?;
        let crashes = Arc::new(Mutex::new(Vec::new()));
        let t0 = Instant::now();
        let (proc, (mut info, template, bos, system_info)) =
            spawn(path, config, &command, 0, Arc::clone(&crashes))?;
        // Load time as the caller sees it: process start included.
        info.load_ms = t0.elapsed().as_secs_f64() * 1000.0;
        info.config = config.clone();
        Ok(Self {
            path: path.to_owned(),
            config: config.clone(),
            command,
            info,
            template,
            bos,
            system_info,
            current: Mutex::new(proc),
            sent: AtomicU64::new(0),
            crashes,
            starts: AtomicU64::new(1),
        })
    }

    /// The live worker, starting a new one if the last died.
    fn process(&self) -> Result<Arc<Process>, EngineError> {
        let mut cur = lock(&self.current);
        if !cur.is_dead() {
            return Ok(Arc::clone(&cur));
        }
        let before = self.sent.load(Ordering::Relaxed);
        let (proc, ..) =
            spawn(&self.path, &self.config, &self.command, before, Arc::clone(&self.crashes))?;
        self.starts.fetch_add(1, Ordering::Relaxed);
        *cur = Arc::clone(&proc);
        Ok(proc)
    }

    fn call(&self, waiter: Waiter, inference: bool, make: impl FnOnce(u64) -> Request) {
        match self.process() {
            Ok(p) => {
                if inference {
                    self.sent.fetch_add(1, Ordering::Relaxed);
                }
                p.call(waiter, make)
            }
            Err(e) => waiter.fail(e),
        }
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }
    pub fn template_kind(&self) -> TemplateKind {
        self.template
    }
    pub fn bos_text(&self) -> &str {
        &self.bos
    }
    /// llama.cpp's build and CPU features as the worker reported them.
    pub fn system_info(&self) -> &str {
        &self.system_info
    }

    /// Process id of the current worker.
    pub fn pid(&self) -> u32 {
        lock(&self.current).pid
    }

    /// Measured resident memory of the current worker (`None` once it is gone).
    pub fn resident_bytes(&self) -> Option<u64> {
        let cur = lock(&self.current);
        if cur.is_dead() { None } else { super::resident_bytes(cur.pid) }
    }

    /// Ready, or crashed (until the next request starts a new worker).
    pub fn state(&self) -> WorkerState {
        if lock(&self.current).is_dead() { WorkerState::Crashed } else { WorkerState::Ready }
    }

    /// Causes of every worker death so far, oldest first.
    pub fn crashes(&self) -> Vec<String> {
        lock(&self.crashes).clone()
    }

    /// Workers started after the first one.
    pub fn restarts(&self) -> u64 {
        self.starts.load(Ordering::Relaxed).saturating_sub(1)
    }

    pub fn loglikelihood_batch(
        &self,
        requests: Vec<LoglikelihoodRequest>,
    ) -> Vec<Result<Loglikelihood, EngineError>> {
        let n = requests.len();
        let (tx, rx) = mpsc::channel();
        self.call(Waiter::Loglik(tx, n), true, move |id| Request::Loglikelihood { id, requests });
        rx.recv().unwrap_or_else(|_| vec![Err(EngineError::WorkerGone); n])
    }

    /// llama-bench style pp/tg measurement, in the worker.
    pub fn speed(&self, request: SpeedRequest) -> Result<SpeedResult, EngineError> {
        let (tx, rx) = mpsc::channel();
        self.call(Waiter::Speed(tx), true, move |id| Request::Speed { id, request });
        rx.recv().map_err(|_| EngineError::WorkerGone)?
    }

    pub fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        let (tx, rx) = mpsc::channel();
        let messages = messages.to_vec();
        self.call(Waiter::Render(tx), false, move |id| Request::Render { id, messages });
        rx.recv().map_err(|_| EngineError::WorkerGone)?
    }

    pub fn count_tokens(&self, text: &str) -> Result<usize, EngineError> {
        let (tx, rx) = mpsc::channel();
        let text = text.to_owned();
        self.call(Waiter::Count(tx), false, move |id| Request::CountTokens { id, text });
        rx.recv().map_err(|_| EngineError::WorkerGone)?
    }

    /// One generation, blocking.
    pub fn generate(&self, request: GenerateRequest) -> Result<Generation, EngineError> {
        self.generate_one(request)
    }
}

impl Submit for WorkerModel {
    fn submit(&self, request: GenerateRequest, reply: Reply) {
        let deadline = request.deadline;
        let ms = deadline.map(|d| d.saturating_duration_since(Instant::now()).as_millis() as u64);
        self.call(Waiter::Gen(reply, deadline), true, move |id| Request::Generate {
            id,
            request,
            deadline_ms: ms,
        });
    }
}

impl Drop for WorkerModel {
    fn drop(&mut self) {
        lock(&self.current).close();
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    #[test]
    fn an_illegal_instruction_is_known_by_the_error_not_by_its_reader() {
        let cause = describe(ExitStatus::from_raw(libc::SIGILL));
        assert_eq!(cause, "SIGILL (Illegal instruction)");
        assert!(EngineError::Crashed { cause: cause.clone() }.is_illegal_instruction());
        let reason = format!("{DIED_WHILE_LOADING}{cause}; its last words: `x`");
        assert!(EngineError::Load { path: "m".into(), reason }.is_illegal_instruction());
        let segv = describe(ExitStatus::from_raw(libc::SIGSEGV));
        assert_eq!(segv, "SIGSEGV (Segmentation fault)");
        assert!(!EngineError::Crashed { cause: segv }.is_illegal_instruction());
    }
}
