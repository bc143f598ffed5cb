//! `noa doctor`: is this machine and this build fit to measure models? It reads the
//! CPU's features, runs a short self-test of each installed model's architecture in an
//! engine worker (so a kernel that faults shows up here, named, in seconds, rather
//! than as a dead bench run), reports the llama.cpp build's features as the worker
//! saw them, and checks disk, memory and evaluation data. Exit 1 with the fix when
//! something is wrong; warnings alone exit 0.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use noa_bench::suite::SuiteSet;
use noa_bench::suite::data::{Availability, DataEnv, availability};
use noa_engine::{EngineConfig, GenerateRequest, Model, Prompt};
use noa_registry::RegistryStore;
use serde::Serialize;

use super::{Context, IsolationArgs, Outcome};

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub isolation: IsolationArgs,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    name: String,
    status: Status,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

impl Check {
    fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Self {
        Self { name: name.into(), status, detail: detail.into(), fix: None }
    }
    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// CPU features that decide which ggml kernels can run here.
const CPU_FLAGS: &[&str] = &[
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx_vnni",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
];

pub fn run(args: DoctorArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let mut checks = Vec::new();
    let flags = cpu_flags();
    let model_name = cpu_model().unwrap_or_else(|| "unknown CPU".into());
    let shown: Vec<&str> =
        CPU_FLAGS.iter().copied().filter(|f| flags.iter().any(|x| x == f)).collect();
    checks.push(Check::new("cpu", Status::Ok, format!("{model_name}: {}", shown.join(" "))));
    checks.push(Check::new("engine build", Status::Ok, noa_engine::engine_build()));
    let worker = args.isolation.worker()?;
    if worker.is_none() {
        checks.push(
            Check::new("isolation", Status::Warn, "llama.cpp runs inside noa (--in-process)")
                .fix("unset NOA_ENGINE_IN_PROCESS so a crash in llama.cpp cannot end noa"),
        );
    }
    checks.extend(self_tests(ctx, worker, &flags));
    checks.push(disk(ctx));
    checks.push(memory());
    checks.extend(evaluation_data(ctx));

    let failed = checks.iter().any(|c| c.status == Status::Fail);
    let mut out = std::io::stdout().lock();
    if args.json {
        super::write_json(&mut out, &checks)?;
    } else {
        for c in &checks {
            let mark = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            writeln!(out, "{mark}  {:<22} {}", c.name, c.detail)?;
            if let Some(fix) = &c.fix {
                writeln!(out, "      {:<22} fix: {fix}", "")?;
            }
        }
    }
    Ok(if failed { Outcome::Failure } else { Outcome::Success })
}

fn cpu_info() -> String {
    std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default()
}

fn cpu_flags() -> Vec<String> {
    let info = cpu_info();
    let line = info.lines().find(|l| l.starts_with("flags")).unwrap_or_default();
    line.split(':').nth(1).unwrap_or_default().split_whitespace().map(str::to_owned).collect()
}

fn cpu_model() -> Option<String> {
    let info = cpu_info();
    let line = info.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split(':').nth(1)?.trim().to_owned())
}

/// One short generation per architecture among the installed models, each in its own
/// worker; the first worker's report of the build's features is checked against the CPU.
fn self_tests(
    ctx: &Context,
    worker: Option<noa_engine::WorkerCommand>,
    flags: &[String],
) -> Vec<Check> {
    let registry = match RegistryStore::open(&ctx.home).load() {
        Ok(r) => r,
        Err(e) => {
            return vec![
                Check::new("registry", Status::Fail, e.to_string())
                    .fix("repair or move `models.json`; noa never overwrites it"),
            ];
        }
    };
    let mut by_arch: BTreeMap<String, (String, std::path::PathBuf)> = BTreeMap::new();
    for m in &registry.models {
        let (Some(path), Some(g)) = (m.file_path(&ctx.home), m.gguf.as_ref()) else { continue };
        if path.is_file() {
            by_arch.entry(g.architecture.clone()).or_insert((m.id.clone(), path));
        }
    }
    if by_arch.is_empty() {
        return vec![
            Check::new("self-test", Status::Warn, "no installed model to test the engine with")
                .fix("`noa models pull --defaults`, then run `noa doctor` again"),
        ];
    }
    let config = EngineConfig { n_ctx: 256, n_seq_max: 1, worker, ..EngineConfig::default() };
    let mut checks = Vec::new();
    let mut build_checked = false;
    for (arch, (id, path)) in by_arch {
        let name = format!("self-test {arch}");
        let t0 = Instant::now();
        let model = match Model::load(&path, &config) {
            Ok(m) => m,
            Err(e) => {
                checks.push(
                    Check::new(name, Status::Fail, format!("`{id}`: {e}")).fix(crash_fix(&e)),
                );
                continue;
            }
        };
        if !build_checked && let Model::Worker(w) = &model {
            build_checked = true;
            checks.push(build_features(w.system_info(), flags));
        }
        let mut req = GenerateRequest::chat(Vec::new(), 8);
        req.prompt = Prompt::Raw("The capital of France is".into());
        req.deadline = Some(Instant::now() + Duration::from_secs(30));
        match model.generate(req) {
            Ok(g) => checks.push(Check::new(
                name,
                Status::Ok,
                format!(
                    "`{id}` loaded and generated {} tokens in {:.1} s",
                    g.gen_tokens,
                    t0.elapsed().as_secs_f64()
                ),
            )),
            Err(e) => checks
                .push(Check::new(name, Status::Fail, format!("`{id}`: {e}")).fix(crash_fix(&e))),
        }
    }
    checks
}

