"""What each reply cost: usage through the real SDKs and the fake, priced from the table, shown and totalled."""
import pytest

from app import create_app
from app.providers.base import StreamEnd
from app.services import pricing
from tests.test_chat_providers import say, thread_for

MODELS = {"ANTHROPIC_MODEL": "claude-sonnet-5-5", "GEMINI_MODEL": "gemini-3.8-flash", "DEEPSEEK_MODEL": "deepseek-flash"}
# "Answer in French." (3 words) + the 7 words below = 10 input tokens; 3 read from the cache, 2 written (anthropic).
CACHED_TEXT = "[[cached:3]] [[cache-write:2]] a b c d e"


@pytest.fixture
def wired(app, fake_provider):
    for var in ("ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL", "DEEPSEEK_BASE_URL"):
        app.config[var] = fake_provider.base_url
    app.config.update(PROVIDER_MAX_RETRIES=0, PROVIDER_TIMEOUT_SECONDS=1.5, **MODELS)
    return fake_provider


@pytest.fixture
def api(auth):
    auth.create_user()
    return auth.token()


@pytest.mark.parametrize("provider, usage, cost", [
    # input excludes cache reads and writes: 5×$2 + 3×$0.20 + 2×$2.50 + 8×$10 per million = 95.6 µ$
    ("anthropic", {"input_tokens": 5, "cached_input_tokens": 3, "cache_write_tokens": 2}, 96),
    # prompt includes the cached 3 (and Gemini has no cache writes): 7×$0.75 + 3×$0.075 + 8×$3.75 = 35.475 µ$
    ("google", {"input_tokens": 10, "cached_input_tokens": 3, "cache_write_tokens": None}, 35),
    # prompt_tokens includes prompt_cache_hit_tokens: 7×$0.30 + 3×$0.006 + 8×$1.20 = 11.718 µ$
    ("deepseek", {"input_tokens": 10, "cached_input_tokens": 3, "cache_write_tokens": None}, 12),
])
def test_each_providers_cache_usage_is_stored_and_priced_as_it_bills(client, api, wired, provider, usage, cost):
    thread_id = thread_for(client, api, provider)
    reply = say(client, api, thread_id, CACHED_TEXT).json["assistant_message"]
    assert {name: reply[name] for name in usage} == usage
    assert reply["output_tokens"] == 8 and reply["cost_micros"] == cost


def test_a_model_without_a_price_costs_unknown_never_zero(client, auth, api, wired):
    auth.login()
    # A model the provider lists (the catalogue asks for no other) that the prices file does not know.
    wired.models("google", [*wired.models("google"), "gemini-9-unpriced"])
    client.application.config["GEMINI_MODEL"] = "gemini-9-unpriced"
    thread_id = thread_for(client, api, "google")
    reply = say(client, api, thread_id, "Hi").json["assistant_message"]
    assert reply["output_tokens"] == 8 and reply["cost_micros"] is None
    thread = client.get(f"/api/threads/{thread_id}", headers=api).json
    assert thread["usage"]["cost_micros"] is None and thread["usage"]["cost"] == "unknown"
    page = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    assert '<span class="cost">unknown</span>' in page and "$0.00" not in page


def test_a_reply_shows_its_tokens_and_cost_and_the_thread_and_project_their_totals(client, auth, api, wired):
    auth.login()
    thread_id = thread_for(client, api, "anthropic")
    say(client, api, thread_id, CACHED_TEXT)
    say(client, api, thread_id, CACHED_TEXT)  # its input holds the history too: 19 + 3 + 2 tokens, 124.6 µ$
    page = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    assert page.count('class="message-usage"') == 2 and "(3 cached)" in page and "$0.000096" in page
    assert "This thread: 2 replies" in page and "$0.00022<" in page
    project_id = client.get(f"/api/threads/{thread_id}", headers=api).json["project_id"]
    project = client.get(f"/api/projects/{project_id}", headers=api).json
    assert project["usage"]["replies"] == 2 and project["usage"]["cost_micros"] == 220
    assert "This project: 2 replies" in client.get(f"/projects/{project_id}").get_data(as_text=True)


