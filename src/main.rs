//! The `intake-gateway` command: `serve` (the default), `check-config`, `spool` and `import`.

use clap::{Parser, Subcommand};
use intake_gateway::Config;
use std::path::PathBuf;
use std::process::ExitCode;

// glibc's malloc cost about a seventh of a request's CPU (arena locks between the runtime's
// workers, consolidation); mimalloc's thread-local free lists make the same work a few percent.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "intake-gateway",
    version,
    about = "12345 hotline omnichannel intake gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// TOML configuration file (also INTAKE_CONFIG); INTAKE__SECTION__KEY variables override it.
    #[arg(long, short, env = "INTAKE_CONFIG", global = true)]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Validate the configuration and print it with secrets redacted.
    CheckConfig,
    /// Inspect or drain the local spool (requests waiting for Kafka).
    Spool {
        #[command(subcommand)]
        action: SpoolAction,
    },
    /// Submit a CSV, JSON Lines or XLSX file of requests to the running gateway as a partner.
    Import(intake_gateway::import::ImportArgs),
}

#[derive(Subcommand)]
enum SpoolAction {
    /// Print how many requests wait, their bytes and the oldest one's age (JSON).
    Status {
        /// The data directory to look at, instead of `storage.data_dir`.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Forward the spool to Kafka now and exit when it is empty. Only while no gateway runs.
    Drain {
        /// Give up after this long (e.g. 10m).
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
        /// The data directory whose spool to drain (an orphaned replica's volume), instead of
        /// `storage.data_dir`.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // An import talks to a running gateway over HTTP; it needs none of this host's configuration.
    let command = match cli.command {
        Some(Command::Import(args)) => return intake_gateway::import::run(args),
        other => other,
    };
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("intake-gateway: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Spool {
        action:
            SpoolAction::Status {
                data_dir: Some(dir),
            }
            | SpoolAction::Drain {
                data_dir: Some(dir),
                ..
            },
    }) = &command
    {
        config.storage.data_dir = dir.clone();
    }
    match command.unwrap_or(Command::Serve) {
        Command::CheckConfig => {
            print!("{}", config.redacted_toml());
            print!("{}", config.registry_summary());
            for warning in config.deprecations() {
                eprintln!("warning: {warning}");
            }
            eprintln!("configuration OK");
            ExitCode::SUCCESS
        }
        Command::Serve => serve(config),
        Command::Spool {
            action: SpoolAction::Status { .. },
        } => intake_gateway::spool_cli::status(&config),
        Command::Spool {
            action: SpoolAction::Drain { timeout, .. },
        } => intake_gateway::spool_cli::drain(config, timeout),
        Command::Import(_) => unreachable!("handled before the configuration is loaded"),
    }
}

fn serve(config: Config) -> ExitCode {
    let outbound = match intake_gateway::outbound::Outbound::load(&config.outbound) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("intake-gateway: {e}");
            return ExitCode::FAILURE;
        }
    };
    let otlp = match intake_gateway::otel::Otlp::start(&config.log, &outbound) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("intake-gateway: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (writer, dropped, _flush_at_exit) = intake_gateway::logging::stderr();
    init_logging(&config, otlp.as_ref(), writer);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = config.server.worker_threads {
        builder.worker_threads(n);
    }
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("intake-gateway: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        // The writer drops what it cannot buffer (never blocking a request); count it.
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                metrics::counter!("intake_log_dropped_total").absolute(dropped.lines());
            }
        });
        let gateway = match intake_gateway::start(config).await {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                eprintln!("intake-gateway: {e}");
                return ExitCode::FAILURE;
            }
        };
        wait_for_signal().await;
        gateway.shutdown().await;
        ExitCode::SUCCESS
    });
    // After the gateway has finished: send the spans still batched (blocks, so outside the runtime).
    if let Some(otlp) = otlp {
        otlp.shutdown();
    }
    code
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending::<()>().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn init_logging(
    config: &Config,
    otlp: Option<&intake_gateway::otel::Otlp>,
    writer: intake_gateway::logging::LogWriter,
) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{fmt, EnvFilter, Layer};
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    // A tracing span per request only where something reads spans: the text format prints them
    // and OpenTelemetry exports them. The JSON lines alone get the same `span` object from a
    // cheaper task-local context (`logging::scope`).
    intake_gateway::logging::scope::use_spans(config.log.format == "text" || otlp.is_some());
    let output = if config.log.format == "text" {
        fmt::layer().with_writer(writer).boxed()
    } else {
        intake_gateway::logging::json_layer(writer).boxed()
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .with(otlp.map(|o| o.layer()))
        .init();
}
