"""Detector health: flags, chamber status, time-box fits and the reference run.

Modules, each with one job: ``options`` (the flags' thresholds as CLI options and settings),
``reference`` (the reference run document, saved to and loaded from a file or S3),
``evaluate`` (a window and the cumulative view -> a HealthReport), ``models`` (the REST
models), ``service`` (caching and the fit trend), ``router`` (/api/v1/health...), ``metrics``
(the flags as Prometheus gauges) and ``snapshot`` (the `dtmon-reference` command). The
statistics themselves live in minidt.dqm, shared with tests and notebooks.
"""
