"""The writer thread: items written in order in another thread; its first error reaches the handing thread,
which never blocks on a full queue after it."""

import threading

import pytest

from storage.writer_thread import WriterThread


def test_items_are_written_in_order_in_another_thread_and_finished_once():
    written, finished, threads = [], [], set()

    def write(item):
        threads.add(threading.current_thread().name)
        written.append(item)

    with WriterThread(write, lambda: finished.append(len(written)), maxsize=2, name="w-test") as writer:
        for i in range(100):
            writer.put(i)
    assert written == list(range(100)) and finished == [100] and threads == {"w-test"}


def test_the_writers_error_is_raised_in_the_handing_thread_and_the_queue_never_blocks_it():
    def write(item):
        if item == 3:
            raise OSError("disk full")

    finished = []
    handed = 0
    with pytest.raises(OSError, match="disk full"):
        with WriterThread(write, lambda: finished.append(True), maxsize=1) as writer:
            for i in range(1000):  # far more than the queue holds: a writer that stopped draining would hang this
                writer.put(i)
                handed += 1
    # With one item of queue, the writer has failed on item 3 before it takes item 5: the next put raises.
    assert handed < 10
    assert not finished  # nothing is finished after a failed write


def test_an_error_in_the_handing_thread_is_not_hidden_by_the_writer():
    with pytest.raises(KeyError):
        with WriterThread(lambda item: None) as writer:
            writer.put(1)
            raise KeyError("fetch failed")
