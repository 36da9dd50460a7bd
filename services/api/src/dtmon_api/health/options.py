"""The data-quality options of `dtmon-api`: declared once here (DATA_QUALITY, added to
dtmon_common's API declaration), mapped onto HealthSettings, whose defaults they are.

Every threshold is a statement about probability or tolerance, not a ratio picked by eye;
the defaults and their meaning are in docs/health.md.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from dtmon_common.options import Group, Option
from minidt.dqm.flags import FlagThresholds

_probability = {"type": float, "above": 0.0, "below": 1.0}

REFERENCE_S3_ENDPOINT = Option(
    "--reference-s3-endpoint",
    "S3 endpoint URL (http:// or https://) for s3:// references; keys from "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    default="",
)
DATA_QUALITY = Group(
    "data quality",
    (
        Option(
            "--reference",
            "reference run to compare with: a file or s3://bucket/key written by "
            "dtmon-reference (empty: channels are compared with their chamber's median)",
            default="",
        ),
        REFERENCE_S3_ENDPOINT,
        Option(
            "--dqm-false-alarm",
            "probability that a healthy detector shows a dead or noisy flag in one evaluation "
            "(Bonferroni-split over the 2 x 256 channel tests)",
            default=1e-3,
            **_probability,
        ),
        Option(
            "--dqm-burst-false-alarm",
            "the same for the bursting flag (a channel bursting more often than its "
            "chamber's channels; split over the 256 channels)",
            default=1e-3,
            **_probability,
        ),
        Option(
            "--dqm-t0-tolerance-ns",
            "a chamber turns yellow when its fitted t0 or t_max is off the reference "
            "(or nominal) by more than this plus 3 standard errors",
            type=float,
            default=5.0,
            minimum=0,
        ),
        Option(
            "--dqm-red-dead-channels",
            "dead channels that turn a chamber red",
            type=int,
            default=8,
            minimum=1,
        ),
        Option(
            "--dqm-share-low",
            "a chamber turns yellow when its share of the hits falls below this fraction of "
            "its reference share",
            type=float,
            default=0.5,
            above=0.0,
            below=1.0,
        ),
        Option(
            "--dqm-share-high",
            "... or rises above this multiple of it",
            type=float,
            default=2.0,
            above=1.0,
        ),
    ),
)
_D = {o.dest: o.default_value() for o in DATA_QUALITY}


@dataclass(frozen=True)
class HealthSettings:
    """What HealthService needs; defaults are the options' (DATA_QUALITY)."""

    reference: str = _D["reference"]
    """Reference run to load at start: a file path or s3://bucket/key ("" = none)."""
    reference_s3_endpoint: str = _D["reference_s3_endpoint"]
    """S3 endpoint URL for an s3:// reference (credentials: AWS_ACCESS_KEY_ID/SECRET)."""
    false_alarm: float = _D["dqm_false_alarm"]
    burst_false_alarm: float = _D["dqm_burst_false_alarm"]
    t0_tolerance_ns: float = _D["dqm_t0_tolerance_ns"]
    red_dead_channels: int = _D["dqm_red_dead_channels"]
    share_low: float = _D["dqm_share_low"]
    share_high: float = _D["dqm_share_high"]

    def __post_init__(self) -> None:
        FlagThresholds(self.false_alarm, self.burst_false_alarm)  # validates both
        if self.t0_tolerance_ns < 0 or self.red_dead_channels < 1:
            raise ValueError("t0_tolerance_ns must be >= 0 and red_dead_channels >= 1")
        if not 0 < self.share_low < 1 < self.share_high:
            raise ValueError("the share band must satisfy 0 < low < 1 < high")

    @property
    def thresholds(self) -> FlagThresholds:
        return FlagThresholds(self.false_alarm, self.burst_false_alarm)


def health_settings_from_args(args: argparse.Namespace) -> HealthSettings:
    return HealthSettings(
        reference=args.reference,
        reference_s3_endpoint=args.reference_s3_endpoint,
        false_alarm=args.dqm_false_alarm,
        burst_false_alarm=args.dqm_burst_false_alarm,
        t0_tolerance_ns=args.dqm_t0_tolerance_ns,
        red_dead_channels=args.dqm_red_dead_channels,
        share_low=args.dqm_share_low,
        share_high=args.dqm_share_high,
    )
