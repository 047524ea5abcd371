//! `goonline serve`: parse flags, set up logging, run until SIGTERM or Ctrl-C,
//! drain, exit 0. `goonline user ...`, `backup`, `restore`: administration,
//! then exit.

use std::process::ExitCode;

use clap::Parser;
use goonline_server::config::{Cli, Command, LogFormat, ServeArgs};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::User(args) => tool(goonline_server::identity::cli::run(args)),
        Command::Backup(args) => tool(goonline_server::backup::backup(args)),
        Command::Restore(args) => tool(goonline_server::backup::restore(args)),
    }
}

/// An administration command: warnings only on stderr; results on stdout.
fn tool<E: std::fmt::Display>(command: impl Future<Output = Result<(), E>>) -> ExitCode {
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
    match runtime.block_on(command) {
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
        // Installed before the listener is bound: a SIGTERM that arrives right
        // after "listening" (a busy machine may not poll the serve future for a
        // while) must drain, not kill the process with its default action.
        let shutdown = match shutdown_signal() {
            Ok(shutdown) => shutdown,
            Err(e) => {
                eprintln!("goonline: cannot install signal handlers: {e}");
                return ExitCode::FAILURE;
            }
        };
        let (addr, serve) = match goonline_server::start(&args, shutdown).await {
            Ok(started) => started,
            Err(e) => {
                eprintln!("goonline: {e}");
                return ExitCode::FAILURE;
            }
        };
        // Scripts and tests wait for this line (stdout; logs go to stderr).
        println!("listening on {}://{addr}", args.tls.scheme());
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

/// Installs the SIGTERM and Ctrl-C handlers now; the returned future resolves
/// on either.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = interrupt.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
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
