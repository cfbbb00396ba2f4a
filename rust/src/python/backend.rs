//! `backend=` objects seen from Rust.
//!
//! - [`CloudBackend`] (`_core.CloudBackend`): the auto-routing backend's settings, built once by
//!   `rasteret.create_backend`; its credential provider runs through [`PyCredentialSource`].
//! - [`PyCredentialSource`]: calls `rasteret._bridge.fetch_credentials(provider)` on a blocking
//!   thread with the GIL, only when [`CredentialCache`] has no fresh credential.
//! - [`PyRangeReader`]: any Python object with an async `get_range(url, start, length)`; each
//!   range is one call of `rasteret._bridge.get_range` on a blocking thread (which runs the
//!   coroutine on the bridge's private event-loop thread and waits for it with the GIL released).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use pyo3::exceptions::{
    PyFileNotFoundError, PyOSError, PyPermissionError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::error::{Error, Kind, Result};
use crate::io::cloud::{CloudSettings, RangeReader};
use crate::io::creds::{BoxFut, Credential, CredentialCache, CredentialSource};
use crate::io::retry::AttemptError;
use crate::io::route::scrub;
use crate::python::errors::to_pyerr;

/// `ExcClass: message` of a Python error, URLs redacted.
fn describe(py: Python<'_>, e: &PyErr) -> String {
    let class = e
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".to_string());
    format!("{class}: {}", scrub(&e.value(py).to_string()))
}

/// A Python credential provider (obstore's providers or any callable returning a dict).
struct PyCredentialSource {
    provider: Arc<Py<PyAny>>,
}

impl CredentialSource for PyCredentialSource {
    fn fetch(&self) -> BoxFut<Result<Credential>> {
        let provider = self.provider.clone();
        Box::pin(async move {
            let job = tokio::task::spawn_blocking(move || {
                Python::attach(|py| -> Result<Credential> {
                    let call = || -> PyResult<(BTreeMap<String, String>, Option<f64>)> {
                        py.import("rasteret._bridge")?
                            .call_method1("fetch_credentials", (provider.bind(py),))?
                            .extract()
                    };
                    let (values, expires) = call().map_err(|e| {
                        let kind = if e.is_instance_of::<PyPermissionError>(py) {
                            Kind::Forbidden
                        } else if e.is_instance_of::<PyValueError>(py)
                            || e.is_instance_of::<PyTypeError>(py)
                        {
                            Kind::InvalidArgument
                        } else {
                            Kind::Transport
                        };
                        Error::new(kind, describe(py, &e))
                    })?;
                    let expires_at = expires
                        .filter(|s| s.is_finite() && *s > 0.0)
                        .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(s));
                    Ok(Credential { values, expires_at })
                })
            });
            job.await
                .map_err(|e| Error::internal(format!("credential provider task failed: {e}")))?
        })
    }
}

/// Settings of the auto-routing backend (built by `rasteret.create_backend`).
#[pyclass(name = "CloudBackend", module = "rasteret._core", frozen)]
pub(crate) struct CloudBackend {
    pub(crate) settings: Arc<CloudSettings>,
}

fn string_map(d: Option<&Bound<'_, PyDict>>, what: &str) -> PyResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let Some(d) = d else { return Ok(out) };
    for (k, v) in d.iter() {
        let key: String = k.extract()?;
        let value: String = if let Ok(b) = v.extract::<bool>() {
            b.to_string()
        } else {
            v.str()?.to_string()
        };
        if key.is_empty() {
            return Err(PyValueError::new_err(format!("{what}: empty key")));
        }
        out.insert(key, value);
    }
    Ok(out)
}

