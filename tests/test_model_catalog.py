"""The model catalogue: each provider's chat models listed through its real SDK against the fake, cached and checked."""
from __future__ import annotations

import logging
import threading
import time

import pytest

from app.providers import PROVIDERS
from app.providers.base import ProviderSettings
from app.services import catalog
from app.services.catalog import Catalog
from tests.conftest import CLOSED_PORT_URL, FAKE_KEY, PROVIDER_URL_VARS

PAGES = {"anthropic": 3, "google": 3, "deepseek": 1}  # 9 Claude models by 4; 13 Gemini models by 5; one list
CHAT_MODELS = {
    "anthropic": ["claude-fable-5-2", "claude-mythos-5-2", "claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5",
                  "claude-sonnet-5", "claude-opus-4-8", "claude-sonnet-4-6", "claude-haiku-4-5"],
    "google": ["gemini-3.8-flash", "gemini-3.7-flash", "gemini-3.6-flash", "gemini-3.5-flash-lite",
               "gemini-3.1-pro-preview", "gemini-flash-latest", "gemini-flash-lite-latest", "gemini-pro-latest"],
    "deepseek": ["deepseek-flash", "deepseek-v4-pro"],
}


def config(base_url: str, **extra) -> dict:
    """An app config for a catalogue of its own."""
    return {"MODEL_CATALOG_TTL_SECONDS": 3600, "MODEL_LIST_WAIT_SECONDS": 2, "PROVIDER_TIMEOUT_SECONDS": 5,
            "PROVIDER_MAX_RETRIES": 0, "ANTHROPIC_API_KEY": FAKE_KEY, "GEMINI_API_KEY": FAKE_KEY,
            "DEEPSEEK_API_KEY": FAKE_KEY, **dict.fromkeys(PROVIDER_URL_VARS, base_url), **extra}


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert condition()


@pytest.fixture(params=list(PROVIDERS))
def name(request):
    return request.param


@pytest.mark.once
def test_every_page_is_read_and_only_chat_models_are_kept(name, fake_provider):
    adapter = PROVIDERS[name].adapter_class(ProviderSettings(FAKE_KEY, fake_provider.base_url, 5, 0))
    try:
        models = adapter.list_models()
    finally:
        adapter._client.close()
    assert [m.id for m in models] == CHAT_MODELS[name]
    assert len([r for r in fake_provider.listings if r.provider == name]) == PAGES[name]


@pytest.mark.once
def test_labels_and_thinking_come_from_the_listing(fake_provider):
    listed = {name: {m.id: m for m in Catalog(config(fake_provider.base_url)).listing(name).models}
              for name in PROVIDERS}
    assert listed["anthropic"]["claude-sonnet-5-5"].label == "Claude Sonnet 5.5"
    fable, flash = listed["anthropic"]["claude-fable-5-2"], listed["google"]["gemini-3.8-flash"]
    assert fable.thinks and not fable.thinking_optional  # its capabilities say `disabled` is not supported
    assert flash.label == "Gemini 3.8 Flash" and flash.thinks
    assert not listed["google"]["gemini-3.1-pro-preview"].thinking_optional
    assert listed["deepseek"]["deepseek-v4-pro"].label == "DeepSeek V4 Pro"
    assert listed["deepseek"]["deepseek-flash"].thinks and listed["deepseek"]["deepseek-flash"].thinking_optional


@pytest.mark.once
def test_a_retired_anthropic_model_is_left_out_of_the_list(fake_provider):
    fake_provider.retire("anthropic", "claude-sonnet-4-6")
    assert "claude-sonnet-4-6" not in Catalog(config(fake_provider.base_url)).listing("anthropic").ids()


@pytest.mark.once
def test_the_list_is_cached_within_the_ttl(fake_provider):
    models = Catalog(config(fake_provider.base_url))
    models.listing("deepseek")
    models.listing("deepseek")
    assert len(fake_provider.listings) == 1


@pytest.mark.once
def test_a_stale_list_is_served_while_it_is_refreshed_in_the_background(fake_provider):
    models = Catalog(config(fake_provider.base_url, MODEL_CATALOG_TTL_SECONDS=0.2))
    assert models.listing("deepseek").ids() == ["deepseek-flash", "deepseek-v4-pro"]
    fake_provider.models("deepseek", ["deepseek-flash", "deepseek-v5"])
    fake_provider.listing_fault("deepseek", delay=0.5)
    time.sleep(0.25)
    started = time.monotonic()
    stale = models.listing("deepseek")
    assert time.monotonic() - started < 0.2 and stale.ids() == ["deepseek-flash", "deepseek-v4-pro"]
    assert not stale.live(models.ttl)
    wait_for(lambda: models.listing("deepseek").ids() == ["deepseek-flash", "deepseek-v5"])


