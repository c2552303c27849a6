"""The models each fake provider offers: today's (December 2026) by default, changeable at run time.

Anthropic's are the installed SDK's `Model` names minus those in `anthropic/_data/deprecated_models.py`
(the SDK warns about those); Gemini's include models that do not chat (embedding, speech, images,
live audio), as Google's listing does, so the app's filter is proven.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

CHAT_ACTIONS = ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent")


@dataclass(frozen=True)
class FakeModel:
    """One model as a fake provider lists it."""

    id: str
    label: str = ""
    thinks: bool = True
    can_disable_thinking: bool = True
    lifecycle: str = "active"  # Anthropic's: active, deprecated or retired (still listed, no longer answers)
    actions: tuple[str, ...] = CHAT_ACTIONS  # Gemini's supportedGenerationMethods

    @property
    def answers(self) -> bool:
        """Whether a chat request for this model is answered."""
        return self.lifecycle != "retired"


def _claude(model_id: str, label: str, *, disable: bool = True) -> FakeModel:
    return FakeModel(model_id, label, can_disable_thinking=disable)


CURRENT: dict[str, tuple[FakeModel, ...]] = {
    "anthropic": (
        _claude("claude-fable-5-2", "Claude Fable 5.2", disable=False),
        _claude("claude-mythos-5-2", "Claude Mythos 5.2"),
        _claude("claude-haiku-5-5", "Claude Haiku 5.5"),
        _claude("claude-sonnet-5-5", "Claude Sonnet 5.5"),
        _claude("claude-opus-5-5", "Claude Opus 5.5"),
        _claude("claude-sonnet-5", "Claude Sonnet 5"),
        _claude("claude-opus-4-8", "Claude Opus 4.8"),
        _claude("claude-sonnet-4-6", "Claude Sonnet 4.6"),
        _claude("claude-haiku-4-5", "Claude Haiku 4.5"),
    ),
    "google": (
        FakeModel("gemini-3.8-flash", "Gemini 3.8 Flash"),
        FakeModel("gemini-3.7-flash", "Gemini 3.7 Flash"),
        FakeModel("gemini-embedding-001", "Gemini Embedding 001", thinks=False,
                  actions=("embedContent", "countTextTokens")),
        FakeModel("gemini-3.6-flash", "Gemini 3.6 Flash"),
        FakeModel("gemini-3.8-flash-preview-tts", "Gemini 3.8 Flash TTS", thinks=False),
        FakeModel("gemini-3.5-flash-lite", "Gemini 3.5 Flash-Lite"),
        FakeModel("gemini-3.1-pro-preview", "Gemini 3.1 Pro Preview", can_disable_thinking=False),
        FakeModel("gemini-3-pro-image-preview", "Nano Banana Pro", thinks=False),
        FakeModel("gemini-flash-latest", "Gemini Flash Latest"),
        FakeModel("gemini-live-3.8-flash", "Gemini 3.8 Flash Live", actions=("bidiGenerateContent",)),
        FakeModel("gemini-flash-lite-latest", "Gemini Flash-Lite Latest"),
        FakeModel("gemini-pro-latest", "Gemini Pro Latest", can_disable_thinking=False),
        FakeModel("imagen-4.0-generate-001", "Imagen 4", thinks=False, actions=("predict",)),
    ),
    "deepseek": (FakeModel("deepseek-flash"), FakeModel("deepseek-v4-pro")),
}


class ModelSets:
    """Each provider's current models, as a test changes them; not thread-safe beyond the GIL."""

    def __init__(self) -> None:
        self._models = dict(CURRENT)

    def reset(self) -> None:
        self._models = dict(CURRENT)

    def listed(self, provider: str) -> tuple[FakeModel, ...]:
        return self._models[provider]

    def set(self, provider: str, models) -> None:
        self._models[provider] = tuple(m if isinstance(m, FakeModel) else FakeModel(m, m) for m in models)

    def retire(self, provider: str, model_id: str) -> None:
        """Anthropic keeps a retired model in its list (lifecycle "retired"); the others drop it."""
        if provider == "anthropic":
            self._models[provider] = tuple(replace(m, lifecycle="retired") if m.id == model_id else m
                                           for m in self._models[provider])
        else:
            self._models[provider] = tuple(m for m in self._models[provider] if m.id != model_id)

    def answers(self, provider: str, model_id: str | None) -> bool:
        return any(m.id == model_id and m.answers for m in self._models[provider])
