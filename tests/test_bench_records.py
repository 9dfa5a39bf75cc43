"""The record log: fsynced appends, torn-tail repair on reopen, no duplicates, one writer at a time."""

import pytest

from reason.bench.errors import RunDirError
from reason.bench.records import (
    RECORDS_FILE,
    CacheCounts,
    ProblemRecord,
    RecordLog,
    read_records,
)
from reason.types import Compute, Verdict


def record(i: int) -> ProblemRecord:
    return ProblemRecord(
        id=f"p{i}", question=f"q{i}", reference=str(i), predicted=str(i), correct=True,
        verdict=Verdict(status="pass"), strategy="cot", vote=None, candidates=(), samples=(),
        compute=Compute(generated_tokens=10 + i), cache=CacheCounts(generated=1), wall_time_s=0.1,
    )


def write(run_dir, count):
    with RecordLog(run_dir) as log:
        for i in range(count):
            log.append(record(i))


def test_records_survive_a_reopen_and_come_back_by_id(tmp_path):
    write(tmp_path, 3)
    with RecordLog(tmp_path) as log:
        assert sorted(log.finished) == ["p0", "p1", "p2"]
        assert log.finished["p2"] == record(2)
    assert [r.id for r in read_records(tmp_path)] == ["p0", "p1", "p2"]


@pytest.mark.parametrize("cut", [1, 17, -2])
def test_a_line_torn_mid_write_is_cut_off_on_reopen(tmp_path, cut):
    write(tmp_path, 3)
    path = tmp_path / RECORDS_FILE
    raw = path.read_bytes()
    last_start = raw.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(raw[: last_start + cut] if cut > 0 else raw[: len(raw) + cut])  # simulate a kill mid-write
    assert [r.id for r in read_records(tmp_path)] == ["p0", "p1"]  # readers skip the torn tail
    with RecordLog(tmp_path) as log:
        assert sorted(log.finished) == ["p0", "p1"]
        log.append(record(2))  # the resumed run writes it again, on a clean line
    assert path.read_bytes() == raw


def test_a_complete_record_that_only_lost_its_newline_is_kept(tmp_path):
    write(tmp_path, 2)
    path = tmp_path / RECORDS_FILE
    raw = path.read_bytes()
    path.write_bytes(raw[:-1])
    with RecordLog(tmp_path) as log:
        assert sorted(log.finished) == ["p0", "p1"]
        log.append(record(2))
    assert [r.id for r in read_records(tmp_path)] == ["p0", "p1", "p2"]


def test_corruption_before_the_last_line_is_an_error_not_a_silent_cut(tmp_path):
    write(tmp_path, 3)
    path = tmp_path / RECORDS_FILE
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1][:20]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(RunDirError, match=r"records.jsonl:2: corrupt record"):
        RecordLog(tmp_path).open()


def test_a_duplicate_is_never_written_and_never_accepted(tmp_path):
    with RecordLog(tmp_path) as log:
        log.append(record(0))
        with pytest.raises(RunDirError, match="already has a record"):
            log.append(record(0))
    path = tmp_path / RECORDS_FILE
    path.write_bytes(path.read_bytes() * 2)
    with pytest.raises(RunDirError, match=r":2: duplicate record for problem 'p0'"):
        read_records(tmp_path)


def test_two_writers_on_one_run_directory_are_refused(tmp_path):
    with RecordLog(tmp_path):
        with pytest.raises(RunDirError, match="in use by another run"):
            RecordLog(tmp_path).open()
    with RecordLog(tmp_path):  # released on close
        pass