@pytest.mark.once
def test_concurrent_callers_share_one_listing_call(fake_provider):
    models = Catalog(config(fake_provider.base_url))
    fake_provider.listing_fault("deepseek", delay=0.3)
    callers = [threading.Thread(target=models.listing, args=("deepseek",)) for _ in range(8)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len(fake_provider.listings) == 1


@pytest.mark.once
def test_a_slow_listing_is_waited_on_for_a_bounded_time_only(fake_provider):
    models = Catalog(config(fake_provider.base_url, MODEL_LIST_WAIT_SECONDS=0.3))
    fake_provider.listing_fault("google", delay=1.5)
    started = time.monotonic()
    listing = models.listing("google")
    assert time.monotonic() - started < 1.0
    assert listing.models == () and models.default_model("google") == "gemini-flash-latest"
    assert models.status("google", listing)[0] == catalog.UNREACHABLE
    assert models.check("google", "gemini-flash-latest") is None  # with no list, the default alone is valid
    assert "gemini-3.8-flash" in models.check("google", "gemini-3.8-flash")


@pytest.mark.once
def test_a_refused_connection_fails_fast(app):
    started = time.monotonic()
    listings = catalog.Catalog(app.config).listings()
    assert time.monotonic() - started < 1.0
    assert {listing.status for listing in listings.values()} == {catalog.UNREACHABLE}
    assert CLOSED_PORT_URL in listings["google"].error


@pytest.mark.once
def test_the_last_good_list_is_used_when_a_listing_fails(fake_provider, caplog):
    models = Catalog(config(fake_provider.base_url, MODEL_CATALOG_TTL_SECONDS=0.05))
    assert models.listing("anthropic").status == catalog.READY
    fake_provider.listing_fault("anthropic", status=500)
    time.sleep(0.1)
    models.refresh("anthropic").wait(5)
    listing = models.listing("anthropic")
    assert listing.ids() == CHAT_MODELS["anthropic"] and listing.status == catalog.UNREACHABLE
    assert "server error (500)" in listing.error and "Listing the models of anthropic failed" in caplog.text


@pytest.mark.once
def test_garbage_from_a_listing_is_a_warning_not_a_crash(name, fake_provider, caplog):
    fake_provider.listing_fault(name, garbage=True)
    models = Catalog(config(fake_provider.base_url))
    listing = models.listing(name)
    assert listing.models == () and listing.status == catalog.UNREACHABLE and "could not be read" in listing.error
    assert any(r.levelno == logging.WARNING and name in r.getMessage() for r in caplog.records)


@pytest.mark.once
@pytest.mark.parametrize("status, expected", [(401, catalog.KEY_REJECTED), (403, catalog.KEY_REJECTED)])
def test_a_key_the_provider_refuses_is_key_rejected_naming_the_variable(name, fake_provider, status, expected):
    fake_provider.listing_fault(name, status=status)
    models = Catalog(config(fake_provider.base_url))
    state, message = models.status(name, models.listing(name))
    assert state == expected and PROVIDERS[name].key_vars[0] in message and FAKE_KEY not in message


@pytest.mark.once
def test_no_key_is_no_key_without_a_listing_call(fake_provider):
    models = Catalog(config(fake_provider.base_url, DEEPSEEK_API_KEY=None))
    state, message = models.status("deepseek", models.listing("deepseek"))
    assert state == catalog.NO_KEY and "DEEPSEEK_API_KEY" in message and fake_provider.listings == []


@pytest.mark.once
def test_a_configured_default_that_is_listed_wins(fake_provider):
    models = Catalog(config(fake_provider.base_url, GEMINI_MODEL="gemini-3.7-flash"))
    models.listing("google")
    assert models.default_model("google") == "gemini-3.7-flash"


@pytest.mark.once
def test_an_unlisted_configured_default_warns_once_and_falls_back(fake_provider, caplog):
    models = Catalog(config(fake_provider.base_url, GEMINI_MODEL="gemini-2.5-flash"))
    models.listing("google")
    models.listing("google")
    warnings = [r.getMessage() for r in caplog.records if "GEMINI_MODEL=gemini-2.5-flash" in r.getMessage()]
    assert len(warnings) == 1 and "gemini-3.8-flash" in warnings[0]  # one warning, naming the listed models
    assert models.default_model("google") == "gemini-flash-latest"  # the shipped default, since it is listed
    fake_provider.retire("google", "gemini-flash-latest")
    models.refresh("google").wait(5)
    assert models.default_model("google") == "gemini-3.8-flash"  # else the first one listed


@pytest.mark.once
def test_servers_share_a_listing_through_redis(fake_provider):
    import redis

    url = "redis://127.0.0.1:6379/13"
    redis.Redis.from_url(url).flushdb()
    first = Catalog(config(fake_provider.base_url), redis.Redis.from_url(url))
    second = Catalog(config(fake_provider.base_url), redis.Redis.from_url(url))
    try:
        assert first.listing("anthropic").ids() == CHAT_MODELS["anthropic"]
        assert second.listing("anthropic").ids() == CHAT_MODELS["anthropic"]
        assert len(fake_provider.listings) == PAGES["anthropic"]  # the second server listed nothing itself
    finally:
        redis.Redis.from_url(url).flushdb()
