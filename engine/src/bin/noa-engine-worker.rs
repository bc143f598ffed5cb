//! A bare engine worker process, for the engine's own tests and for embedding the
//! engine without the `noa` binary (which has the same worker as `noa engine-worker`).

fn main() {
    std::process::exit(noa_engine::worker_main());
}
