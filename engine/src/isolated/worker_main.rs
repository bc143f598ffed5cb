//! The worker side: what `noa engine-worker` runs. It reads [`Load`] from stdin, loads
//! the model in this process, says `Ready`, then serves requests as they come (many at
//! once: generations join the model's continuous batch) until stdin closes. Replies
//! share stdout one whole line at a time. Nothing else may write to stdout here:
//! llama.cpp's own logging goes through `tracing` to stderr, which the parent reads.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::fault::{self, Fault};
use super::protocol::{Load, Request, Response, encode};
use crate::generate::Reply;
use crate::handle::Submit;
use crate::{EngineError, LocalModel, StreamEvent};

/// Run a worker on this process's stdin and stdout; the process exit code.
pub fn worker_main() -> i32 {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let load: Load = match lines.next() {
        Some(Ok(line)) => match serde_json::from_str(&line) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("noa engine worker: the first line is not a load request: {e}");
                return 2;
            }
        },
        _ => return 2,
    };
    let rules = match fault::parse(&std::env::var(crate::FAULT_ENV).unwrap_or_default()) {
        Ok(r) => r,
        Err(e) => {
            send(&Response::LoadFailed {
                error: EngineError::Unavailable(format!("{}: {e}", crate::FAULT_ENV)),
            });
            return 1;
        }
    };
    let path = PathBuf::from(&load.path);
    let model = match LocalModel::load(&path, &load.config) {
        Ok(m) => m,
        Err(error) => {
            send(&Response::LoadFailed { error });
            return 1;
        }
    };
    send(&Response::Ready {
        info: model.info().clone(),
        template: model.template_kind(),
        bos: model.bos_text().to_owned(),
        system_info: crate::system_info().unwrap_or_default(),
    });
    let mut served = load.requests_before;
    for line in lines {
        let Ok(line) = line else { break };
        let request: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("noa engine worker: ignoring a request that does not parse: {e}");
                continue;
            }
        };
        let mut due = None;
        if request.is_inference() {
            served += 1;
            due = fault::due(&rules, &path, served);
        }
        dispatch(&model, request, due);
    }
    0
}

fn dispatch(model: &LocalModel, request: Request, due: Option<Fault>) {
    // A generation fails after its first token; everything else as it starts.
    match (due, &request) {
        (Some(Fault::Hang), _) => hang(),
        (Some(f), r) if !matches!(r, Request::Generate { .. }) => fault::fire(f),
        _ => {}
    }
    match request {
        Request::Generate { id, mut request, deadline_ms } => {
            request.deadline = deadline_ms.map(|ms| Instant::now() + Duration::from_millis(ms));
            let (tx, rx) = mpsc::channel();
            model.submit(request, Reply::Stream(tx));
            spawn(move || {
                for event in rx {
                    match event {
                        StreamEvent::Token(text) => {
                            send(&Response::Token { id, text });
                            if let Some(f) = due {
                                fault::fire(f);
                            }
                        }
                        StreamEvent::Done(g) => send(&Response::Generated { id, result: Ok(g) }),
                        StreamEvent::Failed(e) => send(&Response::Generated { id, result: Err(e) }),
                    }
                }
            });
        }
        Request::Loglikelihood { id, requests } => {
            let model = model.clone();
            spawn(move || {
                let results = model.loglikelihood_batch(requests);
                send(&Response::Loglikelihood { id, results });
            });
        }
        Request::Speed { id, request } => {
            let model = model.clone();
            spawn(move || {
                let result = model.speed(request);
                send(&Response::Speed { id, result });
            });
        }
        Request::Render { id, messages } => {
            send(&Response::Rendered { id, result: model.render_chat(&messages) });
        }
        Request::CountTokens { id, text } => {
            send(&Response::Counted { id, tokens: model.count_tokens(&text) });
        }
    }
}

fn spawn(f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name("noa-worker-reply".into()).spawn(f) {
        eprintln!("noa engine worker: cannot start a reply thread: {e}");
        std::process::exit(3);
    }
}

/// Write one message. A parent that went away ends the worker.
fn send(msg: &Response) {
    let Ok(line) = encode(msg) else { return };
    let mut out = std::io::stdout().lock();
    if out.write_all(line.as_bytes()).and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// Stop answering altogether: hold stdout so no reply thread can write, and stay alive.
fn hang() -> ! {
    let _silence = std::io::stdout().lock();
    fault::fire(Fault::Hang)
}
