"""`python -m tests.fake_provider`: serve the fake on 127.0.0.1 until SIGTERM or SIGINT."""
import argparse
import asyncio
import signal

from tests import fake_provider


def main(argv: list[str] | None = None) -> None:
    """Serve the fake on 127.0.0.1 until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m tests.fake_provider",
                                     description=fake_provider.__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="seconds before the first token")
    parser.add_argument("--tokens", type=int, default=8, help="tokens in a default reply")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between tokens")
    parser.add_argument("--thinking-tokens", type=int, default=0, help="thought tokens where a model thinks")
    args = parser.parse_args(argv)
    fake = fake_provider.FakeProvider(port=args.port, first_token_delay=args.first_token_delay, tokens=args.tokens,
                        token_delay=args.token_delay, thinking_tokens=args.thinking_tokens)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, fake.shutdown)
        await fake.serve(lambda: print(f"listening on {fake.base_url}", flush=True))

    asyncio.run(run())


if __name__ == "__main__":
    main()
