"""Classification tiles on Dask distributed: a LocalCluster, a running scheduler, or a given Client.

The same code runs on one machine and on many (SLURM or PBS through
dask-jobqueue, Kubernetes through the Dask operator): each task is one tile,
:func:`~.tile_job.classify_window` of the request and the window, and only
paths and numbers travel. The client keeps a fixed number of tasks in flight
(two per worker thread), so its memory stays flat however many tiles there
are, and hands the results to the run's one writer as they complete. A worker
that dies has its tiles run again elsewhere by the scheduler, and a failed task
is tried again; the map does not change. Before any tile, one small task per
worker opens the inputs and loads the model there: a worker that does not see
the same files under the same paths is named with the input it cannot read.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from types import ModuleType, TracebackType
from typing import Any

from ..errors import ClusterError, InputError
from ..io.stack import WindowSource
from ..progress import Progress, SilentProgress, Throughput, check_canceled
from ..requests import ClassifyRequest
from ..version import __version__
from .inference import TileResult
from .tile_job import check_inputs_here, classify_window
from .tiling import Tile

__all__ = ["ClusterTiles", "import_distributed", "wants_gpu", "DASK_INSTALL_HINT"]

DASK_INSTALL_HINT = 'pip install "dask[distributed]"'
#: Tries of a tile beyond the first when its task fails (a worker that dies does not count: its tiles move).
TILE_RETRIES = 2
#: Tasks in flight per worker thread: enough to keep every worker busy while a result travels back.
AHEAD_PER_THREAD = 2
#: Seconds to reach a scheduler, for workers to join it, and for each worker to check the inputs
#: (a fresh worker imports torch and loads the model in that time).
CONNECT_SECONDS = 20
WORKERS_SECONDS = 60.0
CHECK_SECONDS = 180.0
#: Seconds a run waits with no worker that can take its tiles (all died or left) before it gives up: long
#: enough for a nanny or a batch system to start replacements, short enough that a lost cluster is said.
LOST_WORKERS_SECONDS = 60.0
#: How often the client asks the scheduler for its workers while no tile finishes.
_WORKERS_POLL_SECONDS = 1.0
#: How often the client looks for finished tiles, and at the cancel button.
_POLL_SECONDS = 0.02


def import_distributed() -> ModuleType:
    """The ``distributed`` package, or one line saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise InputError(
            f"classifying on Dask needs Dask distributed, which this Python ({sys.executable}) does not have: "
            f"{DASK_INSTALL_HINT}"
        ) from None
    return distributed


def wants_gpu(device: str) -> bool:
    """Whether tiles must run on workers that offer the GPU resource (``--resources GPU=1``)."""
    return device.startswith("cuda")


def _absolute(path: str) -> str:
    """A relative path made absolute for workers that start elsewhere; GDAL's own paths (/vsi..., a
    subdataset) stay as they are."""
    return os.path.abspath(path) if os.path.exists(path) else path


