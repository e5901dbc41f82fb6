"""The sync's heap is frozen for the garbage collector only while a run lasts."""

import gc

from flows import steps


def test_the_heap_is_frozen_within_the_block_and_handed_back_after_it_even_on_error():
    assert gc.get_freeze_count() == 0
    try:
        with steps.heap_frozen():
            assert gc.get_freeze_count() > 0
            raise ValueError("the run failed")
    except ValueError:
        pass
    assert gc.get_freeze_count() == 0