#[pymethods]
impl CloudBackend {
    #[new]
    #[pyo3(signature = (*, url_patterns = None, default_s3_config = None, s3_overrides = None,
        credential_provider = None, credential_scope = None))]
    fn new(
        url_patterns: Option<&Bound<'_, PyDict>>,
        default_s3_config: Option<&Bound<'_, PyDict>>,
        s3_overrides: Option<&Bound<'_, PyDict>>,
        credential_provider: Option<Py<PyAny>>,
        credential_scope: Option<String>,
    ) -> PyResult<Self> {
        let patterns = match url_patterns {
            Some(d) => d
                .iter()
                .map(|(k, v)| Ok((k.extract::<String>()?, v.extract::<String>()?)))
                .collect::<PyResult<Vec<_>>>()?,
            None => Vec::new(),
        };
        let mut overrides = BTreeMap::new();
        if let Some(d) = s3_overrides {
            for (bucket, cfg) in d.iter() {
                let bucket: String = bucket.extract()?;
                let cfg = cfg.cast_into::<PyDict>().map_err(|_| {
                    PyTypeError::new_err(format!("s3_overrides[{bucket:?}] must be a dict"))
                })?;
                overrides.insert(bucket.clone(), string_map(Some(&cfg), "s3_overrides")?);
            }
        }
        let credentials = match credential_provider {
            Some(p) => {
                let callable = Python::attach(|py| p.bind(py).is_callable());
                if !callable {
                    return Err(PyTypeError::new_err(
                        "credential_provider must be callable (an obstore credential provider or \
                         a function returning a credential dict)",
                    ));
                }
                Some(Arc::new(CredentialCache::new(Arc::new(
                    PyCredentialSource {
                        provider: Arc::new(p),
                    },
                ))))
            }
            None => None,
        };
        let settings = CloudSettings {
            url_patterns: patterns,
            default_s3: string_map(default_s3_config, "default_s3_config")?,
            s3_overrides: overrides,
            credentials,
            credential_scope: credential_scope
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(to_pyerr)?,
        };
        settings.validate().map_err(to_pyerr)?;
        Ok(Self {
            settings: Arc::new(settings),
        })
    }

    /// How many times the credential provider has been called (0 without one).
    fn credential_fetches(&self) -> u64 {
        self.settings
            .credentials
            .as_ref()
            .map_or(0, |c| c.fetch_count())
    }

    /// The S3 configuration used for `bucket`, with what the environment adds (endpoint,
    /// region, plain HTTP, `aws_skip_signature` when requests are anonymous): object_store
    /// keys, secret values masked.
    fn s3_config(&self, bucket: &str) -> BTreeMap<String, String> {
        crate::io::s3_plan::S3Plan::resolve(
            bucket,
            None,
            Some(&self.settings),
            &[],
            &crate::io::s3_plan::process_env,
        )
        .shown()
    }

    fn __repr__(&self) -> String {
        format!("{:?}", self.settings)
    }
}

/// A Python `StorageBackend` (async `get_range`).
pub(crate) struct PyRangeReader {
    backend: Arc<Py<PyAny>>,
    name: String,
}

impl fmt::Debug for PyRangeReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PyRangeReader({})", self.name)
    }
}

impl PyRangeReader {
    pub(crate) fn new(backend: &Bound<'_, PyAny>) -> PyResult<Self> {
        let get_range = backend.getattr("get_range").map_err(|_| {
            PyTypeError::new_err(format!(
                "backend must be a StorageBackend with an async get_range(url, start, length) \
                 (got {})",
                backend
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        if !get_range.is_callable() {
            return Err(PyTypeError::new_err("backend.get_range must be callable"));
        }
        let name = backend
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "backend".to_string());
        Ok(Self {
            backend: Arc::new(backend.clone().unbind()),
            name,
        })
    }
}

impl RangeReader for PyRangeReader {
    fn get_range(&self, url: &str, range: Range<u64>) -> BoxFut<Result<Bytes, AttemptError>> {
        let backend = self.backend.clone();
        let url = url.to_string();
        let name = self.name.clone();
        Box::pin(async move {
            let job = tokio::task::spawn_blocking(move || {
                Python::attach(|py| -> Result<Bytes, AttemptError> {
                    let length = range.end - range.start;
                    let call = || -> PyResult<Bytes> {
                        let out = py.import("rasteret._bridge")?.call_method1(
                            "get_range",
                            (backend.bind(py), url.as_str(), range.start, length),
                        )?;
                        let bytes = out
                            .cast_into::<PyBytes>()
                            .map_err(|_| PyTypeError::new_err("the bridge did not return bytes"))?;
                        Ok(Bytes::copy_from_slice(bytes.as_bytes()))
                    };
                    call().map_err(|e| {
                        let detail = format!("{name}.get_range raised {}", describe(py, &e));
                        if e.is_instance_of::<PyFileNotFoundError>(py) {
                            AttemptError::fatal(Kind::NotFound, detail)
                        } else if e.is_instance_of::<PyPermissionError>(py) {
                            AttemptError::fatal(Kind::Forbidden, detail)
                        } else if e.is_instance_of::<PyValueError>(py)
                            || e.is_instance_of::<PyTypeError>(py)
                        {
                            AttemptError::fatal(Kind::InvalidArgument, detail)
                        } else if e.is_instance_of::<PyOSError>(py) {
                            AttemptError::retry(detail)
                        } else {
                            AttemptError::fatal(Kind::Transport, detail)
                        }
                    })
                })
            });
            job.await.map_err(|e| {
                AttemptError::fatal(Kind::Internal, format!("backend task failed: {e}"))
            })?
        })
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}
