"""`enforcement.settle`: heal, and after a heal read again until the servers hold still (a SeaweedFS filer back
from a crash replays older changes for a while after it answers)."""

from __future__ import annotations

from govcloud_platform.brokers.limits import Limit
from govcloud_platform.enforcement import settle

DRIFT = Limit("beta", "bucket ag-beta (the filer on h2)", "quota bytes", 1024, None)


class Clock:
    """Time that moves only when `settle` sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def run(reads: list[list[Limit]], **kw: float):
    queue = list(reads)
    clock = Clock()
    done = settle(lambda: queue.pop(0) if queue else [], sleep=clock.sleep, clock=clock, **kw)
    return done, clock.now, len(reads) - len(queue)


def test_a_clean_first_read_is_trusted_and_costs_no_wait() -> None:
    done, waited, reads = run([[]])
    assert (done.restored, done.steady, done.rounds, waited, reads) == ([], True, 1, 0.0, 1)


def test_a_heal_is_confirmed_by_two_clean_reads() -> None:
    done, waited, _ = run([[DRIFT], [], []])
    assert done.restored == [DRIFT] and done.steady and done.rounds == 3 and waited == 6.0


def test_a_late_replay_undoing_the_heal_is_healed_again() -> None:
    done, _, _ = run([[DRIFT], [], [DRIFT], [], []])
    assert done.restored == [DRIFT, DRIFT] and done.steady and done.rounds == 5


def test_a_filer_that_keeps_going_back_is_reported_not_waited_for_forever() -> None:
    done, waited, _ = run([[DRIFT]] * 100, every_s=3.0, max_s=10.0)
    assert not done.steady and done.rounds == 4 and waited <= 10.0
