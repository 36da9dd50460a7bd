"""dtmon results service: consumes dt-results, serves REST, SSE, a live dashboard and metrics.

The service is read-only: all state is rebuilt from the results topic on start, so any
replica can be killed and replaced without losing what the topic still retains.
"""