fn crash_fix(error: &noa_engine::EngineError) -> String {
    if error.is_illegal_instruction() {
        "llama.cpp was built with instructions this CPU does not run: rebuild on this machine \
         (`cargo clean -p llama-cpp-sys-2`, then `make build`); AMX stays off in .cargo/config.toml"
            .into()
    } else {
        "run the failing model with `RUST_LOG=llama-cpp-2=debug noa speed <id>` and see the \
         worker's last words; `noa models verify <id>` checks the file"
            .into()
    }
}

/// The build's kernels against the CPU: a feature compiled in that the CPU lacks is
/// an illegal instruction waiting to happen; AMX compiled in is a known fault.
fn build_features(info: &str, flags: &[String]) -> Check {
    let on = |f: &str| info.contains(&format!("{f} = 1"));
    let has = |f: &str| flags.iter().any(|x| x == f);
    let features: Vec<&str> = [
        "AVX",
        "AVX2",
        "F16C",
        "FMA",
        "AVX512",
        "AVX512_VNNI",
        "AVX512_BF16",
        "AMX_INT8",
        "OPENMP",
    ]
    .into_iter()
    .filter(|f| on(f))
    .collect();
    let detail = if features.is_empty() { info.to_owned() } else { features.join(" ") };
    let missing: Vec<&str> =
        [("AVX2", "avx2"), ("AVX512", "avx512f"), ("FMA", "fma"), ("F16C", "f16c")]
            .into_iter()
            .filter(|(b, c)| on(b) && !has(c))
            .map(|(b, _)| b)
            .collect();
    if !missing.is_empty() {
        return Check::new(
            "llama.cpp build",
            Status::Fail,
            format!("{detail}; this CPU lacks {}", missing.join(", ")),
        )
        .fix("rebuild on this machine: `cargo clean -p llama-cpp-sys-2`, then `make build`");
    }
    if on("AMX_INT8") {
        return Check::new(
            "llama.cpp build",
            Status::Fail,
            format!("{detail}; AMX kernels are compiled in and fault on some Xeons"),
        )
        .fix("build with the repository's .cargo/config.toml, which turns AMX off");
    }
    Check::new("llama.cpp build", Status::Ok, detail)
}

fn disk(ctx: &Context) -> Check {
    const GIB: f64 = (1u64 << 30) as f64;
    match noa_registry::disk::available(ctx.home.root()) {
        Ok(b) if b < 1 << 30 => Check::new(
            "disk",
            Status::Warn,
            format!("{:.2} GiB free under {}", b as f64 / GIB, ctx.home.root().display()),
        )
        .fix("free space or point NOA_HOME elsewhere: models need 0.1 to 10 GiB each"),
        Ok(b) => Check::new(
            "disk",
            Status::Ok,
            format!("{:.1} GiB free under {}", b as f64 / GIB, ctx.home.root().display()),
        ),
        Err(e) => Check::new("disk", Status::Warn, e.to_string()),
    }
}

fn memory() -> Check {
    const GIB: f64 = (1u64 << 30) as f64;
    match noa_engine::pool::available_memory() {
        Some(b) if b < 1 << 30 => {
            Check::new("memory", Status::Warn, format!("{:.2} GiB available", b as f64 / GIB)).fix(
                "close other programs; the smallest models need about 0.3 GiB, 8B models 6 GiB",
            )
        }
        Some(b) => Check::new("memory", Status::Ok, format!("{:.1} GiB available", b as f64 / GIB)),
        None => Check::new("memory", Status::Warn, "cannot read /proc/meminfo"),
    }
}

fn evaluation_data(ctx: &Context) -> Vec<Check> {
    let set = match SuiteSet::discover(&[]) {
        Ok(s) => s,
        Err(e) => return vec![Check::new("suites", Status::Fail, e.to_string())],
    };
    let env = DataEnv::from_env(&ctx.home);
    let mut present = Vec::new();
    let mut absent = Vec::new();
    for s in &set.suites {
        match availability(s, &env) {
            Availability::Absent(how) => absent.push(format!("{} ({how})", s.id())),
            _ => present.push(s.id().to_owned()),
        }
    }
    let mut out =
        vec![Check::new("evaluation data", Status::Ok, format!("present: {}", present.join(", ")))];
    if !absent.is_empty() {
        out.push(
            Check::new(
                "evaluation data",
                Status::Warn,
                format!("absent, skipped by bench: {}", absent.join("; ")),
            )
            .fix("`noa evalsets pull`, and NOA_EVALSETS_DIR for the mirrored sets"),
        );
    }
    out
}