class ClusterTiles:
    """The tiles of one request on Dask workers: a :data:`~.inference.TileResults`, and a context manager
    that closes the LocalCluster or the connection it made (never a ``client`` it was given).

    Nothing starts before the call: ``classify_raster`` has checked the outputs by then.
    """

    def __init__(
        self,
        request: ClassifyRequest,
        stack: WindowSource,
        client: Any = None,
        progress: Progress | None = None,
    ) -> None:
        import_distributed()  # the missing package is said before anything else is checked
        self.address = request.dask
        self.client = client
        self.progress = progress or SilentProgress()
        self.request = dataclasses.replace(
            request,
            model=_absolute(request.model),
            hsi=_absolute(request.hsi),
            lidar=tuple(_absolute(p) for p in request.lidar),
        )
        self.rasters = [stack.grid.width, stack.grid.height, stack.hsi_bands, stack.lidar_bands]
        self.run = uuid.uuid4().hex[:12]
        self.resources = {"GPU": 1} if wants_gpu(request.device) else None
        self._made: list[Any] = []  # the client and cluster this object started, closed last first

    def __enter__(self) -> ClusterTiles:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        while self._made:
            self._made.pop().close()

    def __call__(self, tiles: list[Tile]) -> Iterator[tuple[Tile, TileResult]]:
        client = self._connect()
        threads = self._check_workers(client)
        ahead = max(2, AHEAD_PER_THREAD * threads)
        self.progress.info(
            f"classifying {len(tiles)} tiles on Dask workers with {threads} thread(s) in all "
            f"({client.scheduler.address}), {ahead} tiles in flight"
        )
        return self._results(client, tiles, ahead)

    def _connect(self) -> Any:
        """The client to submit to: the one given, a new LocalCluster's, or a connection to the scheduler."""
        if self.client is not None:
            return self.client
        distributed = import_distributed()
        address = self.address or "local:1"
        if address.startswith("local:"):
            workers = int(address[6:])
            self.progress.info(f"starting a Dask cluster of {workers} worker process(es) on this machine")
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                resources=self.resources,
                silence_logs=logging.ERROR,
            )
            self._made.append(cluster)
            self.client = distributed.Client(cluster)
        else:
            try:
                self.client = distributed.Client(address, timeout=CONNECT_SECONDS)
            except (OSError, TimeoutError) as error:
                raise InputError(f"cannot reach the Dask scheduler at {address}: {error}") from None
        self._made.append(self.client)
        return self.client

    def _eligible(self, client: Any) -> dict[str, int]:
        """Threads of each worker that may take tiles (with the GPU resource when the device asks for CUDA)."""
        workers = client.scheduler_info(n_workers=-1)["workers"]
        threads = {}
        for address, facts in workers.items():
            count = int(facts.get("nthreads", 1))
            if self.resources is not None:
                count = min(count, int(facts.get("resources", {}).get("GPU", 0)))
            if count > 0:
                threads[address] = count
        return threads

    def _check_workers(self, client: Any) -> int:
        """One task per worker: it must read every input and load the model; the threads that will work."""
        distributed = import_distributed()
        try:
            client.wait_for_workers(1, timeout=WORKERS_SECONDS)
        except TimeoutError:
            raise InputError(
                f"no Dask worker joined the scheduler at {client.scheduler.address} within {WORKERS_SECONDS:.0f} s"
            ) from None
        threads = self._eligible(client)
        if not threads:
            raise InputError(
                f"no Dask worker of the scheduler at {client.scheduler.address} offers the GPU resource that "
                f"device {self.request.device} needs: start them with dask worker ... --resources GPU=1 "
                "(one worker per GPU), or use device auto"
            )
        checks = {
            worker: client.submit(
                check_inputs_here,
                self.request,
                key=f"ncglf2-check-{self.run}-{index}",
                workers=[worker],
                allow_other_workers=False,
                pure=False,
            )
            for index, worker in enumerate(sorted(threads))
        }
        try:
            for _ in distributed.as_completed(list(checks.values()), loop=client.loop, timeout=CHECK_SECONDS):
                pass
        except TimeoutError:
            pass  # the workers that did not answer are named below
        problems = []
        for worker, future in checks.items():
            problems += [f"Dask worker {worker}: {p}" for p in self._worker_problems(future)]
        client.cancel(list(checks.values()))
        if problems:
            shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
            raise InputError(f"{shown} (the workers must read the same files under the same paths)")
        return sum(threads.values())

    def _worker_problems(self, future: Any) -> list[str]:
        """What one worker's check found wrong, each naming the input."""
        if not future.done():
            return [f"did not check the inputs within {CHECK_SECONDS:.0f} s"]
        if future.status == "error":
            error = future.exception()
            return [f"cannot run ncglf2's tasks ({type(error).__name__}: {error}); install ncglf2 {__version__} there"]
        facts = future.result()
        problems = list(facts["problems"])
        if facts["version"] != __version__:
            problems.append(f"runs ncglf2 {facts['version']}, this process {__version__}")
        if "rasters" in facts and facts["rasters"] != self.rasters:
            width, height, hsi, lidar = facts["rasters"]
            problems.append(
                f"sees other rasters at {self.request.hsi}: {width} x {height} pixels, {hsi} HSI band(s) and "
                f"{lidar} LiDAR band(s) instead of {self.rasters[0]} x {self.rasters[1]}, {self.rasters[2]} and "
                f"{self.rasters[3]}"
            )
        here = os.path.getsize(self.request.model)
        if "model_bytes" in facts and facts["model_bytes"] != here:
            problems.append(
                f"sees another model file at {self.request.model}: {facts['model_bytes']:,} bytes instead of {here:,}"
            )
        return problems

    def _results(self, client: Any, tiles: list[Tile], ahead: int) -> Iterator[tuple[Tile, TileResult]]:
        """Each tile's result as it completes, with at most ``ahead`` tasks in flight; the unfinished tasks are
        cancelled when the run stops early (cancel, Ctrl-C, an error)."""
        distributed = import_distributed()
        waiting = iter(enumerate(tiles))
        in_flight: dict[Any, Tile] = {}
        completed = distributed.as_completed(loop=client.loop)
        meter = Throughput(self.progress, len(tiles), "tiles")

        def submit_next() -> None:
            for index, tile in waiting:
                future = client.submit(
                    classify_window,
                    self.request,
                    tile,
                    key=f"ncglf2-tile-{self.run}-{index}",
                    retries=TILE_RETRIES,
                    resources=self.resources,
                    pure=False,
                )
                in_flight[future] = tile
                completed.add(future)
                return

        watch = _WorkerWatch(lambda: bool(self._eligible(client)), client.scheduler.address, len(tiles))
        try:
            for _ in range(ahead):
                submit_next()
            done = 0
            while in_flight:
                check_canceled(self.progress)
                batch = completed.next_batch(block=False)
                if not batch:
                    watch.check(done)
                    time.sleep(_POLL_SECONDS)
                for future in batch:
                    tile = in_flight.pop(future)
                    result = future.result()  # a tile that failed on every try raises its error here
                    submit_next()
                    done += 1
                    yield tile, result
                    meter.update(done)
        finally:
            if in_flight:
                client.cancel(list(in_flight))
                in_flight.clear()


class _WorkerWatch:
    """Says when the cluster has had no worker for the tiles for :data:`LOST_WORKERS_SECONDS`: the scheduler
    would keep the tasks waiting for one forever."""

    def __init__(self, has_workers: Callable[[], bool], address: str, total: int) -> None:
        self.has_workers, self.address, self.total = has_workers, address, total
        self.asked = self.seen = time.monotonic()

    def check(self, done: int) -> None:
        now = time.monotonic()
        if now - self.asked < _WORKERS_POLL_SECONDS:
            return
        self.asked = now
        if self.has_workers():
            self.seen = now
        elif now - self.seen >= LOST_WORKERS_SECONDS:
            raise ClusterError(
                f"the Dask scheduler at {self.address} has had no worker for the tiles for "
                f"{LOST_WORKERS_SECONDS:.0f} s ({done} of {self.total} tiles done): the workers died or left; "
                "nothing was written: start workers again and run the classification again"
            )
