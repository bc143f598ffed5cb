//! Print a `models.json` with N synthetic, measured models (default 20) so the load
//! script can run the real `noa serve` against a realistic candidate set without
//! downloading anything. `cargo run --release -p noa-router --example registry_json -- 20`.

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let reg = noa_router::testing::registry_with(n);
    match serde_json::to_string_pretty(&reg) {
        Ok(s) => println!("{s}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
