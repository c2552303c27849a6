"""Each provider's models, read live through its SDK's own listing and cached per process.

The listing doubles as a key check. It never blocks a page for long: a page waits at most
MODEL_LIST_WAIT_SECONDS for a first listing, then uses the last good list or, with none, the
configured default alone. A stale list is refreshed in the background, one call per provider at a
time. With REDIS_URL set, servers share what they listed.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Mapping

from flask import current_app

from .. import providers
from ..providers.base import KEY_REJECTED, ModelInfo, ProviderError

log = logging.getLogger(__name__)

# How the latest check of a provider went (KEY_REJECTED: the provider answered 401/403).
READY, NO_KEY, UNREACHABLE, UNKNOWN = "ready", "no_key", "unreachable", "unknown"
REDIS_KEY = "chat:models:{}"


@dataclass(frozen=True)
class Listing:
    """What is known of one provider's models: the last good list and how the latest check went."""

    models: tuple[ModelInfo, ...] = ()
    status: str = UNKNOWN
    error: str | None = None  # the latest failure, as a user may read it (never a key)
    listed_at: float | None = None  # time.time() of the last good list

    def live(self, ttl: float) -> bool:
        """Whether the list was read within the TTL (else it is a cached one, or none)."""
        return self.listed_at is not None and time.time() - self.listed_at < ttl

    def ids(self) -> list[str]:
        return [model.id for model in self.models]


class Catalog:
    """The model listings of one process."""

    def __init__(self, config: Mapping, redis=None):
        self.config = config
        self.ttl = float(config["MODEL_CATALOG_TTL_SECONDS"])
        self.wait_seconds = float(config["MODEL_LIST_WAIT_SECONDS"])
        self.redis = redis
        self._listings: dict[str, Listing] = {}
        self._inflight: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def listing(self, name: str, wait: bool = True) -> Listing:
        """The provider's listing; a stale or missing one is refreshed in the background.

        With `wait`, a provider never listed yet is waited on for a bounded time.
        """
        spec = providers.get(name)
        if spec.api_key(self.config) is None:
            return Listing(status=NO_KEY, error=spec.missing_key_message())
        current = self._listings.get(spec.name)
        if current is None or not current.live(self.ttl):
            done = self.refresh(spec.name)
            if current is None and wait:
                done.wait(self.wait_seconds)
        return self._listings.get(spec.name) or Listing()

    def refresh(self, name: str) -> threading.Event:
        """List the provider's models in the background, unless a listing is already under way."""
        with self._lock:
            done = self._inflight.get(name)
            if done is None:
                done = self._inflight[name] = threading.Event()
                threading.Thread(target=self._list, args=(name, done), daemon=True,
                                 name=f"model-listing-{name}").start()
        return done

    def _list(self, name: str, done: threading.Event) -> None:
        try:
            self._store(name, self._read(name))
        except ProviderError as exc:
            status = KEY_REJECTED if exc.reason == KEY_REJECTED else UNREACHABLE
            log.warning("Listing the models of %s failed: %s", name, exc.message)
            self._store(name, replace(self._listings.get(name) or Listing(), status=status, error=exc.message))
        except Exception:  # garbage from the provider must not break a page
            log.exception("Listing the models of %s failed unexpectedly", name)
            self._store(name, replace(self._listings.get(name) or Listing(), status=UNREACHABLE,
                                      error="The model list could not be read."))
        finally:
            with self._lock:
                self._inflight.pop(name, None)
            done.set()

    def _read(self, name: str) -> Listing:
        shared = self._shared(name)
        if shared is not None:
            return shared
        models = tuple(providers.adapter_for(name, self.config).list_models())
        listing = Listing(models=models, status=READY, listed_at=time.time())
        self._share(name, listing)
        self._warn_if_default_missing(name, listing)
        return listing

    def _store(self, name: str, listing: Listing) -> None:
        self._listings[name] = listing

    def _shared(self, name: str) -> Listing | None:
        if self.redis is None:
            return None
        try:
            raw = self.redis.get(REDIS_KEY.format(name))
        except Exception as exc:  # Redis only saves listing calls; without it each server lists alone
            log.warning("Could not read the shared model list of %s: %s", name, exc)
            return None
        if raw is None:
            return None
        data = json.loads(raw)
        return Listing(models=tuple(ModelInfo(**model) for model in data["models"]), status=READY,
                       listed_at=data["listed_at"])

    def _share(self, name: str, listing: Listing) -> None:
        if self.redis is None:
            return
        data = {"models": [dataclasses.asdict(m) for m in listing.models], "listed_at": listing.listed_at}
        try:
            self.redis.set(REDIS_KEY.format(name), json.dumps(data), ex=max(1, int(self.ttl)))
        except Exception as exc:
            log.warning("Could not share the model list of %s: %s", name, exc)

    def _warn_if_default_missing(self, name: str, listing: Listing) -> None:
        spec = providers.get(name)
        configured = spec.model(self.config)
        if listing.models and configured not in listing.ids():
            log.warning("%s=%s is not among the models %s lists (%s); new threads use %s.",
                        spec.model_var, configured, spec.label, ", ".join(listing.ids()),
                        self.default_model(name, listing))

    def default_model(self, name: str, listing: Listing | None = None) -> str:
        """The model new threads of this provider use.

        The configured model (its *_MODEL variable, else the shipped default) when the provider lists
        it or no list is known; else the shipped default if listed; else the first model listed.
        """
        spec = providers.get(name)
        listing = listing or self._listings.get(spec.name) or Listing()
        ids = listing.ids()
        configured = spec.model(self.config)
        if not ids or configured in ids:
            return configured
        return spec.default_model if spec.default_model in ids else ids[0]

    def check(self, name: str, model: str) -> str | None:
        """Why `model` can't be used with this provider, or None when it can."""
        spec = providers.get(name)
        listing = self.listing(spec.name)
        valid = listing.ids() or [self.default_model(spec.name, listing)]
        if model in valid:
            return None
        return f"Unknown model {model!r} for {spec.label}; valid models are: {', '.join(valid)}."


def current() -> Catalog:
    """The current app's catalogue."""
    return current_app.extensions["model_catalog"]


def init_app(app) -> None:
    """Give the app its catalogue, sharing listings through Redis when REDIS_URL is set."""
    redis = None
    if app.config.get("REDIS_URL"):
        import redis as redis_lib

        redis = redis_lib.Redis.from_url(app.config["REDIS_URL"])
    app.extensions["model_catalog"] = Catalog(app.config, redis)
