"""Cosmic muons as straight tracks, and the drift cells they cross.

Intensity per solid angle goes as cos^2(zenith); through a horizontal generation plane that
becomes dN/dcos(theta) ~ cos^3(theta), sampled exactly as cos(theta) = U^(1/4). Everything
is vectorised over all muons of a window and all 16 (chamber, layer) planes at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dtmon_producer.sim.geometry import (
    GENERATION_Z_MM,
    SCINT_PLANES_Z_MM,
    SCINT_WIDTH_MM,
    Telescope,
)
from minidt import detector as det

PLANE_MARGIN_MM = 1000.0
"""The generation plane (above the top chamber) extends this far beyond the footprint, so
inclined tracks that reach the lower chambers from outside are generated too."""

LAYER_EFFICIENCY = 0.95
SCINT_EFFICIENCY = 0.98
DRIFT_RESOLUTION_NS = 4.0
SCINT_JITTER_NS = 1.0


@dataclass(frozen=True)
class MuonHits:
    """Chamber hits of a set of muons (one row per hit) and their scintillator signals."""

    muon: np.ndarray  # index of the muon of each hit
    chamber: np.ndarray
    fpga: np.ndarray
    channel: np.ndarray
    time_ns: np.ndarray  # hit time relative to the window start
    scint_time_ns: np.ndarray  # per triggered muon
    scint_muon: np.ndarray  # which muons fired the scintillator coincidence


def plane_area_m2(tel: Telescope) -> float:
    side = tel.footprint_mm + 2 * PLANE_MARGIN_MM
    return side * side / 1e6


def simulate_muons(rng: np.random.Generator, tel: Telescope, n: int, window_ns: float) -> MuonHits:
    """n muons with uniform arrival times in [0, window_ns): their hits and trigger times."""
    t0 = rng.uniform(0.0, window_ns, n)
    lo, hi = -PLANE_MARGIN_MM, tel.footprint_mm + PLANE_MARGIN_MM
    x0 = rng.uniform(lo, hi, n)
    y0 = rng.uniform(lo, hi, n)
    cos_t = rng.random(n) ** 0.25
    tan_t = np.sqrt(np.maximum(0.0, 1.0 - cos_t**2)) / np.maximum(cos_t, 1e-6)
    phi = rng.uniform(0.0, 2 * np.pi, n)
    dx, dy = tan_t * np.cos(phi), tan_t * np.sin(phi)  # displacement per mm of descent
    z_gen = GENERATION_Z_MM

    # Track position at every (chamber, layer) mid-plane: shape (n, chambers, layers).
    depth = z_gen - tel.layer_z[None, :, :]
    x = x0[:, None, None] - dx[:, None, None] * depth
    y = y0[:, None, None] - dy[:, None, None] * depth
    along_y = tel.measures_y[None, :, None]
    u = np.where(along_y, y, x)  # measured coordinate
    v = np.where(along_y, x, y)  # coordinate along the wire
    u_local = u - tel.cell_edge[None, :, :]
    cell = np.floor(u_local / det.CELL_WIDTH_MM).astype(np.int64)
    inside = (cell >= 0) & (cell < det.CELLS_PER_LAYER) & (v >= 0) & (v < tel.footprint_mm)
    inside &= rng.random(inside.shape) < LAYER_EFFICIENCY
    mu, ch, ly = np.nonzero(inside)
    cl = cell[mu, ch, ly]
    dist = np.abs(u_local[mu, ch, ly] - (cl + 0.5) * det.CELL_WIDTH_MM)
    drift = dist / det.DRIFT_VELOCITY_MM_PER_NS + rng.normal(0.0, DRIFT_RESOLUTION_NS, len(mu))
    # The chamber signal arrives (T0_CORRECTION - SCINT_DELAY) earlier than the scintillator's
    # t0 + SCINT_DELAY, so `hit - scint + T0_CORRECTION` gives back the drift time.
    t0_corr = np.asarray(det.T0_CORRECTION_NS, dtype=float)
    hit_time = t0[mu] + drift - (t0_corr[ch] - det.SCINT_DELAY_NS)

    # Scintillator coincidence: the track crosses both (quarter-width) scintillators.
    fired = rng.random(n) < SCINT_EFFICIENCY
    x_lo = (tel.footprint_mm - SCINT_WIDTH_MM) / 2
    for z in SCINT_PLANES_Z_MM:
        xs, ys = x0 - dx * (z_gen - z), y0 - dy * (z_gen - z)
        fired &= (xs >= x_lo) & (xs < x_lo + SCINT_WIDTH_MM)
        fired &= (ys >= 0) & (ys < tel.footprint_mm)
    scint_muon = np.flatnonzero(fired)
    scint_time = (
        t0[scint_muon] + det.SCINT_DELAY_NS + rng.normal(0, SCINT_JITTER_NS, len(scint_muon))
    )

    return MuonHits(
        muon=mu,
        chamber=ch,
        fpga=tel.fpga[ch],
        channel=tel.channel[ch, ly, cl],
        time_ns=hit_time,
        scint_time_ns=scint_time,
        scint_muon=scint_muon,
    )
