"""The load benchmark of the chat app: `make bench` (see bench/README.md).

Kept free of imports: `python -m bench.sdk_floor` must patch with gevent before anything loads.
"""
