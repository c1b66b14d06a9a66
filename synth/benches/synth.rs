//! Benchmark of `synth` (run with `cargo bench -p synth`).
//!
//! 1. The whole process: `synth --env all` of the release build (the bench profile), median
//!    wall time of several runs and peak resident memory (GNU `time`'s maximum RSS).
//! 2. In process, the cost per resource: building and rendering a template holding 1x and 10x
//!    copies of the pipeline's data layer, to show the cost stays linear.
//!
//! Prints a Markdown table; the README quotes it.

use std::process::Command;
use std::time::{Duration, Instant};

use platform_model::cfn::Template;
use platform_model::platform::{data_layer, synthesize};
use platform_model::settings::{Environment, Settings};

const RUNS: usize = 21;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn whole_process() -> (Duration, Option<u64>) {
    let out = tempfile::tempdir().expect("temp dir");
    let synth = env!("CARGO_BIN_EXE_synth");
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let status = Command::new(synth)
            .args(["--env", "all", "--quiet", "--out"])
            .arg(out.path())
            .status()
            .expect("run synth");
        times.push(start.elapsed());
        assert!(status.success());
    }
    // Peak RSS through GNU time, when it is installed (Debian package `time`).
    let rss = Command::new("/usr/bin/time")
        .args(["-f", "%M", synth, "--env", "all", "--quiet", "--out"])
        .arg(out.path())
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .and_then(|l| l.trim().parse::<u64>().ok())
        });
    (median(times), rss)
}

fn scaled(settings: &Settings, copies: usize) -> (Duration, usize, usize) {
    let mut times = Vec::new();
    let mut resources = 0;
    let mut bytes = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let mut t = Template::new("scaled", "Scaled data layer");
        for i in 0..copies {
            data_layer(&mut t, &format!("Copy{i}"), settings);
        }
        let body = t.render().expect("render");
        times.push(start.elapsed());
        resources = t.resource_count();
        bytes = body.len();
    }
    (median(times), resources, bytes)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let settings = Settings::embedded(Environment::Prod).expect("settings");
    let assets = synth::assets::compute(&synth::assets::workspace_root()).expect("assets");
    let all: usize = Environment::ALL
        .iter()
        .map(|&e| {
            synthesize(&Settings::embedded(e).expect("settings"), &assets)
                .expect("synth")
                .iter()
                .map(|a| a.items)
                .sum::<usize>()
        })
        .sum();
    let (wall, rss) = whole_process();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| `synth --env all`, whole process, median of {RUNS} runs ({all} resources in all) | {:.1} ms |",
        wall.as_secs_f64() * 1e3
    );
    match rss {
        Some(kb) => println!(
            "| peak resident memory (max RSS) | {:.1} MB |",
            kb as f64 / 1024.0
        ),
        None => println!(
            "| peak resident memory | not measured: /usr/bin/time missing (apt-get install time) |"
        ),
    }
    let (t1, r1, b1) = scaled(&settings, 1);
    let (t10, r10, b10) = scaled(&settings, 10);
    let per = |t: Duration, r: usize| t.as_secs_f64() * 1e6 / r as f64;
    println!(
        "| in process, 1x data layer: {r1} resources, {b1} bytes | {:.0} us ({:.1} us/resource) |",
        t1.as_secs_f64() * 1e6,
        per(t1, r1)
    );
    println!(
        "| in process, 10x data layer: {r10} resources, {b10} bytes | {:.0} us ({:.1} us/resource) |",
        t10.as_secs_f64() * 1e6,
        per(t10, r10)
    );
    println!(
        "| 10x / 1x time per resource | {:.2} |",
        per(t10, r10) / per(t1, r1)
    );
}
