"""Credentials reach Dask workers as backend settings, never through the environment.

A private bucket on moto (anonymous requests get 403). The test process and its freshly started
LocalCluster (2 worker processes) have no ``AWS_*`` credential at all: only the backend made
by ``create_backend`` can sign, and it travels inside the tasks as its settings (the workers
build their own clients). moto's request recorder shows the workers' requests signed with the
backend's key; no task payload's ``repr`` nor any worker log shows the secret.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import rasteret
from support.aoi_oracle import BAND
from test_read_window import _grid_bounds
from test_s3_environment import KEY_ID, PRIVATE, REGION, SECRET, _build, buckets, clean_env  # noqa: F401

distributed = pytest.importorskip("distributed")


def _backend(endpoint: str, how: str):
    if how == "settings":
        return rasteret.create_backend(
            default_s3_config={
                "endpoint": endpoint,
                "allow_http": "true",
                "region": REGION,
                "access_key_id": KEY_ID,
                "secret_access_key": SECRET,
            }
        )
    # a credential provider: any picklable callable returning the credential dict
    provider = functools.partial(
        dict, access_key_id=KEY_ID, secret_access_key=SECRET, expires_at=None
    )
    return rasteret.create_backend(
        credential_provider=provider,
        default_s3_config={"endpoint": endpoint, "allow_http": "true", "region": REGION},
    )


@pytest.mark.parametrize("how", ["settings", "provider"])
def test_private_bucket_credentials_reach_the_workers(buckets, clean_env, how):  # noqa: F811
    backend = _backend(buckets.endpoint, how)
    entry = buckets.entries[0]
    coll = _build(buckets.entries[:1], [f"s3://{PRIVATE}/{entry.path.name}"], backend=backend)
    bounds, res = _grid_bounds(entry, 5, 9, 200, 180)
    kwargs = dict(record_ids=[entry.name], bounds=bounds, res=res, bands=[BAND], backend=backend)
    eager = coll.read_window(**kwargs)
    lazy = coll.read_window(**kwargs, chunks={"y": 64, "x": 64})
    payloads = repr(dict(lazy.__dask_graph__()))
    assert SECRET not in payloads and "AutoRoutingBackend" in payloads

    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # the scheduler's HTTP routes on a free port: 8787 may be another cluster's
            scheduler_kwargs={"dashboard_address": ":0"},
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert not any(
            client.run(lambda: __import__("os").environ.get("AWS_ACCESS_KEY_ID")).values()
        )
        buckets.start_recording()
        got = client.compute(lazy).result(timeout=120)
        sent = buckets.requests(PRIVATE)
        logs = repr(client.get_worker_logs())
    np.testing.assert_array_equal(got, eager)
    assert sent, "the workers made no request to the private bucket"
    for r in sent:
        auth = r["headers"].get("authorization", "")
        assert f"Credential={KEY_ID}/" in auth, auth
    assert SECRET not in logs
