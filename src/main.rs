//! The `ctrmgr` binary: wires config -> store -> runtimes -> service -> transports on one
//! smol executor driven by the main thread, and shuts down cleanly on SIGTERM/SIGINT.
use ctrmgr::api::shutdown::Shutdown;
use ctrmgr::config::Config;
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
    ctrmgr::logging::init(config.log.level.filter());
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
    let default_runtime = config.runtime.default;
    let policy = config.policy.clone();
    let credentials = config
        .runtime
        .registry_credentials()
        .map_err(|e| e.to_string())?;
    let service = Arc::new(
        ContainerService::new(store.clone(), runtimes, default_runtime, config.device_id())
            .with_policy(policy)
            .with_registry_credentials(credentials)
            .with_gc_rules(config.images.rules()),
    );
    // An apply that a crash interrupted is finished or undone before anything else
    // touches the containers: the device runs one consistent generation.
    match service.recover_deployment().await {
        Ok(Some(status)) => log::warn!(
            "deployment generation {} ended on start: {} ({})",
            status.generation,
            status.phase.as_str(),
            status.message.as_deref().unwrap_or("")
        ),
        Ok(None) => {}
        Err(e) => log::error!("cannot read the deployment journal: {e}"),
    }
    // Keeps records true to the engines (start-up reconcile, then their event streams).
    let schedule = ctrmgr::core::reconciler_task::Schedule {
        resync: std::time::Duration::from_secs(config.runtime.resync_interval_s),
        ..Default::default()
    };
    let reconciler = executor.spawn(ctrmgr::core::reconciler_task::run(
        service.clone(),
        schedule,
    ));
    // Restart policies, back-off and health checks, carried out by the agent.
    let supervisor = executor.spawn(ctrmgr::core::supervision::run(
        service.clone(),
        executor.clone(),
    ));
    // The periodic image collection, when `images.gc_interval_s` is set.
    let image_gc = config
        .images
        .interval()
        .map(|every| executor.spawn(ctrmgr::core::image_gc_task::run(service.clone(), every)));
    let (trigger, shutdown) = Shutdown::new();
    let ctx = ctrmgr::api::ApiContext::new(service.clone(), shutdown.clone(), executor.clone());
    let transports = ctrmgr::api::transports::start(&ctx, &config).await?;

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
    supervisor.cancel().await;
    reconciler.cancel().await;
    if let Some(gc) = image_gc {
        gc.cancel().await;
    }
    if left > 0 {
        log::warn!("{left} requests still in flight after {DRAIN_LIMIT:?}; exiting anyway");
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
        max_bytes: config.store.reply_cache_max_mb << 20,
    };
    match (config.store.backend, limits) {
        #[cfg(feature = "lmdb")]
        (ctrmgr::config::StoreBackend::Lmdb, limits) => {
            let map_size = usize::try_from(config.store.map_size_mb * 1024 * 1024)
                .map_err(|_| "store.map_size_mb: too large for this device".to_owned())?;
            let store = ctrmgr::store::lmdb::LmdbStore::open(&config.store.path, map_size, limits)
                .map_err(|e| e.to_string())?;
            Ok(Arc::new(store))
        }
        #[cfg(feature = "redis")]
        (ctrmgr::config::StoreBackend::Redis, limits) => {
            use ctrmgr::store::redis::{RedisStore, RedisTarget};
            let target = if config.store.redis_cluster_nodes.is_empty() {
                RedisTarget::Server(config.store.redis_url.clone())
            } else {
                RedisTarget::Cluster(config.store.redis_cluster_nodes.clone())
            };
            let store = RedisStore::connect(&target, config.redis_prefix(), limits)
                .map_err(|e| e.to_string())?
                .require_replicas(config.store.redis_wait_replicas);
            // The agent starts with Redis down and answers store_error until it is back.
            match store.ping().await {
                Ok(()) => log::info!("redis store: keys under '{}'", store.prefix()),
                Err(e) => log::warn!("{e}; requests that need the store fail until it answers"),
            }
            Ok(Arc::new(store))
        }
        #[cfg(not(all(feature = "lmdb", feature = "redis")))]
        (other, _) => Err(format!(
            "store.backend: '{other}' is not built into this agent"
        )),
    }
}

fn build_runtimes(config: &Config) -> Vec<Arc<dyn Runtime>> {
    let timeout = Duration::from_secs(config.runtime.call_timeout_s);
    let ulimits = config.runtime.default_ulimits.clone();
    let runtimes: Vec<Arc<dyn Runtime>> = vec![
        #[cfg(feature = "docker-cli")]
        (Arc::new(
            ctrmgr::runtime::cli::CliRuntime::new(
                ctrmgr::runtime::cli::CliFlavor::Docker,
                config.runtime.docker_bin.clone(),
                timeout,
            )
            .with_pull_timeout(timeout * 10)
            .with_default_ulimits(ulimits.clone())
            .with_engine_socket(&config.runtime.docker_socket),
        ) as Arc<dyn Runtime>),
        #[cfg(feature = "docker-api")]
        (Arc::new(
            ctrmgr::runtime::docker_api::DockerApi::new(
                config.runtime.docker_socket.clone(),
                timeout,
            )
            .with_default_ulimits(ulimits.clone()),
        ) as Arc<dyn Runtime>),
        #[cfg(feature = "podman-cli")]
        (Arc::new(
            ctrmgr::runtime::cli::CliRuntime::new(
                ctrmgr::runtime::cli::CliFlavor::Podman,
                config.runtime.podman_bin.clone(),
                timeout,
            )
            .with_pull_timeout(timeout * 10)
            .with_default_ulimits(ulimits.clone()),
        ) as Arc<dyn Runtime>),
        #[cfg(feature = "podman-api")]
        (Arc::new(
            ctrmgr::runtime::podman_api::PodmanApi::new(
                config.runtime.podman_socket.clone(),
                timeout,
            )
            .with_default_ulimits(ulimits.clone()),
        ) as Arc<dyn Runtime>),
    ];
    let _ = (timeout, ulimits);
    runtimes
}
