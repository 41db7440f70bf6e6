//! The `ctrmgr` binary: wires config -> store -> runtimes -> service -> transports on one
//! smol executor driven by the main thread, and shuts down cleanly on SIGTERM/SIGINT.
// Each transport, store and runtime is wired behind its cargo feature: a build without
// some of them leaves their shared wiring (the task list, the context) partly unused.
#![cfg_attr(
    not(all(
        feature = "rest",
        feature = "mqtt",
        feature = "dbus",
        feature = "mqueue",
        feature = "grpc",
        feature = "lmdb",
        feature = "redis",
        feature = "docker-cli",
        feature = "docker-api",
        feature = "podman-cli",
        feature = "podman-api"
    )),
    allow(unused_mut, unused_variables, unused_imports)
)]

use ctrmgr::api::metrics::Metrics;
use ctrmgr::api::shutdown::Shutdown;
use ctrmgr::config::{Config, StoreBackend};
use ctrmgr::core::runtime::Runtime;
use ctrmgr::core::service::ContainerService;
use ctrmgr::core::store::{ReplyCacheLimits, Store};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "\
ctrmgr: container manager agent for edge gateways

Usage: ctrmgr [--config PATH]

Options:
  -c, --config PATH   TOML configuration file (every key has a default;
                      see board-configs/ and the README)
  -V, --version       print the version and exit
  -h, --help          print this help and exit
";

