"""Out-of-memory on a GPU halves the batch and redoes the same slice."""

import numpy as np
import pytest
import torch

from ncglf2.core.pipeline.inference import BatchPlan
from ncglf2.core.progress import SilentProgress


def test_out_of_memory_halves_and_redoes():
    done = []
    limit = 24

    def step(batch: slice) -> None:
        if batch.stop - batch.start > limit:
            raise torch.OutOfMemoryError("CUDA out of memory (batch too large)")
        done.append(np.arange(batch.start, batch.stop))

    plan = BatchPlan(100, SilentProgress())
    plan.run(250, step)
    assert plan.size == 12  # 100 -> 50 -> 25 -> 12
    np.testing.assert_array_equal(np.concatenate(done), np.arange(250))
    plan.run(30, step)  # later tiles keep the smaller size
    assert plan.size == 12


def test_a_batch_of_one_that_fails_is_an_error():
    def step(batch: slice) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory")

    plan = BatchPlan(4, SilentProgress())
    with pytest.raises(torch.OutOfMemoryError):
        plan.run(10, step)
    assert plan.size == 1
