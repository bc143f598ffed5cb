//! Bounded loopback load on `POST /v1/route`: C keep-alive connections, each on its own
//! thread, send a fixed routing request until the request count or the duration runs
//! out; every request's latency goes into an hdrhistogram. Prints throughput and
//! percentiles (and a JSON line with `--json`). A plain HTTP/1.1 client over
//! `std::net` keeps the generator's own cost small and predictable.
//!
//! `load_route ADDR [--connections 4] [--requests 200000] [--duration-s 10] [--json]`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

const BODY: &str = r#"{"use_case":"code_generation","max_latency_ms":5000,"prompt_tokens":300,"output_tokens":200}"#;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(addr) = args.get(1).cloned() else {
        eprintln!(
            "usage: load_route ADDR [--connections N] [--requests N] [--duration-s S] [--json]"
        );
        std::process::exit(1);
    };
    let connections: u64 = arg(&args, "--connections", 4);
    let requests: u64 = arg(&args, "--requests", 200_000);
    let duration = Duration::from_secs_f64(arg(&args, "--duration-s", 10.0));
    let json = args.iter().any(|a| a == "--json");
    let issued = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..connections)
        .map(|_| {
            let (addr, issued, errors) = (addr.clone(), issued.clone(), errors.clone());
            std::thread::spawn(move || worker(&addr, requests, duration, start, &issued, &errors))
        })
        .collect();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    for h in handles {
        match h.join() {
            Ok(Ok(part)) => hist.add(part).expect("same bounds"),
            Ok(Err(e)) => {
                eprintln!("connection failed: {e}");
                std::process::exit(2);
            }
            Err(_) => std::process::exit(2),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = hist.len();
    let rps = n as f64 / elapsed;
    let us = |q: f64| hist.value_at_quantile(q);
    println!(
        "route: {n} requests in {elapsed:.2} s over {connections} connections: {rps:.0} req/s, p50 {} us, p99 {} us, p99.9 {} us, max {} us, errors {}",
        us(0.5),
        us(0.99),
        us(0.999),
        hist.max(),
        errors.load(Ordering::Relaxed)
    );
    if json {
        println!(
            "{{\"requests\":{n},\"seconds\":{elapsed:.3},\"rps\":{rps:.1},\"p50_us\":{},\"p99_us\":{},\"errors\":{}}}",
            us(0.5),
            us(0.99),
            errors.load(Ordering::Relaxed)
        );
    }
}

fn worker(
    addr: &str,
    total: u64,
    duration: Duration,
    start: Instant,
    issued: &AtomicU64,
    errors: &AtomicU64,
) -> std::io::Result<Histogram<u64>> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let request = format!(
        "POST /v1/route HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let mut line = String::new();
    let mut body = Vec::new();
    while issued.fetch_add(1, Ordering::Relaxed) < total && start.elapsed() < duration {
        let t = Instant::now();
        writer.write_all(request.as_bytes())?;
        line.clear();
        reader.read_line(&mut line)?;
        if !line.starts_with("HTTP/1.1 200") {
            errors.fetch_add(1, Ordering::Relaxed);
        }
        let mut len = 0usize;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
        let _ = hist.record((t.elapsed().as_micros() as u64).max(1));
    }
    Ok(hist)
}
