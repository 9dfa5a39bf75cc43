"""The kept-prefix store behind value-head scoring: the longest kept start wins, and it never holds more than its budget."""

from reason.prm.hf_prefix import Kept, PrefixCache


def _kept(*ids):
    return Kept(tuple(ids), (), None)


def test_the_longest_kept_start_of_a_sequence_is_found():
    cache = PrefixCache(tokens=100)
    for ids in [(1, 2), (1, 2, 3), (1, 2, 3, 4, 5), (9,)]:
        cache.add(_kept(*ids))
    assert cache.longest([1, 2, 3, 4]).ids == (1, 2, 3)
    assert cache.longest([1, 2, 3, 4, 5]).ids == (1, 2, 3, 4, 5)
    assert cache.longest([2, 1]) is None


def test_the_least_recently_used_leave_first_and_the_budget_holds():
    cache = PrefixCache(tokens=6)
    cache.add(_kept(1, 2))
    cache.add(_kept(3, 4))
    cache.longest([1, 2, 7])  # (1, 2) is used again: (3, 4) is now the oldest
    cache.add(_kept(5, 6, 7))
    assert cache.longest([3, 4]) is None
    assert cache.longest([1, 2]).ids == (1, 2)
    cache.add(_kept(*range(10, 17)))  # longer than the whole budget: not kept, nothing evicted for it
    assert cache.longest(list(range(10, 17))) is None
    assert cache.longest([5, 6, 7]).ids == (5, 6, 7)
