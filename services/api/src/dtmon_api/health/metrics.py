"""The health report as Prometheus gauges, evaluated at scrape time (a custom collector).

Names start with dtmon_api_dqm_; the chart's PrometheusRule alerts on them. Per-channel
series exist only for flagged channels, so a healthy detector exports 4 x 3 counters, not
768 zero series.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dtmon_api.health.models import Status
from dtmon_api.health.service import HealthService

STATUS_VALUE = {Status.green: 0.0, Status.yellow: 1.0, Status.red: 2.0, Status.unknown: math.nan}
FLAGS = ("dead", "noisy", "bursting")


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


class HealthCollector(Collector):
    def __init__(self, health: HealthService) -> None:
        self.health = health

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """Names only: registering must not run an evaluation."""
        yield from self._families()

    def _families(self) -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "dtmon_api_dqm_chamber_status",
                "Chamber status: 0 green, 1 yellow, 2 red (NaN before data)",
                labels=["chamber"],
            ),
            GaugeMetricFamily(
                "dtmon_api_dqm_flagged_channels",
                "Channels flagged in the window, by flag (dead, noisy, bursting)",
                labels=["chamber", "flag"],
            ),
            GaugeMetricFamily(
                "dtmon_api_dqm_channel_flag",
                "1 for each flagged channel (raw TDC channel) and flag",
                labels=["chamber", "channel", "flag"],
            ),
            GaugeMetricFamily(
                "dtmon_api_dqm_chamber_hit_rate_hz",
                "Chamber hits per second, window",
                labels=["chamber"],
            ),
            GaugeMetricFamily(
                "dtmon_api_dqm_chamber_share_ratio",
                "Chamber's share of the hits over its reference share (NaN without reference)",
                labels=["chamber"],
            ),
            GaugeMetricFamily(
                "dtmon_api_dqm_trigger_rate_hz", "Scintillator hits per second, window"
            ),
            GaugeMetricFamily(
                "dtmon_api_dqm_t0_ns",
                "Time-box t0 of the window fit (NaN if none)",
                labels=["chamber"],
            ),
            GaugeMetricFamily(
                "dtmon_api_dqm_t_max_ns",
                "Time-box t_max of the window fit (NaN if none)",
                labels=["chamber"],
            ),
            GaugeMetricFamily(
                "dtmon_api_dqm_drift_velocity_um_per_ns",
                "21 mm / (t_max - t0), window fit (NaN if none)",
                labels=["chamber"],
            ),
            GaugeMetricFamily("dtmon_api_dqm_reference_loaded", "1 when a reference run is loaded"),
        ]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        report = self.health.report()
        fam = {f.name: f for f in self._families()}
        for ch in report.chambers:
            c = str(ch.chamber)
            fam["dtmon_api_dqm_chamber_status"].add_metric([c], STATUS_VALUE[ch.status])
            for flag in FLAGS:
                fam["dtmon_api_dqm_flagged_channels"].add_metric(
                    [c, flag], float(getattr(ch, flag))
                )
            for fc in ch.flagged:
                for flag in fc.flags:
                    fam["dtmon_api_dqm_channel_flag"].add_metric([c, str(fc.channel), flag], 1.0)
            fam["dtmon_api_dqm_chamber_hit_rate_hz"].add_metric([c], _nan(ch.hit_rate_hz))
            ratio = ch.share / ch.reference_share if ch.share and ch.reference_share else None
            fam["dtmon_api_dqm_chamber_share_ratio"].add_metric([c], _nan(ratio))
            fit = ch.fit_window
            fam["dtmon_api_dqm_t0_ns"].add_metric([c], _nan(fit.t0_ns))
            fam["dtmon_api_dqm_t_max_ns"].add_metric([c], _nan(fit.t_max_ns))
            fam["dtmon_api_dqm_drift_velocity_um_per_ns"].add_metric(
                [c], _nan(fit.drift_velocity_um_per_ns)
            )
        fam["dtmon_api_dqm_trigger_rate_hz"].add_metric([], _nan(report.trigger_rate_hz))
        fam["dtmon_api_dqm_reference_loaded"].add_metric([], float(report.reference is not None))
        yield from fam.values()


def register_health_metrics(registry: CollectorRegistry, health: HealthService) -> None:
    registry.register(HealthCollector(health))
