//! SIGINT and SIGTERM during a run: the first one asks the run to stop and write what it has
//! (a report marked INTERRUPTED, sealed); a second one ends the process at once. Without
//! [`install`] (calibration, tests) a run is never asked to stop.

use std::sync::OnceLock;

use tokio::sync::watch;

static REQUESTED: OnceLock<watch::Sender<Option<&'static str>>> = OnceLock::new();

/// Listens for SIGINT and SIGTERM from now on. Call once, inside the runtime.
pub fn install() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let sender = REQUESTED.get_or_init(|| watch::channel(None).0);
    tokio::spawn(async move {
        let mut seen = 0;
        loop {
            let name = tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            };
            seen += 1;
            if seen == 1 {
                eprintln!(
                    "duxue: {name} received — stopping and writing the partial report (again to quit at once)"
                );
                sender.send_replace(Some(name));
            } else {
                eprintln!(
                    "error: {name} received again — stopped at once; `duxue report render DIR` renders what the run folder holds"
                );
                std::process::exit(2);
            }
        }
    });
    Ok(())
}

/// Resolves with the signal's name once a stop was asked for; never without [`install`].
pub async fn requested() -> &'static str {
    let Some(sender) = REQUESTED.get() else {
        return std::future::pending().await;
    };
    let mut receiver = sender.subscribe();
    match receiver.wait_for(Option::is_some).await {
        Ok(name) => name.unwrap_or("signal"),
        Err(_) => std::future::pending().await,
    }
}
