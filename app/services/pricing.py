"""What a reply cost: the price table (app/data/prices.toml, or the operator's PRICES_FILE) and the arithmetic.

Costs are integers in micro-dollars (millionths of a US dollar), so a price in dollars per million
tokens is exactly micro-dollars per token. A model without a price costs None ("unknown"), never 0.
"""
from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from .. import providers

DEFAULT_PRICES = Path(__file__).resolve().parent.parent / "data" / "prices.toml"
PRICE_FIELDS = ("input", "cached_input", "output")
OPTIONAL_FIELDS = ("cache_write", "checked", "source")


class PricesError(ValueError):
    """A prices file that can't be used; the message names the file and the line."""


@dataclass(frozen=True)
class Price:
    """One model's prices in dollars per million tokens (micro-dollars per token)."""

    input: Decimal
    cached_input: Decimal
    output: Decimal
    cache_write: Decimal | None = None  # Anthropic's cache writes; None bills them as input
    checked: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Usage:
    """The tokens of one reply as its provider reported them."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


class PriceTable:
    """Prices keyed by (provider, model)."""

    def __init__(self, prices: Mapping[tuple[str, str], Price]):
        self.prices = dict(prices)

    def price(self, provider: str, model: str | None) -> Price | None:
        """The model's price, or None when the table has none."""
        return self.prices.get((provider, model or ""))

    def cost_micros(self, provider: str, models: tuple[str | None, ...], usage: Usage) -> int | None:
        """What a reply cost, priced by the first of `models` (answered, then asked for) with a price."""
        price = next((p for m in models if (p := self.price(provider, m)) is not None), None)
        if price is None or (usage.input_tokens is None and usage.output_tokens is None):
            return None
        spec = providers.get(provider)
        cached, written = usage.cached_input_tokens or 0, usage.cache_write_tokens or 0
        fresh = usage.input_tokens or 0
        if spec.input_counts_cached:
            fresh = max(0, fresh - cached - written)
        output = (usage.output_tokens or 0) + (0 if spec.output_counts_reasoning else usage.reasoning_tokens or 0)
        total = (fresh * price.input + cached * price.cached_input + output * price.output
                 + written * (price.cache_write if price.cache_write is not None else price.input))
        return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def table_for(config: Mapping) -> PriceTable:
    """The price table the app's configuration names (loaded once per file)."""
    return load(config.get("PRICES_FILE") or str(DEFAULT_PRICES))


@lru_cache(maxsize=8)
def load(path: str) -> PriceTable:
    """Read a prices file (TOML, or JSON by its .json suffix); raises PricesError naming file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PricesError(f"Prices file {path}: can't read it ({exc}).") from None
    try:
        if path.endswith(".json"):
            data = json.loads(text, parse_float=Decimal)
        else:
            data = tomllib.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise PricesError(f"Prices file {path}, line {exc.lineno}: {exc.msg}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise PricesError(f"Prices file {path}: {exc}.") from None
    return PriceTable(_entries(path, text, data))


def _entries(path: str, text: str, data) -> dict[tuple[str, str], Price]:
    if not isinstance(data, dict):
        raise PricesError(f"Prices file {path}, line 1: expected a table of providers.")
    entries = {}
    for provider, models in data.items():
        if provider not in providers.PROVIDERS or not isinstance(models, dict):
            raise PricesError(f"Prices file {path}, line {_line_of(text, provider)}: "
                              f"{provider!r} is not a provider ({', '.join(providers.PROVIDERS)}).")
        for model, fields in models.items():
            entries[(provider, model)] = _price(path, _line_of(text, model), model, fields)
    return entries


def _price(path: str, line: int, model: str, fields) -> Price:
    where = f"Prices file {path}, line {line} ({model})"
    if not isinstance(fields, dict):
        raise PricesError(f"{where}: expected a table of prices.")
    unknown = sorted(set(fields) - set(PRICE_FIELDS) - set(OPTIONAL_FIELDS))
    missing = [name for name in PRICE_FIELDS if name not in fields]
    if unknown or missing:
        raise PricesError(f"{where}: " + "; ".join(
            ([f"unknown field(s) {', '.join(unknown)}"] if unknown else [])
            + ([f"missing {', '.join(missing)}"] if missing else [])) + ".")
    values = {name: _amount(where, name, fields[name]) for name in (*PRICE_FIELDS, "cache_write") if name in fields}
    return Price(**values, checked=_text(fields.get("checked")), source=_text(fields.get("source")))


def _amount(where: str, name: str, value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, float)):
        raise PricesError(f"{where}: {name} must be a number of dollars per million tokens.")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PricesError(f"{where}: {name} must be a number.") from None
    if not amount.is_finite() or amount < 0:
        raise PricesError(f"{where}: {name} must be zero or more.")
    return amount


def _text(value) -> str | None:
    return None if value is None else str(value)


def _line_of(text: str, key: str) -> int:
    """The first line naming `key`, for error messages (1 when it can't be found)."""
    return next((number for number, line in enumerate(text.splitlines(), 1) if key in line), 1)


def format_cost(micros: int | None) -> str:
    """A cost as people read it: "$0.0123", "$12.34", or "unknown"."""
    if micros is None:
        return "unknown"
    dollars = Decimal(micros) / 1_000_000
    if micros and abs(dollars) < Decimal("0.01"):
        return f"${dollars:.6f}".rstrip("0")
    return f"${dollars:,.2f}"
