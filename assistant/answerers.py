"""The answerer for the backend, model and passage count picked in the web chat's settings panel.

Everything but the chat model is shared with the base services (index, retriever, embedder); a model,
once loaded, is kept for the next question, since loading one takes seconds.
"""

from __future__ import annotations

import threading

from assistant.answering import Answerer
from assistant.llm import ChatModel
from assistant.services import Services
from assistant.waiting_line import WaitingLine


class AnswererChoices:
    def __init__(self, services: Services):
        self.services = services
        self._models: dict[tuple[str, str], tuple[ChatModel | None, WaitingLine]] = {}  # a model and its line
        self._answerers: dict[tuple[str, str, int], Answerer] = {}
        self._lock = threading.Lock()  # two sessions asking at once must not load the same model twice

    def for_services(self, services: Services) -> "AnswererChoices":
        """The same choices over other services (another collection), sharing the models loaded so far."""
        other = AnswererChoices(services)
        other._models, other._lock = self._models, self._lock
        return other

    def default_passages(self, llm: str) -> int:
        """Passages a model is given, or sentences quoted in an extractive answer."""
        settings = self.services.settings
        return settings.max_quotes if llm == "none" else settings.passages

    def get(self, llm: str, model: str, passages: int) -> Answerer:
        base = self.services.settings
        if (llm, model, passages) == (base.llm, base.model, self.default_passages(base.llm)):
            return self.services.answerer  # exactly what `assistant ask` and the /ask endpoint use
        with self._lock:
            key = (llm, model, passages)
            if key not in self._answerers:
                count = {"max_quotes": passages} if llm == "none" else {"passages": passages}
                variant = self.services.variant(llm=llm, model=model, **count)
                if (llm, model) in self._models:  # the same model at another passage count: not loaded twice
                    variant.chat_model, variant.model_line = self._models[llm, model]
                self._models[llm, model] = variant.chat_model, variant.model_line
                self._answerers[key] = variant.answerer
            return self._answerers[key]
