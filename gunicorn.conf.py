"""gunicorn settings for `make run` and production.

gevent patches the process first: the app is preloaded (imported in the master before
forking), and psycopg 3 and the provider SDKs pick blocking or cooperative I/O when they
are imported. A reply spends almost all its time waiting on the provider, so each one runs
in a greenlet: waiting costs a few KB of memory instead of a whole worker.
"""
from gevent import monkey

monkey.patch_all()

import multiprocessing  # noqa: E402

bind = "127.0.0.1:5000"
worker_class = "gevent"
workers = min(2, multiprocessing.cpu_count())
worker_connections = 1000
preload_app = True
# With gevent workers `timeout` watches the worker's heartbeat, not a request,
# so streams longer than a minute are fine.
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