def test_a_reply_that_fails_midway_keeps_the_usage_the_provider_reported(client, api, wired):
    thread_id = thread_for(client, api, "anthropic")
    response = say(client, api, thread_id, "[[midstream-error:3]] tell me")
    reply = response.json["assistant_message"]
    # message_start reported the input (6 × $2 per million); the output count never came
    assert reply["status"] == "error" and reply["input_tokens"] == 6 and reply["output_tokens"] is None
    assert reply["cost_micros"] == 12
    project_id = client.get(f"/api/threads/{thread_id}", headers=api).json["project_id"]
    assert client.get(f"/api/projects/{project_id}", headers=api).json["usage"]["cost_micros"] == 12


def test_gemini_thought_tokens_are_billed_as_output():
    table = pricing.load(str(pricing.DEFAULT_PRICES))
    end = StreamEnd(100, 10, "stop", reasoning_tokens=40, cached_input_tokens=20)
    usage = pricing.Usage(end.input_tokens, end.output_tokens, end.cached_input_tokens, None, end.reasoning_tokens)
    # 80×$0.75 + 20×$0.075 + (10 + 40)×$3.75 = 249 µ$
    assert table.cost_micros("google", ("gemini-3.8-flash",), usage) == 249
    # DeepSeek (like Anthropic) counts thoughts inside the output already: 80×$0.30 + 20×$0.006 + 10×$1.20 = 36.12
    assert table.cost_micros("deepseek", ("deepseek-flash",), usage) == 36


def test_an_operators_prices_file_replaces_the_table(tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text('{"google": {"gemini-9": {"input": 1, "cached_input": 0.5, "output": 2}}}')
    table = pricing.load(str(prices))
    assert table.price("google", "gemini-9").output == 2 and table.price("anthropic", "claude-sonnet-5-5") is None


@pytest.mark.parametrize("name, text, where", [
    ("bad.toml", '[anthropic.x]\ninput = 1\ncached_input = "cheap"\noutput = 2\n', "line 1 (x): cached_input"),
    ("broken.toml", "[anthropic.x]\ninput = = 1\n", "line 2"),
    ("broken.json", '{"google": {"m": {"input": 1,\n "output": }}}', "line 2"),
    ("missing.toml", "[deepseek.m]\ninput = 1\n", "missing cached_input, output"),
    ("negative.toml", "[deepseek.m]\ninput = -1\ncached_input = 0\noutput = 1\n", "input must be zero or more"),
    ("provider.toml", "[openai.m]\ninput = 1\ncached_input = 0\noutput = 1\n", "'openai' is not a provider"),
])
def test_a_malformed_prices_file_stops_the_start_naming_the_file_and_line(tmp_path, migrated_database, name, text,
                                                                           where):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(pricing.PricesError) as failure:
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": migrated_database, "PRICES_FILE": str(path)})
    assert str(path) in str(failure.value) and where in str(failure.value)


def test_costs_read_as_dollars():
    assert [pricing.format_cost(m) for m in (None, 0, 96, 12_345, 1_234_567_890)] == [
        "unknown", "$0.00", "$0.000096", "$0.01", "$1,234.57"]


def test_the_composer_estimates_the_context_the_next_message_sends(client, auth, api, wired):
    auth.login()
    thread_id = thread_for(client, api, "anthropic")
    say(client, api, thread_id, "Hi")
    page = client.get(f"/threads/{thread_id}").get_data(as_text=True)
    # "Answer in French." 8, "Hi" 4, "Hello from fake anthropic. w5 w6 w7" 12 (history.estimate_tokens), at $2 / M
    assert "Sends about 24 tokens of context with your message (input cost $0.000048)." in page
