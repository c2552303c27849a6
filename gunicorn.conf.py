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

bind = "127.0.0.1:5000"
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_connections = 1000
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

    app = worker.wsgi
    runner = app.extensions["reply_runner"]

    def begin_shutdown(signum, frame):
        worker.handle_exit(signum, frame)
        # A signal handler runs in the event loop: it may only schedule the work.
        gevent.spawn(runner.shutdown, app.config["SHUTDOWN_GRACE_SECONDS"])

    signal.signal(signal.SIGTERM, begin_shutdown)


def worker_exit(server, worker):
    """Whatever is still running when the worker exits is stored as interrupted."""
    worker.wsgi.extensions["reply_runner"].shutdown(0)
