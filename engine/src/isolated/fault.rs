//! The fault switch, `NOA_ENGINE_FAULT`: makes an engine worker fail the way llama.cpp
//! can, so the supervision around it can be tested on real processes. Read by the
//! worker only; an unset or empty variable does nothing.
//!
//! Syntax: a comma-separated list of `[<model>:]<fault>[@<n>]`.
//! - `<fault>`: `sigill` (illegal instruction), `segv` (segmentation fault), `abort`
//!   (what a failed `GGML_ASSERT` does) or `hang` (stops answering, stays alive).
//! - `@<n>`: on the n-th inference request (generation, log-likelihood or speed) sent
//!   to that model, counted across its workers, so a fault fires once and the
//!   restarted worker runs clean; without it, on every request.
//! - `<model>:`: only for models whose file name contains `<model>`.
//!
//! A generation fails after its first token (a crash mid-stream); other requests fail
//! as they start. Example: `NOA_ENGINE_FAULT=gemma:sigill,smollm:abort@3`.

use std::path::Path;

/// One way to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Sigill,
    Segv,
    Abort,
    Hang,
}

/// One entry of the switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub model: Option<String>,
    pub fault: Fault,
    /// 1-based request number; `None`: every request.
    pub at: Option<u64>,
}

/// Parse the switch's value.
pub fn parse(spec: &str) -> Result<Vec<FaultRule>, String> {
    let mut rules = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (model, rest) = match part.rsplit_once(':') {
            Some((m, r)) => (Some(m.to_owned()), r),
            None => (None, part),
        };
        let (name, at) = match rest.split_once('@') {
            Some((n, k)) => {
                let k: u64 = k.parse().ok().filter(|&k| k > 0).ok_or_else(|| {
                    format!("`{part}`: the request number after @ must be 1 or more")
                })?;
                (n, Some(k))
            }
            None => (rest, None),
        };
        let fault = match name {
            "sigill" => Fault::Sigill,
            "segv" => Fault::Segv,
            "abort" => Fault::Abort,
            "hang" => Fault::Hang,
            other => {
                return Err(format!("`{other}` is not a fault: use sigill, segv, abort or hang"));
            }
        };
        rules.push(FaultRule { model, fault, at });
    }
    Ok(rules)
}

/// The fault, if any, for the `n`-th (1-based) inference request to the model at `path`.
pub fn due(rules: &[FaultRule], path: &Path, n: u64) -> Option<Fault> {
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    rules
        .iter()
        .find(|r| {
            r.model.as_deref().is_none_or(|m| file.contains(m)) && r.at.is_none_or(|k| k == n)
        })
        .map(|r| r.fault)
}

/// Fail now, the chosen way. Only `hang` returns never; the others end the process.
pub fn fire(fault: Fault) -> ! {
    eprintln!("noa engine worker: NOA_ENGINE_FAULT fires {fault:?}");
    match fault {
        Fault::Hang => loop {
            std::thread::park();
        },
        Fault::Abort => std::process::abort(),
        Fault::Sigill => raise_default(libc::SIGILL),
        Fault::Segv => raise_default(libc::SIGSEGV),
    }
}

/// Deliver `sig` with its default action (the process dies by it), whatever handler
/// the runtime installed (Rust's own SIGSEGV handler would otherwise return).
#[allow(unsafe_code)]
fn raise_default(sig: libc::c_int) -> ! {
    // SAFETY: resetting a signal's disposition and raising it are async-signal-safe
    // libc calls with valid arguments; nothing is borrowed across them.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
    // Not reached for these signals; abort if the platform ignored them.
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_faults_numbers_and_model_filters() {
        let rules = parse("sigill, gemma:hang@2 ,abort@1").unwrap();
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0], FaultRule { model: None, fault: Fault::Sigill, at: None });
        assert_eq!(
            rules[1],
            FaultRule { model: Some("gemma".into()), fault: Fault::Hang, at: Some(2) }
        );
        assert!(parse("").unwrap().is_empty());
        assert!(parse("sigbus").unwrap_err().contains("`sigbus`"));
        assert!(parse("segv@0").is_err());
        assert!(parse("segv@x").is_err());
    }

    #[test]
    fn fires_on_the_right_model_and_request() {
        let rules = parse("gemma:segv@2").unwrap();
        let gemma = Path::new("/m/gemma-3-270m.gguf");
        let smol = Path::new("/m/smollm2.gguf");
        assert_eq!(due(&rules, gemma, 1), None);
        assert_eq!(due(&rules, gemma, 2), Some(Fault::Segv));
        assert_eq!(due(&rules, gemma, 3), None);
        assert_eq!(due(&rules, smol, 2), None);
        let always = parse("abort").unwrap();
        assert_eq!(due(&always, smol, 9), Some(Fault::Abort));
    }
}
