"""The `dtmon-processor` command line: flags <-> DTMON_* env, bad values fail with one line,
missing connector jars are reported with the fix, and the batch subcommand on the shared real
sample (in a separate process with TWO executor JVMs: local-cluster, so nothing depends on
single-process state) gives the reference numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dtmon_processor.cli import build_parser, parse_args
from minidt.codecs import parse_csv
from minidt.reference import compute_quantities
from services.processor.tests.processor_helpers import SAMPLE

BIN = Path(sys.executable).parent / "dtmon-processor"


def test_run_is_the_default_and_flags_have_env_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTMON_TRIGGER_SECONDS", "2.5")
    monkeypatch.setenv("DTMON_MAX_OFFSETS_PER_TRIGGER", "5000")
    monkeypatch.setenv("DTMON_SPARK_PROMETHEUS", "true")
    args = parse_args(["--starting-offsets", "earliest"])
    assert args.command == "run"
    assert (args.trigger_seconds, args.max_offsets_per_trigger) == (2.5, 5000)
    assert args.spark_prometheus is True
    assert args.starting_offsets == "earliest"
    assert args.metrics_port == 9102 and args.master == "local[*]"
    helptext = build_parser()._subparsers._group_actions[0].choices["run"].format_help()  # type: ignore[union-attr]
    for var in ("DTMON_CHECKPOINT_LOCATION", "DTMON_METRICS_PORT", "DTMON_BOOTSTRAP_SERVERS"):
        assert f"[env: {var}]" in helptext


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "--trigger-seconds", "0.1"], "between 0.5 and 5, got 0.1"),
        (["run", "--max-offsets-per-trigger", "0"], "must be >= 1, got 0"),
        (["run", "--starting-offsets", "middle"], "invalid choice"),
    ],
)
def test_bad_flags_fail_with_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err


def test_missing_jars_say_how_to_fix(tmp_path: Path) -> None:
    env = {**os.environ, "DTMON_SPARK_JARS_DIR": str(tmp_path / "nothing")}
    proc = subprocess.run([str(BIN), "run"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "run `make spark-jars`" in proc.stderr
    assert str(tmp_path / "nothing") in proc.stderr


@pytest.mark.parametrize(
    ("extra_env", "needle"),
    [
        ({}, "results are signed: pass --signing-key-file"),
        ({"DTMON_SIGNING_KEYS": "k1:too-short"}, "shorter than 32 characters"),
    ],
)
def test_run_refuses_to_start_without_a_signing_key(extra_env: dict, needle: str) -> None:
    """Unsigned results would all be refused by the API: fail at once, before Spark starts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTMON_SIGNING")}
    proc = subprocess.run(
        [str(BIN), "run", "--bootstrap-servers", "127.0.0.1:1"],
        env={**env, **extra_env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert needle in proc.stderr


def test_batch_missing_file_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(BIN), "batch", str(tmp_path / "nope.txt")], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"dtmon-processor: error: input file not found: {tmp_path / 'nope.txt'}"
    )


def test_batch_on_two_executor_jvms(tmp_path: Path) -> None:
    """`dtmon-processor batch` on the real sample with local-cluster[2,1,1024]: two executor
    JVMs, so the per-orbit shuffle really crosses processes. The pip pyspark works as
    SPARK_HOME; a private SPARK_HOME of symlinks keeps the workers' scratch dirs in tmp."""
    import pyspark

    pyspark_dir = Path(pyspark.__file__).resolve().parent
    home = tmp_path / "spark-home"
    home.mkdir()
    for name in ("bin", "jars", "python", "conf", "sbin"):
        if (pyspark_dir / name).exists():
            (home / name).symlink_to(pyspark_dir / name)
    out = tmp_path / "out.jsonl"
    proc = subprocess.run(
        [
            str(BIN),
            "batch",
            str(SAMPLE),
            "--master",
            "local-cluster[2,1,1024]",
            "--no-ui",
            "--output",
            str(out),
        ],
        env={**os.environ, "SPARK_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (message,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert message["hits"] == 248
    assert message["hits_per_chamber"] == [35, 89, 43, 80]
    reference = compute_quantities(parse_csv(SAMPLE.read_bytes()).hits)
    assert {k: message[k] for k in reference} == reference
    apps = list((home / "work").glob("app-*/*/stderr"))
    assert len({p.parent.name for p in apps}) >= 2, "two executors ran"
