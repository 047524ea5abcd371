//! `goonline-loadgen <scenario> [flags]`: runs one scenario and prints its JSON
//! record (and a one-line summary on stderr). See `benches/README.md`.

use std::io::Write;

use clap::Parser;
use goonline_loadgen::scenarios::{Scenario, run};

/// Load generator for GoOnline and its peers.
#[derive(Debug, Parser)]
#[command(name = "goonline-loadgen", version, about)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Worker threads of the load generator's runtime (default: one per core).
    #[arg(long, global = true)]
    threads: Option<usize>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cli.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = match rt.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("goonline-loadgen: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.scenario)) {
        Ok((records, out)) => {
            for r in &records {
                let line = serde_json::to_string(r).unwrap_or_default();
                println!("{line}");
                eprintln!("{}", goonline_loadgen::report::summary(r));
                if let Some(path) = &out {
                    let appended = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .and_then(|mut f| writeln!(f, "{line}"));
                    if let Err(e) = appended {
                        eprintln!("goonline-loadgen: cannot append to {}: {e}", path.display());
                        return std::process::ExitCode::FAILURE;
                    }
                }
            }
            // The process exits here with sockets still open: no need to close
            // thousands of clients one by one.
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("goonline-loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