/// How long shutdown waits for in-flight requests.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let config_path = match parse_args(std::env::args().skip(1)) {
        Ok(Some(path)) => path,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ctrmgr: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = match config_path
        .as_deref()
        .map_or_else(|| Ok(Config::default()), Config::load)
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ctrmgr: {e}");
            return ExitCode::from(78);
        }
    };
    ctrmgr::logging::init(config.log.level_filter().unwrap_or(log::LevelFilter::Info));
    let signals = match ctrmgr::signals::TerminationSignals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ctrmgr: cannot set up signal handling: {e}");
            return ExitCode::FAILURE;
        }
    };
    let executor = Arc::new(smol::Executor::new());
    // Reap CLI children on our executor instead of async-process's own thread.
    executor.spawn(smol::process::driver()).detach();
    let result = smol::block_on(executor.run(run(config, signals, executor.clone())));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            log::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok(Some(config))` to run, `Ok(None)` after `--help`/`--version`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Option<PathBuf>>, String> {
    let mut config = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("ctrmgr {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "-c" | "--config" => {
                config = Some(PathBuf::from(args.next().ok_or("--config needs a PATH")?));
            }
            other => match other.strip_prefix("--config=") {
                Some(path) => config = Some(PathBuf::from(path)),
                None => return Err(format!("unknown argument '{other}'")),
            },
        }
    }
    Ok(Some(config))
}

async fn run(
    config: Config,
    signals: ctrmgr::signals::TerminationSignals,
    executor: Arc<smol::Executor<'static>>,
) -> Result<(), String> {
    let store = open_store(&config).await?;
    let runtimes = build_runtimes(&config);
    let default_runtime = config.runtime.default_kind().map_err(|e| e.to_string())?;
    let policy = config.policy.policy().map_err(|e| e.to_string())?;
    let service = Arc::new(
        ContainerService::new(store.clone(), runtimes, default_runtime, config.device_id())
            .with_policy(policy),
    );
    // Keeps records true to the engines (start-up reconcile, then their event streams).
    let reconciler = executor.spawn(ctrmgr::core::reconciler::run(service.clone()));
    let metrics = Arc::new(Metrics::default());
    let (trigger, shutdown) = Shutdown::new();
    let mut transports: Vec<smol::Task<()>> = Vec::new();

    let ctx = ctrmgr::api::ApiContext {
        service: service.clone(),
        metrics: metrics.clone(),
        shutdown: shutdown.clone(),
        executor: executor.clone(),
    };
    #[cfg(feature = "rest")]
    if config.rest.enabled {
        transports.extend(ctrmgr::api::rest::start(&ctx, &config.rest).await?);
    }
    #[cfg(feature = "mqtt")]
    if config.mqtt.is_enabled() {
        let mqtt = ctrmgr::api::mqtt::serve(ctx.clone(), config.mqtt.clone());
        transports.push(executor.spawn(async move {
            if let Err(e) = mqtt.await {
                log::error!("MQTT transport stopped: {e}");
            }
        }));
    }
    #[cfg(feature = "dbus")]
    if config.dbus.enabled {
        let dbus = ctrmgr::api::dbus::serve(ctx.clone(), config.dbus.clone());
        transports.push(executor.spawn(async move {
            if let Err(e) = dbus.await {
                log::error!("D-Bus transport stopped: {e}");
            }
        }));
    }
    #[cfg(feature = "grpc")]
    if config.grpc.enabled {
        transports.push(ctrmgr::api::grpc::start(&ctx, &config.grpc)?);
    }
    #[cfg(feature = "mqueue")]
    if config.mqueue.enabled {
        let mqueue = ctrmgr::api::mqueue::serve(ctx.clone(), config.mqueue.clone());
        transports.push(executor.spawn(async move {
            if let Err(e) = mqueue.await {
                log::error!("POSIX message queue transport stopped: {e}");
            }
        }));
    }

    log::info!(
        "ctrmgr {} ready: device '{}', store {}, default runtime {}",
        env!("CARGO_PKG_VERSION"),
        service.device_id(),
        store.backend(),
        default_runtime
    );
    use ctrmgr::systemd_notify;
    if let Err(e) = systemd_notify::notify("READY=1") {
        log::warn!("telling systemd we are ready failed: {e}");
    }
    if let Some(interval) = systemd_notify::watchdog_interval() {
        // Ping at half the interval, as sd_watchdog_enabled(3) advises.
        executor
            .spawn(async move {
                loop {
                    smol::Timer::after(interval / 2).await;
                    if let Err(e) = systemd_notify::notify("WATCHDOG=1") {
                        log::warn!("systemd watchdog ping failed: {e}");
                    }
                }
            })
            .detach();
    }
    let signal = signals
        .recv()
        .await
        .map_err(|e| format!("reading signals failed: {e}"))?;
    log::info!("{signal} received: no new requests, finishing those in flight");
    if let Err(e) = systemd_notify::notify("STOPPING=1") {
        log::warn!("telling systemd we are stopping failed: {e}");
    }
    trigger.trigger();
    for t in transports {
        t.await;
    }
    let left = shutdown.drain(DRAIN_LIMIT).await;
    // Closes the engines' event streams; no record is written after this.
    reconciler.cancel().await;
    if left > 0 {
        log::warn!("{left} requests still in flight after {DRAIN_LIMIT:?}; exiting anyway");
    }
    if let Some(path) = &config.rest.unix_socket {
        let _ = std::fs::remove_file(path);
    }
    store
        .close()
        .await
        .map_err(|e| format!("closing the store failed: {e}"))?;
    log::info!("stopped");
    Ok(())
}

async fn open_store(config: &Config) -> Result<Arc<dyn Store>, String> {
    let limits = ReplyCacheLimits {
        max_entries: config.store.reply_cache_max_entries,
        ttl_s: config.store.reply_cache_ttl_s,
    };
    match config.store.backend {
        #[cfg(feature = "lmdb")]
        StoreBackend::Lmdb => {
            let map_size = usize::try_from(config.store.map_size_mb * 1024 * 1024)
                .map_err(|_| "store.map_size_mb: too large for this device".to_owned())?;
            let store = ctrmgr::store::lmdb::LmdbStore::open(&config.store.path, map_size, limits)
                .map_err(|e| e.to_string())?;
            Ok(Arc::new(store))
        }
        #[cfg(feature = "redis")]
        StoreBackend::Redis => {
            let url = &config.store.redis_url;
            let store =
                ctrmgr::store::redis::RedisStore::connect(url, config.redis_prefix(), limits)
                    .map_err(|e| e.to_string())?;
            // The agent starts with Redis down and answers store_error until it is back.
            match store.ping().await {
                Ok(()) => log::info!("redis store: keys under '{}'", store.prefix()),
                Err(e) => log::warn!("{e}; requests that need the store fail until it answers"),
            }
            Ok(Arc::new(store))
        }
        #[cfg(not(all(feature = "lmdb", feature = "redis")))]
        other => Err(format!(
            "store.backend: '{other:?}' is not built into this agent"
        )),
    }
}

// Each push is behind its own feature, so `vec![...]` cannot express it.
#[allow(clippy::vec_init_then_push)]
fn build_runtimes(config: &Config) -> Vec<Arc<dyn Runtime>> {
    let timeout = Duration::from_secs(config.runtime.call_timeout_s);
    // Config::load validated the ulimits already.
    let ulimits = config.runtime.ulimits().unwrap_or_else(|e| {
        log::warn!("{e}; containers are created without default ulimits");
        Vec::new()
    });
    let mut runtimes: Vec<Arc<dyn Runtime>> = Vec::new();
    #[cfg(feature = "docker-cli")]
    runtimes.push(Arc::new(
        ctrmgr::runtime::cli::CliRuntime::new(
            ctrmgr::runtime::cli::CliFlavor::Docker,
            config.runtime.docker_bin.clone(),
            timeout,
        )
        .with_pull_timeout(timeout * 10)
        .with_default_ulimits(ulimits.clone())
        .with_engine_socket(&config.runtime.docker_socket),
    ));
    #[cfg(feature = "docker-api")]
    runtimes.push(Arc::new(
        ctrmgr::runtime::docker_api::DockerApi::new(config.runtime.docker_socket.clone(), timeout)
            .with_default_ulimits(ulimits.clone()),
    ));
    #[cfg(feature = "podman-cli")]
    runtimes.push(Arc::new(
        ctrmgr::runtime::cli::CliRuntime::new(
            ctrmgr::runtime::cli::CliFlavor::Podman,
            config.runtime.podman_bin.clone(),
            timeout,
        )
        .with_pull_timeout(timeout * 10)
        .with_default_ulimits(ulimits.clone()),
    ));
    #[cfg(feature = "podman-api")]
    runtimes.push(Arc::new(
        ctrmgr::runtime::podman_api::PodmanApi::new(config.runtime.podman_socket.clone(), timeout)
            .with_default_ulimits(ulimits.clone()),
    ));
    let _ = (timeout, ulimits);
    runtimes
}
