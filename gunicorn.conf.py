"""gunicorn settings for `make run` and production.

gevent patches the process first: the app is preloaded (imported in the master before
forking), and psycopg 3 and the provider SDKs pick blocking or cooperative I/O when they
are imported. A reply spends almost all its time waiting on the provider, so each one runs
in a greenlet: waiting costs a few KB of memory instead of a whole worker.
"""
from gevent import monkey

monkey.patch_all()

import gc  # noqa: E402
import os  # noqa: E402

# Measured with `make bench` on a quiet 2-core machine that the app shares with the fake provider
# and the load client (bench/README.md, "gunicorn settings"); figures are SQLite / PostgreSQL.
bind = "127.0.0.1:5000"
worker_class = "gevent"
# 2 workers against 1: steady capacity 200 / 100 chats in flight against 100 / 100, burst-500 added
# first-token p50 0.9 / 2.0 s against 1.4 / 2.8 s; peak memory 323 / 317 MB against 266 / 257 MB
# PSS, idle 188 / 196 MB against 183 / 191 MB. One worker spends less CPU per reply (8.2 against
# 9.7 ms at burst 500) but can use only one core. Set WEB_CONCURRENCY to the cores the app may use;
# each worker holds up to DATABASE_POOL_SIZE (20) + 4 PostgreSQL connections.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Open connections (mostly streams) per worker. The most the bench saw was ~730 per worker (PostgreSQL,
# steady 500: 1,454 chats open over 2 workers, most waiting for CPU); MAX_REPLIES_IN_FLIGHT (500)
# caps the replies a worker runs and answers 503 past it.
worker_connections = 1000
# The master imports the app and the SDKs once (start-up 1.7 s to the first answer) and, with
# gc.freeze() below, the workers share those pages: the second worker adds ~5 MB idle.
preload_app = True
# With gevent workers `timeout` watches the worker's heartbeat, not a request,
# so streams longer than a minute are fine.
timeout = 60
graceful_timeout = 30
keepalive = 5
# Several instances may run on one machine; a shared control socket path would collide.
control_socket_disable = True
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


def pre_fork(server, worker):
    """Freeze what the master built while preloading, so the workers keep sharing its pages.

    Frozen objects are left out of garbage collection, so a worker's collector never writes to
    them and the pages stay shared instead of being copied into each worker.
    """
    gc.freeze()


def post_worker_init(worker):
    """On SIGTERM, start the replies' grace period at once, beside gunicorn's own draining.

    The open reply streams end when their replies do, so the worker can exit in time.
    """
    import signal

    import gevent

    from app.services import chat

    app = worker.wsgi

    def begin_shutdown(signum, frame):
        worker.handle_exit(signum, frame)
        # A signal handler runs in the event loop: it may only schedule the work.
        gevent.spawn(chat.shutdown, app, app.config["SHUTDOWN_GRACE_SECONDS"])

    signal.signal(signal.SIGTERM, begin_shutdown)


def worker_exit(server, worker):
    """Whatever is still running when the worker exits is stored as interrupted."""
    from app.services import chat

    chat.shutdown(worker.wsgi, 0)
