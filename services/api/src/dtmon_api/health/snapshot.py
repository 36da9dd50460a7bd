"""`dtmon-reference`: save the running API's cumulative view as a reference run.

Run it when the detector is known to be good (after a long clean run); then start dtmon-api
with ``--reference`` pointing at what it wrote. The API stays read-only: this command reads
/api/v1/health/snapshot and does the writing, to a file or to s3://bucket/key.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

from dtmon_api.health.models import ReferenceRun
from dtmon_api.health.options import REFERENCE_S3_ENDPOINT
from dtmon_api.health.reference import ReferenceError, write_reference
from dtmon_common.cli import EnvArgumentParser, command_parser
from dtmon_common.options import Command, Group, Option

REFERENCE = Command(
    "dtmon-reference",
    (
        Group(
            "reference",
            (
                Option(
                    "--api-url",
                    "base URL of the running dtmon-api",
                    default="http://127.0.0.1:8000",
                ),
                Option(
                    "--output",
                    "where to write: a file path or s3://bucket/key",
                    required=True,
                ),
                REFERENCE_S3_ENDPOINT,
            ),
        ),
    ),
)


def build_parser(env: dict[str, str] | None = None) -> EnvArgumentParser:
    return command_parser(
        REFERENCE,
        env=env,
        description="Save the cumulative view of a running dtmon-api as a reference run.",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    url = args.api_url.rstrip("/") + "/api/v1/health/snapshot"
    try:
        with urllib.request.urlopen(url, timeout=30.0) as response:
            body = response.read()
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")
        print(f"dtmon-reference: {url}: HTTP {err.code} {detail}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as err:
        print(f"dtmon-reference: cannot reach {url}: {err}", file=sys.stderr)
        return 1
    reference = ReferenceRun.model_validate_json(body)
    try:
        write_reference(reference, args.output, args.reference_s3_endpoint)
    except ReferenceError as err:
        print(f"dtmon-reference: {err}", file=sys.stderr)
        return 1
    print(
        f"wrote {args.output}: {reference.batches} batches, {reference.hits} hits "
        f"(query {reference.query_id})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
