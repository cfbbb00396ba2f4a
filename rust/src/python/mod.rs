//! PyO3 bindings: the only place that uses pyo3.
