//! A request to stop (SIGINT, SIGTERM): work that changes clusters finishes the requests in
//! flight, gives back its Leases and reports what it changed, instead of dying with the Lease
//! held and nothing said.

use tokio::sync::watch;

/// Whether stopping was asked for; cheap to clone and to check. The default never stops.
#[derive(Debug, Clone, Default)]
pub struct Stop(Option<watch::Receiver<bool>>);

impl Stop {
    /// Stops once `true` is sent on the channel.
    pub fn on(requests: watch::Receiver<bool>) -> Stop {
        Stop(Some(requests))
    }

    pub fn requested(&self) -> bool {
        self.0.as_ref().is_some_and(|r| *r.borrow())
    }

    /// Resolves when stopping is asked for (never, for the default).
    pub async fn wait(&self) {
        match &self.0 {
            None => std::future::pending().await,
            Some(r) => {
                let mut r = r.clone();
                // A closed channel is no request to stop.
                if r.wait_for(|stop| *stop).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_is_seen_by_every_clone_and_wakes_a_waiter() {
        let (tx, rx) = watch::channel(false);
        let stop = Stop::on(rx);
        let waiter = stop.clone();
        assert!(!stop.requested());
        let woken = tokio::spawn(async move { waiter.wait().await });
        tx.send(true).unwrap();
        woken.await.unwrap();
        assert!(stop.requested());
        assert!(!Stop::default().requested());
    }
}
