//! A blocking CRI client: k8s-cri's generated tonic clients over a unix
//! socket, on a tokio runtime of its own.

use std::collections::HashMap;
use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use serde_json::Value;
use tonic::transport::{Channel, Endpoint, Uri};

/// Deadline of one CRI call.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// A blocking CRI client: k8s-cri's tonic clients on a runtime of its own.
pub struct Cri {
    rt: tokio::runtime::Runtime,
    channel: Channel,
    log: PathBuf,
}

impl Cri {
    pub fn connect(socket: &Path, log: PathBuf) -> Cri {
        Cri::try_connect(socket, log).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Cri::connect`] that gives its error back (for use in `Drop`).
    pub fn try_connect(socket: &Path, log: PathBuf) -> Result<Cri, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let path = socket.to_path_buf();
        let channel = rt
            .block_on(async move {
                Endpoint::try_from("http://[::]")
                    .expect("endpoint")
                    .connect_with_connector(tower::service_fn(move |_: Uri| {
                        let path = path.clone();
                        async move {
                            Ok::<_, std::io::Error>(TokioIo::new(
                                tokio::net::UnixStream::connect(path).await?,
                            ))
                        }
                    }))
                    .await
            })
            .map_err(|e| format!("connect to CRI on {}: {e}", socket.display()))?;
        Ok(Cri { rt, channel, log })
    }

    pub fn rs(&self) -> RuntimeServiceClient<Channel> {
        RuntimeServiceClient::new(self.channel.clone())
    }

    pub fn is(&self) -> ImageServiceClient<Channel> {
        ImageServiceClient::new(self.channel.clone())
    }

    /// Runs one call; its error (or its running past [`CALL_TIMEOUT`]).
    pub fn try_call<T>(
        &self,
        fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, String> {
        // The timer must be made inside the runtime.
        match self
            .rt
            .block_on(async { tokio::time::timeout(CALL_TIMEOUT, fut).await })
        {
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(status)) => Err(format!("{:?}: {}", status.code(), status.message())),
            Err(_) => Err(format!("no answer within {CALL_TIMEOUT:?}")),
        }
    }

    /// Runs one call; panics with the error and containerd's log.
    #[track_caller]
    pub fn call<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> T {
        self.try_call(fut).unwrap_or_else(|e| {
            panic!(
                "CRI {what} failed: {e}\ncontainerd log (tail):\n{}",
                self.log_tail()
            )
        })
    }

    pub fn log_tail(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Polls `done` until it holds (60 s at most).
    #[track_caller]
    pub fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            if Instant::now() > deadline {
                panic!("never: {what}\ncontainerd log (tail):\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn container_status(&self, id: &str) -> (ContainerStatus, Value) {
        let r = self.call(
            "ContainerStatus",
            self.rs().container_status(ContainerStatusRequest {
                container_id: id.to_string(),
                verbose: true,
            }),
        );
        (r.status.expect("container status"), info(&r.info))
    }

    /// Waits for container `id` to have exited; its status.
    #[track_caller]
    pub fn wait_exited(&self, id: &str) -> ContainerStatus {
        let mut last = None;
        self.wait_for(&format!("container {id} exited"), || {
            let (s, _) = self.container_status(id);
            let exited = s.state == ContainerState::ContainerExited as i32;
            last = Some(s);
            exited
        });
        last.expect("status")
    }

    pub fn exec_sync(&self, id: &str, cmd: &[&str]) -> ExecSyncResponse {
        self.call(
            "ExecSync",
            self.rs().exec_sync(ExecSyncRequest {
                container_id: id.to_string(),
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                timeout: 60,
            }),
        )
    }
}

/// The verbose `info` map's `"info"` JSON (pid, runtimeSpec, ...).
pub fn info(map: &HashMap<String, String>) -> Value {
    map.get("info")
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null)
}
