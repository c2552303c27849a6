"""The SDK floor: CPU per reply of each provider's SDK alone, consuming the fake's stream in one process.

Run as `python -m bench.sdk_floor BASE_URL --concurrency 10,25,50` (the bench does it); prints one
JSON object {concurrency: {provider: CPU milliseconds per reply}}: the floor depends on how many
replies stream at once (the hub's fixed costs spread over more of them), so the app's CPU at a
steady L is compared with the floor at L. Like a gunicorn worker, the process is patched by
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
MIN_REPLIES = 20  # at low concurrency a few rounds, so one slow reply does not dominate


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
    """Measure every provider at each concurrency and print the result as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.sdk_floor")
    parser.add_argument("base_url")
    parser.add_argument("--concurrency", default="45", help="comma-separated: replies streaming at once")
    parser.add_argument("--rounds", type=int, default=2, help="replies per level = rounds × concurrency (≥ 20)")
    args = parser.parse_args()
    levels = [int(part) for part in args.concurrency.split(",") if part.strip()]
    print(json.dumps({level: {name: cpu_ms_per_reply(name, args.base_url, max(MIN_REPLIES, args.rounds * level),
                                                     level) for name in PROVIDERS} for level in levels}))


if __name__ == "__main__":
    main()
