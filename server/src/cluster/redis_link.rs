//! One lazily opened, shared Redis connection for the cluster's counters, with
//! a short deadline on every command: a Redis that does not answer must not
//! hold up a sign-in. A failed command drops the connection; the next one
//! reconnects.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;

/// Longest wait for one command (a pipeline gets four times as long).
const TIMEOUT: Duration = Duration::from_millis(500);

/// A connection to the cluster's Redis.
pub(super) struct RedisLink {
    client: redis::Client,
    conn: Mutex<Option<MultiplexedConnection>>,
    prefix: String,
}

impl RedisLink {
    pub(super) fn open(url: &str, prefix: &str) -> Result<RedisLink, String> {
        Ok(RedisLink {
            client: redis::Client::open(url).map_err(|e| e.to_string())?,
            conn: Mutex::new(None),
            prefix: prefix.to_string(),
        })
    }

    /// `{prefix}:{kind}:{id}`.
    pub(super) fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{kind}:{id}", self.prefix)
    }

    async fn connection(&self) -> Result<MultiplexedConnection, redis::RedisError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = self.client.get_multiplexed_async_connection().await?;
        *slot = Some(c.clone());
        Ok(c)
    }

    async fn forget(&self) {
        *self.conn.lock().await = None;
    }

    /// Runs `cmd`.
    pub(super) async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, String> {
        let attempt = async {
            let mut c = self.connection().await?;
            cmd.query_async::<T>(&mut c).await
        };
        self.settle(tokio::time::timeout(TIMEOUT, attempt).await)
            .await
    }

    /// Runs `pipe`, ignoring its replies.
    pub(super) async fn run_pipe(&self, pipe: redis::Pipeline) -> Result<(), String> {
        let attempt = async {
            let mut c = self.connection().await?;
            pipe.query_async::<()>(&mut c).await
        };
        self.settle(tokio::time::timeout(TIMEOUT * 4, attempt).await)
            .await
    }

    async fn settle<T>(
        &self,
        r: Result<Result<T, redis::RedisError>, tokio::time::error::Elapsed>,
    ) -> Result<T, String> {
        match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.forget().await;
                Err(e.to_string())
            }
            Err(_) => {
                self.forget().await;
                Err("no answer from Redis in time".into())
            }
        }
    }
}
