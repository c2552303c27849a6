"""The SDK floor: CPU per reply of each provider's SDK alone, consuming the fake's stream in one process.

Run as `python -m bench.sdk_floor BASE_URL` (the bench does it); prints one JSON object
{provider: CPU milliseconds per reply}. Like a gunicorn worker, the process is patched by
gevent before anything else is imported and runs each reply in a greenlet, through the
app's adapter for that provider (the SDK client configured as the app configures it, and
nothing of Flask, the database or the app's streaming).
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

from gevent.pool import Pool  # noqa: E402

from app.providers import PROVIDERS  # noqa: E402
from app.providers.base import ProviderSettings, ReplyRequest, TextDelta, Turn  # noqa: E402

WARM_UP_REPLIES = 3


def _reply(adapter, model: str, index: int) -> int:
    """Stream one reply to its end; the number of text deltas."""
    request = ReplyRequest(turns=(Turn("user", f"Benchmark chat {index}: please answer."),), system=None,
                           model=model, max_output_tokens=4096)
    return sum(isinstance(event, TextDelta) for event in adapter.stream(request))


def cpu_ms_per_reply(provider: str, base_url: str, replies: int, concurrency: int) -> float:
    """Process CPU time per reply while `replies` replies stream, `concurrency` at a time."""
    spec = PROVIDERS[provider]
    adapter = spec.adapter_class(ProviderSettings("sk-bench", base_url, timeout=120.0, max_retries=2))
    pool = Pool(concurrency)
    pool.map(lambda i: _reply(adapter, spec.default_model, i), range(WARM_UP_REPLIES))  # lazy imports, connections
    before = time.process_time()
    deltas = pool.map(lambda i: _reply(adapter, spec.default_model, i), range(replies))
    spent = time.process_time() - before
    if min(deltas) == 0:
        raise RuntimeError(f"{provider}: a reply streamed no text")
    return spent * 1000 / replies


def main() -> None:
    """Measure every provider in turn and print the result as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.sdk_floor")
    parser.add_argument("base_url")
    parser.add_argument("--replies", type=int, default=90)
    parser.add_argument("--concurrency", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps({name: cpu_ms_per_reply(name, args.base_url, args.replies, args.concurrency)
                      for name in PROVIDERS}))


if __name__ == "__main__":
    main()
