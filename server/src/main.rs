//! `goonline serve`: parse flags, set up logging, run until SIGTERM or Ctrl-C,
//! drain, exit 0. `goonline user ...`: account administration, then exit.

use std::process::ExitCode;

use clap::Parser;
use goonline_server::config::{Cli, Command, LogFormat, ServeArgs, UserArgs};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::User(args) => user(args),
    }
}

/// `goonline user ...`: warnings only on stderr; results on stdout.
fn user(args: UserArgs) -> ExitCode {
    let filter = EnvFilter::try_from_env("GOONLINE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("warn,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("goonline: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(goonline_server::identity::cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("goonline: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let filter = EnvFilter::try_from_env("GOONLINE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("goonline: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let (addr, serve) = match goonline_server::start(&args, shutdown_signal()).await {
            Ok(started) => started,
            Err(e) => {
                eprintln!("goonline: {e}");
                return ExitCode::FAILURE;
            }
        };
        // Scripts and tests wait for this line (stdout; logs go to stderr).
        println!("listening on http://{addr}");
        tracing::info!(%addr, database = %redact(&args.database_url()), "goonline serving");
        match serve.await {
            Ok(_) => {
                tracing::info!("goonline stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("goonline: server error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Hides a password in a database URL for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
