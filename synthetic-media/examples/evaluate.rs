//! Generates fresh presentations, runs the reference verifier on them and prints BPCER,
//! APCER per species, FNMR and FMR. Exits 1 if a bound is broken, 2 on bad arguments.
//!
//! `cargo run --release -p duxue-media --example evaluate -- --per-class 1000 --seed 20261126`

use duxue_media::evaluate::evaluate;

fn main() {
    let mut per_class = 1000usize;
    let mut seed = 0x5EED_2026_u64;
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut verbose = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> u64 {
            match args.next().and_then(|v| v.parse().ok()) {
                Some(v) => v,
                None => {
                    eprintln!(
                        "{name} needs a number; usage: evaluate [--per-class N] [--seed S] [--threads T] [--verbose]"
                    );
                    std::process::exit(2);
                }
            }
        };
        match a.as_str() {
            "--per-class" => per_class = value("--per-class") as usize,
            "--seed" => seed = value("--seed"),
            "--threads" => threads = value("--threads") as usize,
            "--verbose" => verbose = true,
            _ => {
                eprintln!(
                    "unknown argument {a}; usage: evaluate [--per-class N] [--seed S] [--threads T] [--verbose]"
                );
                std::process::exit(2);
            }
        }
    }
    let start = std::time::Instant::now();
    let e = evaluate(per_class, seed, threads);
    print!("{}", e.table());
    println!(
        "took {:.1} s on {threads} thread(s)",
        start.elapsed().as_secs_f64()
    );
    if verbose {
        for n in &e.notes {
            println!("  {n}");
        }
    }
    if !e.within_bounds() {
        std::process::exit(1);
    }
}
