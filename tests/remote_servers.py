"""Test servers on 127.0.0.1 for the remote reader: an HTTP Range server and moto's S3.

:class:`RangeServer` serves in-memory objects (a dict the test edits: grow,
shrink, delete) over HTTP/1.1 with single-range ``Range`` support, and can
ignore ``Range`` (answer 200 with the whole body) or add latency to each
request. :class:`S3Server` runs moto's ``ThreadedMotoServer`` on a free port.
Both bind 127.0.0.1 only and are started and stopped by the tests; nothing
here reaches another host.

:func:`dask_client` starts a two-process dask LocalCluster on 127.0.0.1.

The fixtures (``local_env``, ``http_server``, ``s3_server``; registered for
all tests by ``tests/conftest.py``) give each test module one server of each
kind, with :data:`LOCAL_ENV` set while the module runs. Modules whose tests
need the environment without a server mark themselves
``pytestmark = pytest.mark.usefixtures("local_env")``.
:func:`sample_records` and :func:`serve_per_test` make the sample objects.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

__all__ = [
    "LOCAL_ENV",
    "RangeServer",
    "S3Server",
    "dask_client",
    "http_server",
    "local_env",
    "s3_server",
    "sample_records",
    "serve_per_test",
]

# Environment for tests that talk to these servers: no proxy for loopback,
# dummy credentials, and no EC2 metadata lookups (169.254.169.254).
LOCAL_ENV = {
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real object stores
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's
    # algorithm holds the body until the client's delayed ACK (40 ms) comes.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, *, body: bool) -> None:
        owner = self.server.owner
        with owner.lock:
            owner.requests.append((self.command, self.path, self.headers.get("Range")))
            data = owner.objects.get(self.path.lstrip("/"))
        if owner.latency:
            time.sleep(owner.latency)
        if data is None:
            self._reply(404, b"not found", body=body)
            return
        header = self.headers.get("Range")
        match = _RANGE.match(header.strip()) if header else None
        if not body or match is None or owner.ignore_range:
            self._reply(200, data, body=body, extra={"Accept-Ranges": "bytes"})
            return
        first, last = match.groups()
        size = len(data)
        if first == "":  # suffix range: the last N bytes
            start, stop = max(0, size - int(last)), size
        else:
            start = int(first)
            stop = size if last == "" else min(size, int(last) + 1)
        if start >= size:
            self._reply(416, b"", body=body, extra={"Content-Range": f"bytes */{size}"})
            return
        self._reply(
            206,
            data[start:stop],
            body=body,
            extra={"Content-Range": f"bytes {start}-{stop - 1}/{size}", "Accept-Ranges": "bytes"},
        )

    def _reply(
        self, status: int, data: bytes, *, body: bool, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: RangeServer


class RangeServer:
    """An HTTP server on 127.0.0.1 serving ``objects`` (name -> bytes) with ``Range``.

    Parameters
    ----------
    ignore_range : bool
        Answer every GET with 200 and the whole object, as some servers do.
    latency : float
        Seconds to wait before answering each request (simulated network).
    """

    def __init__(self, *, ignore_range: bool = False, latency: float = 0.0) -> None:
        self.objects: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.ignore_range = ignore_range
        self.latency = latency
        self.lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, name: str) -> str:
        """The URL of object ``name``."""
        return f"http://127.0.0.1:{self.port}/{name}"

    def start(self) -> RangeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> RangeServer:  # noqa: PYI034 - not meant to be subclassed
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class S3Server:
    """moto's S3 on 127.0.0.1 (a free port), with s3fs options and a boto3 client for it."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""
        self._buckets: set[str] = set()

    def start(self) -> S3Server:
        self._server.start()
        host, port = self._server.get_host_and_port()
        assert host == "127.0.0.1", host
        self.endpoint = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def storage_options(self) -> dict[str, Any]:
        """s3fs options for this server (dummy credentials, its endpoint)."""
        return {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
        }

    def put(self, url: str, data: bytes) -> str:
        """Store ``data`` at ``s3://bucket/key`` (making the bucket if need be); return the URL."""
        bucket, _, key = url.removeprefix("s3://").partition("/")
        self.bucket(bucket)
        self.client().put_object(Bucket=bucket, Key=key, Body=data)
        return url

    def bucket(self, name: str) -> str:
        """Make bucket ``name`` unless it exists; return its URL, ``s3://name``."""
        if name not in self._buckets:
            self.client().create_bucket(Bucket=name)
            self._buckets.add(name)
        return f"s3://{name}"

    def client(self) -> Any:
        """A boto3 S3 client for this server (to put, replace and delete objects)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def __enter__(self) -> S3Server:  # noqa: PYI034 - not meant to be subclassed
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def dask_client() -> Iterator[Any]:
    """A ``distributed.Client`` of a LocalCluster: two worker processes of one thread on 127.0.0.1.

    The dashboards are off or on a free port (8787 may be taken by another
    cluster: a UserWarning, an error under ``filterwarnings = error``).
    Skips the test without ``distributed``.
    """
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster, timeout=30) as client,
    ):
        yield client


def sample_records(
    dtype: np.dtype[Any], n: int, seed: int = 0, *, ts_step: int = 1, ts_start: int = 0
) -> np.ndarray:
    """``n`` records of ``dtype`` with known and random values, the same for the same arguments.

    A field named ``ts`` (at any depth) counts ``ts_start, ts_start + ts_step, ...``;
    float fields are normal(100, 5), integer fields uniform in [0, 2) for one
    byte and [0, 1000) wider, from a generator seeded with ``seed``.
    """
    rng = np.random.default_rng(seed)
    recs = np.zeros(n, dtype)

    def fill(arr: np.ndarray) -> None:
        assert arr.dtype.names is not None
        for name in arr.dtype.names:
            col = arr[name]
            if col.dtype.names is not None:
                fill(col)
            elif name == "ts":
                col[...] = np.arange(n).reshape(col.shape) * ts_step + ts_start
            elif col.dtype.kind == "f":
                col[...] = rng.normal(100, 5, col.shape)
            else:
                col[...] = rng.integers(0, 2 if col.dtype.itemsize == 1 else 1000, col.shape)

    fill(recs)
    return recs


def serve_per_test(
    server: RangeServer, request: pytest.FixtureRequest, make: Callable[[int], np.ndarray]
) -> Iterator[tuple[str, np.ndarray]]:
    """For a fixture: an object named after the test, of records ``make(seed)``; (url, records).

    The seed is the length of the name, so each test sees its own values, the
    same on every run; the object is deleted after the test.
    """
    name = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name) + ".bin"
    recs = make(len(name))
    server.objects[name] = recs.tobytes()
    yield server.url(name), recs
    server.objects.pop(name, None)


@pytest.fixture(scope="module")
def local_env() -> Iterator[None]:
    """:data:`LOCAL_ENV` in ``os.environ`` while the module runs (restored after)."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in LOCAL_ENV.items():
            mp.setenv(key, value)
        yield


@pytest.fixture(scope="module")
def http_server(local_env: None) -> Iterator[RangeServer]:
    """A :class:`RangeServer` for the module; tests add and remove its objects."""
    with RangeServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def s3_server(local_env: None) -> Iterator[S3Server]:
    """moto's S3 for the module (skipped without s3fs and moto's server)."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    with S3Server() as srv:
        yield srv
