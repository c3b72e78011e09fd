"""What running jobs in the engine process costs: start to first progress, and per-job overhead in a batch.

    .venv/bin/python tools/engine_cost.py [--jobs 10]

Ten small classifications (a 36 x 42 scene) three ways: in this process
(no engine process at all), one engine process per job, and one engine
process kept for the whole batch (what the plugin does by default).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "core"))

from scenes import build_tiny_scene, tiny_parameters  # noqa: E402

from ncglf2.core.engine.client import EnginePool, EngineProcess  # noqa: E402
from ncglf2.core.requests import ClassifyRequest, TrainRequest  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        scene = build_tiny_scene(root)
        from ncglf2.core.jobs import classify, train

        model = str(root / "m.ncglf2")
        train(
            TrainRequest(
                hsi=scene.hsi, lidar=[scene.dsm], labels=scene.labels, out=model, params=tiny_parameters(epochs=2)
            )
        )

        def request(i: int, how: str) -> ClassifyRequest:
            return ClassifyRequest(
                model=model, hsi=scene.hsi, lidar=[scene.dsm], out=str(root / f"{how}{i}.tif"), overwrite=True
            )

        classify(request(-1, "warm"))  # kernels and caches warm for the in-process figure
        started = time.perf_counter()
        for i in range(args.jobs):
            classify(request(i, "inproc"))
        in_process = (time.perf_counter() - started) / args.jobs

        first_progress = []
        for _ in range(3):
            t0 = time.perf_counter()
            engine = EngineProcess(sys.executable)
            engine.start()
            seen: list[float] = []

            def on_event(event, seen=seen, t0=t0):
                if event.kind == "progress" and not seen:
                    seen.append(time.perf_counter() - t0)

            engine.run(request(0, "first"), on_event)
            engine.close()
            first_progress.append(seen[0])

        timings = {}
        for keep in (False, True):
            pool = EnginePool(keep=keep)
            started = time.perf_counter()
            for i in range(args.jobs):
                pool.run(sys.executable, request(i, f"keep{keep}"), lambda event: None)
            timings[keep] = (time.perf_counter() - started) / args.jobs
            pool.close()
    print(
        f"engine process start to first progress event (torch import included): "
        f"{min(first_progress):.2f} s best, {max(first_progress):.2f} s worst of 3"
    )
    print(f"per job, batch of {args.jobs} small classifications:")
    print(f"  in this process (no engine process):   {in_process:.2f} s")
    print(f"  a new engine process per job:          {timings[False]:.2f} s  (+{timings[False] - in_process:.2f} s)")
    print(f"  one engine process kept for the batch: {timings[True]:.2f} s  (+{timings[True] - in_process:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
