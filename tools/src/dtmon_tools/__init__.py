"""Developer commands on top of devstack's infrastructure: `dtmon up` and `make docs`.

Kept apart from devstack (which only starts real infrastructure for tests and `make run`)
and from the services: these tools know every command's options and the whole local stack.
"""
