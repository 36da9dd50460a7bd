"""The data-quality options of `dtmon-api`: declared once here, mapped onto HealthSettings.

Every threshold is a statement about probability or tolerance, not a ratio picked by eye;
the defaults and their meaning are in docs/health.md.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from minidt.dqm.flags import FlagThresholds


@dataclass(frozen=True)
class HealthSettings:
    """What HealthService needs; defaults match the CLI's."""

    reference: str = ""
    """Reference run to load at start: a file path or s3://bucket/key ("" = none)."""
    reference_s3_endpoint: str = ""
    """S3 endpoint URL for an s3:// reference (credentials: AWS_ACCESS_KEY_ID/SECRET)."""
    false_alarm: float = 1e-3
    burst_false_alarm: float = 1e-3
    t0_tolerance_ns: float = 5.0
    red_dead_channels: int = 8
    share_low: float = 0.5
    share_high: float = 2.0

    def __post_init__(self) -> None:
        FlagThresholds(self.false_alarm, self.burst_false_alarm)  # validates both
        if self.t0_tolerance_ns < 0 or self.red_dead_channels < 1:
            raise ValueError("t0_tolerance_ns must be >= 0 and red_dead_channels >= 1")
        if not 0 < self.share_low < 1 < self.share_high:
            raise ValueError("the share band must satisfy 0 < low < 1 < high")

    @property
    def thresholds(self) -> FlagThresholds:
        return FlagThresholds(self.false_alarm, self.burst_false_alarm)


def _probability(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {value}")
    return value


def add_reference_s3_argument(group: Any) -> None:
    """Shared by dtmon-api (to load) and dtmon-reference (to save)."""
    group.add_argument(
        "--reference-s3-endpoint",
        default=HealthSettings().reference_s3_endpoint,
        help="S3 endpoint URL (http:// or https://) for s3:// references; keys from "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    )


def add_health_arguments(parser: Any) -> None:
    """The "data quality" option group."""
    d = HealthSettings()
    g = parser.add_argument_group("data quality")
    g.add_argument(
        "--reference",
        default=d.reference,
        help="reference run to compare with: a file or s3://bucket/key written by "
        "dtmon-reference (empty: channels are compared with their chamber's median)",
    )
    add_reference_s3_argument(g)
    g.add_argument(
        "--dqm-false-alarm",
        type=_probability,
        default=d.false_alarm,
        help="probability that a healthy detector shows a dead or noisy flag in one evaluation "
        "(Bonferroni-split over the 2 x 256 channel tests)",
    )
    g.add_argument(
        "--dqm-burst-false-alarm",
        type=_probability,
        default=d.burst_false_alarm,
        help="the same for the bursting flag (a channel bursting more often than its "
        "chamber's channels; split over the 256 channels)",
    )
    g.add_argument(
        "--dqm-t0-tolerance-ns",
        type=float,
        default=d.t0_tolerance_ns,
        help="a chamber turns yellow when its fitted t0 or t_max is off the reference "
        "(or nominal) by more than this plus 3 standard errors",
    )
    g.add_argument(
        "--dqm-red-dead-channels",
        type=int,
        default=d.red_dead_channels,
        help="dead channels that turn a chamber red",
    )
    g.add_argument(
        "--dqm-share-low",
        type=float,
        default=d.share_low,
        help="a chamber turns yellow when its share of the hits falls below this fraction of "
        "its reference share",
    )
    g.add_argument(
        "--dqm-share-high",
        type=float,
        default=d.share_high,
        help="... or rises above this multiple of it",
    )


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
