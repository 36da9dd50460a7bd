"""Bad input: one clear line on stderr naming the thing, exit code 2, nothing sent.

Every case runs the real CLI in a subprocess against a Kafka address where nothing listens:
input is validated before any connection is attempted, so it fails fast either way.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from services.producer.tests.producer_helpers import SAMPLE, run_producer

NOWHERE = "127.0.0.1:1"


def _fails_with_one_line(*args: str, expect: str, **env: str) -> str:
    proc = run_producer(*args, "--bootstrap-servers", NOWHERE, timeout=60, **env)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("dtmon-producer: error: ")
    assert expect in lines[0], lines[0]
    return lines[0]


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_data.txt"
    line = _fails_with_one_line("--source", str(missing), expect=str(missing))
    assert "not found" in line


def test_empty_glob(tmp_path: Path) -> None:
    pattern = str(tmp_path / "data_*.txt")
    line = _fails_with_one_line("--source", pattern, expect=pattern)
    assert "no file matches" in line


def test_empty_directory(tmp_path: Path) -> None:
    _fails_with_one_line("--source", str(tmp_path), expect=str(tmp_path))


def test_binary_size_not_a_multiple_of_8(tmp_path: Path) -> None:
    bad = tmp_path / "data_000000.dat"
    bad.write_bytes(b"\x00" * 8 * 10 + b"\x01\x02\x03")
    line = _fails_with_one_line("--source", str(bad), "--format", "binary", expect=str(bad))
    assert "83 bytes" in line and "multiple of 8" in line


def test_corrupt_gz_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "data_000000.txt.gz"
    bad.write_bytes(gzip.compress(SAMPLE.read_bytes())[:-40] + b"garbage")
    # The file is readable until the damage: the error comes mid-stream, still one line.
    line = _fails_with_one_line(
        "--source", str(bad), "--output", str(tmp_path / "out.txt"), "--rate", "0",
        expect=str(bad), DTMON_LOG_LEVEL="ERROR",
    )  # fmt: skip
    assert "cannot read" in line


@pytest.mark.parametrize("flag", ["--rate", "--records-per-message"])
def test_bad_numbers_are_rejected_naming_the_option(flag: str) -> None:
    proc = run_producer("--source", str(SAMPLE), flag, "-5", "--bootstrap-servers", NOWHERE)
    assert proc.returncode == 2
    assert flag in proc.stderr.strip().splitlines()[-1]


def test_bad_environment_value_names_the_variable() -> None:
    proc = run_producer("--source", str(SAMPLE), DTMON_RATE="fast")
    assert proc.returncode == 2
    assert "DTMON_RATE='fast'" in proc.stderr.strip().splitlines()[-1]
