"""Data-quality statistics on dtmon.batch.v1 quantities, independent of any service.

Modules, each with one job: ``special`` (Poisson and binomial tail probabilities, vectorised),
``flags`` (dead, noisy and bursting channels from occupancies), ``timebox`` (the drift-time
box fit: t0, t_max, drift velocity), ``cells`` (where each channel's cell sits, for maps).
Kept in minidt so the API, tests and notebooks share one definition of every decision.
"""
