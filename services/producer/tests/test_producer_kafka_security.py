"""A Kafka security setting that cannot work stops the producer at start with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_a_service_refuses_a_missing_password_file_in_one_line(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "dtmon-producer"),
            "--kafka-security-protocol",
            "SASL_PLAINTEXT",
            "--kafka-username",
            "u",
            "--kafka-password-file",
            str(tmp_path / "nope"),
            "--max-records",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert f"--kafka-password-file {tmp_path}/nope" in lines[0]
