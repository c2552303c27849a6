"""The provider registry is the one source of names, labels and models."""
import pytest

from app import providers


def test_registry_lists_the_three_providers_in_order():
    assert providers.names() == ["anthropic", "google", "deepseek"]
    assert [spec.label for spec in providers.PROVIDERS.values()] == ["Anthropic Claude", "Google Gemini", "DeepSeek"]


def test_null_provider_reads_as_anthropic():
    assert providers.get(None).name == "anthropic"
    assert providers.DEFAULT_PROVIDER == "anthropic"


@pytest.mark.parametrize("bad", ["openai", "Anthropic ", "ANTHROPIC"])
def test_unknown_provider_error_names_the_value_and_the_valid_ones(bad):
    with pytest.raises(providers.UnknownProvider) as info:
        providers.get(bad)
    message = str(info.value)
    assert "anthropic, google, deepseek" in message


def test_unknown_provider_message_quotes_the_bad_value():
    assert "'openai'" in providers.unknown_provider_message("openai")
    assert "42" in providers.unknown_provider_message(42)


def test_settings_come_from_config_with_public_defaults():
    config = {"PROVIDER_TIMEOUT_SECONDS": 30, "PROVIDER_MAX_RETRIES": 1, "GOOGLE_API_KEY": "g-key"}
    spec = providers.get("google")
    settings = spec.settings(config)
    assert settings.api_key == "g-key"
    assert settings.base_url == "https://generativelanguage.googleapis.com"
    assert settings.timeout == 30.0 and settings.max_retries == 1
    assert spec.model(config) == spec.default_model
    assert spec.model({"GEMINI_MODEL": "gemini-x"}) == "gemini-x"


def test_gemini_key_wins_over_google_key():
    spec = providers.get("google")
    assert spec.api_key({"GEMINI_API_KEY": "a", "GOOGLE_API_KEY": "b"}) == "a"


def test_adapter_for_a_provider_without_key_says_which_variable_to_set():
    config = {"PROVIDER_TIMEOUT_SECONDS": 30, "PROVIDER_MAX_RETRIES": 1}
    with pytest.raises(providers.ProviderError) as info:
        providers.adapter_for("deepseek", config)
    assert info.value.status == 503
    assert "DEEPSEEK_API_KEY" in info.value.message
