"""The Gradio web chat. Wiring only: every operation is a call into assistant/ (the services the CLI uses),
and every piece of HTML comes from ui/html_view.py, which escapes all text it shows."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import gradio as gr
from pydantic import TypeAdapter, ValidationError

from assistant.access import is_loopback
from assistant.collections import Collection, Collections, UnknownCollection
from assistant.conversations import ConversationNotFound
from assistant.library import PageUnavailable
from assistant.records import Answer, AnswerEvent, FoundEvent, Message, SourcesEvent, TokenEvent, WaitingEvent
from assistant.services import Services
from assistant.transcript import conversation_markdown, history_messages
from index.loaders import SUPPORTED_SUFFIXES
from index.records import IndexReport
from ui import html_view
from ui.api_args import checked, files_input, refused
from ui.http_guards import add_http_guards
from ui.openai_routes import openai_routes

STYLE = Path(__file__).with_name("style.css")
# System fonts only: the default theme's web fonts would be a request to an outside host.
THEME = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
# Clicks in the conversation: a [n] marker opens its citation (in the browser); "Open the whole document"
# asks the server for the document view; a thumb asks for an optional comment and records the rating. Only elements this app rendered carry these classes.
CONVERSATION_JS = """
element.addEventListener('click', (event) => {
  const marker = event.target.closest('a.marker');
  if (marker) {
    event.preventDefault();
    const citation = element.querySelector('#' + CSS.escape(marker.getAttribute('href').slice(1)));
    if (citation) { citation.open = true; citation.scrollIntoView({block: 'nearest'}); }
    return;
  }
  const rate = event.target.closest('button.rate');
  if (rate) {
    const comment = window.prompt(rate.dataset.rating === 'up' ? 'Good answer. A comment? (optional)'
                                                               : 'What is wrong with it? (optional)', '');
    if (comment !== null) trigger('click', {turn: rate.dataset.turn, rating: rate.dataset.rating, comment});
    return;
  }
  const copy = event.target.closest('button.copy');
  if (copy) {  // the answer with its sources and quotes, as /v1 gives it
    navigator.clipboard.writeText(copy.dataset.copy).then(() => {
      copy.textContent = 'Copied';
      setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
    });
    return;
  }
  const opener = event.target.closest('button.open-document');
  if (opener) trigger('click', {turn: opener.dataset.turn, n: opener.dataset.n, view: opener.dataset.view || 'text'});
});
// Esc while a question is being answered or waits: Cancel.
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && element.querySelector('.turn.pending')) document.querySelector('#cancel')?.click();
});
// When a question is asked (a new turn appears), the conversation scrolls to it: the panel scrolls by itself.
let turns = 0;
new MutationObserver(() => {
  const all = element.querySelectorAll('.turn');
  if (all.length > turns) {
    const panel = element.closest('#conversation');
    panel.scrollTop += all[all.length - 1].getBoundingClientRect().top - panel.getBoundingClientRect().top;
  }
  turns = all.length;
}).observe(element, {childList: true, subtree: true});
"""
SCROLL_TO_QUOTE_JS = ("() => document.querySelector('#document-viewer mark.cited, #document-viewer mark.page-highlight')"
                      "?.scrollIntoView({block: 'center'})")
EMPTY_CHAT = '<div class="placeholder">Ask a question about your documents. Every answer cites the exact ' \
             "sentences it comes from: open a citation to see it in its document.</div>"
BACKENDS = ["local", "openai", "transformers", "none"]
# Questions (chat and /ask) answered at once. Those that need the model then wait in its line (WaitingLine),
# where they are told their place; searching and extractive answers run side by side.
ANSWERS_AT_ONCE = {"concurrency_id": "answers", "concurrency_limit": 32}
_HISTORY = TypeAdapter(list[Message])


def build_app(services: Services, watch: bool = False) -> gr.Blocks:
    settings = services.settings
    collections = Collections(services)
    choices = collections.get(None).answerers  # the settings panel's defaults
    library = collections.get(None).library  # the default collection: watched folders, /documents ...
    if watch:
        library.start_watching()
    downloads = Path(tempfile.mkdtemp(prefix="assistant-conversations-"))

    def transcript_file(answers: list[Answer]) -> Path:
        path = Path(tempfile.mkdtemp(dir=downloads)) / "conversation.md"
        path.write_text(conversation_markdown(answers), encoding="utf-8")
        return path

    def collection_of(name: str | None, create: bool = False) -> Collection:
        """The collection a call names; only an upload (create=True) may start one."""
        try:
            return collections.get(name, create)
        except ValueError as exc:
            raise refused(str(exc)) from None

    # ----- chat ---------------------------------------------------------------------------------------

    def chat(question: str, answers: list[Answer], llm: str, model: str, passages: float, show_scores: bool,
             only: list[str] | None, conversation_id: str | None, collection: str | None, request: gr.Request):
        """Outputs: the conversation, the answers, the question box, the download, the saved conversation's id,
        the list of saved conversations and the question being answered (for Cancel to give it back). Each
        answer is saved as soon as it is checked."""
        question = question.strip()
        if not question:
            raise refused("Type a question first.")
        opened = collection_of(collection)
        try:
            scope = opened.services.scope(only)
        except ValueError as exc:  # a picked document removed meanwhile
            raise refused(str(exc)) from None
        earlier = html_view.conversation_html(answers, show_scores, opened.library.cited_text)
        sources, written, waiting, found = [], "", None, None
        unchanged = (gr.skip(), gr.skip(), gr.skip())  # the download, the conversation's id, the saved list
        name = opened.library.display_name  # an upload by its file name
        yield (earlier + html_view.pending_html(len(answers), question, sources, written, name=name), answers, "",
               *unchanged, question)
        try:
            answerer = opened.answerers.get(llm, model, int(passages))  # may load a model: seconds, once
            for event in answerer.stream(question, history_messages(answers), scope=scope):
                waiting = event if isinstance(event, WaitingEvent) else None
                if isinstance(event, SourcesEvent):
                    sources = event.citations
                elif isinstance(event, FoundEvent):
                    found = event
                elif isinstance(event, TokenEvent):
                    written += event.text
                elif isinstance(event, AnswerEvent):
                    answers = answers + [event.answer]
                    conversation_id = services.conversations.save(conversation_id, answers, request.username,
                                                                  opened.services.settings.collection)
                    shown = earlier + html_view.answer_html(len(answers) - 1, event.answer, show_scores,
                                                            opened.library.cited_text)
                    download_now = gr.DownloadButton(value=transcript_file(answers), interactive=True)
                    yield (shown, answers, gr.skip(), download_now, conversation_id,
                           saved_list(request, conversation_id), "")
                    return
                pending = html_view.pending_html(len(answers), question, sources, written, waiting, name, found,
                                                 opened.library.cited_text)
                yield earlier + pending, answers, gr.skip(), *unchanged, gr.skip()
        except Exception as exc:  # e.g. a model that fails to load: say why, give the question back
            yield earlier or EMPTY_CHAT, answers, question, *unchanged, ""
            raise refused(str(exc)) from None

    def cancelled(answers: list[Answer], show_scores: bool, collection: str | None, asked: str):
        """After Cancel: the conversation without the unanswered question, which goes back in the box."""
        return rerender(answers, show_scores, collection), asked or gr.skip(), ""

    # ----- saved conversations ------------------------------------------------------------------------

    def saved_list(request: gr.Request, chosen: str | None = None):
        summaries = services.conversations.summaries(request.username)
        labels = [f"{c.title} ({c.updated[:16].replace('T', ' ')} UTC, {c.turns} answer{'s' * (c.turns != 1)})"
                  for c in summaries]
        return gr.Dropdown(choices=list(zip(labels, [c.id for c in summaries])), value=chosen)

    def open_saved(chosen: str | None, show_scores: bool, request: gr.Request):
        if not chosen:
            raise refused("Pick a saved conversation first.")
        try:
            saved = services.conversations.get(chosen, request.username)
        except ConversationNotFound as exc:
            raise refused(str(exc)) from None
        opened = collection_of(saved.collection)
        answers = opened.library.relocated(saved.answers)  # each citation says whether its quote is still there
        return (html_view.conversation_html(answers, show_scores, opened.library.cited_text) or EMPTY_CHAT, answers,
                gr.DownloadButton(value=transcript_file(answers), interactive=bool(answers)), saved.id,
                opened.services.settings.collection)

    def rename_saved(chosen: str | None, name: str, request: gr.Request):
        try:
            services.conversations.rename(chosen or "", request.username, name)
        except ValueError as exc:
            raise refused(str(exc)) from None
        return saved_list(request, chosen), ""

    def delete_saved(chosen: str | None, current: str | None, request: gr.Request):
        try:
            services.conversations.delete(chosen or "", request.username)
        except ValueError as exc:
            raise refused(str(exc)) from None
        return saved_list(request), None if current == chosen else current

    def conversation_clicked(answers: list[Answer], collection: str | None, event: gr.EventData,
                             request: gr.Request):
        turn = int(event._data["turn"])
        if "rating" in event._data:
            try:  # the answer is the server's own (the chat's state), not a client's
                services.feedback.record(answers[turn], event._data["rating"], str(event._data.get("comment") or ""),
                                         history_messages(answers[:turn]), user=request.username, given_here=True)
            except ValueError as exc:  # e.g. a comment over max_comment_chars
                raise refused(str(exc)) from None
            gr.Info("Thank you: the rating is saved (`assistant feedback --export` turns ratings into a test set).")
            return gr.skip()
        n = int(event._data["n"])
        citation = next(c for c in answers[turn].citations if c.n == n)
        library = collection_of(collection).library
        if event._data.get("view") == "page":
            try:
                return html_view.page_html(citation, library.cited_page(citation))
            except PageUnavailable as unavailable:
                return html_view.page_html(citation, None, str(unavailable))
        return html_view.document_html(citation, library.cited_text(citation))

    def rerender(answers: list[Answer], show_scores: bool, collection: str | None) -> str:
        if not answers:  # e.g. a new collection's name typed: nothing to look up in it
            return EMPTY_CHAT
        return html_view.conversation_html(answers, show_scores, collection_of(collection).library.cited_text) \
            or EMPTY_CHAT

    # ----- API (gradio_client) and documents ---------------------------------------------------------

    @checked
    def ask(question: str, history: list[dict] | None = None, sources: list[str] | None = None,
            collection: str | None = None) -> dict:
        """Answer a question from the indexed documents; returns the same object as `assistant ask --json`.
        history: earlier turns, a list of {"role": "user"|"assistant", "content": "..."}.
        sources: limit the question to these documents or folders (as /documents lists them); empty: all.
        collection: which collection to search (empty: the default one)."""
        try:
            messages = _HISTORY.validate_python(history or [])
        except ValidationError:
            raise refused('history must be a list of {"role": "user"|"assistant", "content": "..."} objects')
        opened = collection_of(collection)
        return opened.services.answerer.ask(question, messages, scope=opened.services.scope(sources)).model_dump()

    @checked
    def feedback(answer: dict, rating: str, comment: str = "", history: list[dict] | None = None,
                 request: gr.Request = None) -> int:
        """Rate an answer (the object /ask returned, unchanged: it carries this server's signature): rating "up"
        or "down", an optional comment, and the turns before its question. Returns the rating's number;
        `assistant feedback --export` writes them out."""
        try:
            rated, turns = Answer.model_validate(answer), _HISTORY.validate_python(history or [])
        except ValidationError as exc:
            raise refused(f"not a rating of an answer: {exc.errors()[0]['msg']}") from None
        return services.feedback.record(rated, rating, comment, turns, user=request.username if request else None)

    @checked
    def documents(collection: str | None = None) -> list[dict]:
        """The indexed documents, as `assistant docs --json` lists them (of a collection; empty: the default)."""
        return [doc.model_dump() for doc in collection_of(collection).library.documents()]

    @checked
    def remove(source: str | None, collection: str | None = None, request: gr.Request = None) -> list[str]:
        """Remove a document by its source as /documents lists it, or every document under a folder written as
        their sources begin (e.g. "reports/2024"); returns the sources removed. Nothing matches by accident: an
        empty target, "/", "." or a folder above the server's working folder is refused."""
        if source is None:
            raise refused("Choose the document to remove first.")
        removed = collection_of(collection).library.remove(source, by=_who(request))
        if not removed:
            raise refused(f"no indexed document matches {source!r}; /documents lists them")
        return removed

    @checked
    def upload(files: list[str] | None, collection: str | None = None,
               progress=gr.Progress(track_tqdm=True)) -> dict:
        if not files:
            raise refused("Choose one or more files to add first.")
        # ValueError (e.g. more files than max_upload_files) becomes the one-line error: it says what to do.
        return collection_of(collection, create=True).library.add(files).model_dump()

    @checked
    def reindex(collection: str | None = None, progress=gr.Progress(track_tqdm=True)) -> dict:
        if collection_of(collection) is not collection_of(None):
            raise refused(f"The configured folders ({', '.join(settings.sources)}) belong to the collection "
                           f"{collections.default}; the other collections hold what is uploaded to them.")
        return library.reindex().model_dump()

    def documents_view(collection: str | None):
        try:
            docs = collections.get(collection).library.documents()
        except UnknownCollection:  # a new name typed: empty until something is added to it
            docs = []
        except ValueError as exc:  # a name that cannot be one
            raise refused(str(exc)) from None
        sources = [doc.source for doc in docs]
        return ([[doc.source, doc.chunks, doc.indexed_at] for doc in docs], gr.Dropdown(choices=sources, value=None),
                gr.Dropdown(choices=sources))  # the chat's scope keeps what is picked

    def collections_view(chosen: str | None):
        return gr.Dropdown(choices=collections.names(), value=chosen or collections.default)

    def report_view(report: dict) -> str:
        return html_view.report_html(IndexReport.model_validate(report))

    def index_status(shown: int):
        """The watched folders' status line, redrawn only when the library recorded something new."""
        if library.watch_events == shown:
            return gr.skip(), shown
        return (html_view.index_status_html(settings.sources, library.last_change, library.last_problem),
                library.watch_events)

    with gr.Blocks(title="Cited assistant") as app:
        answers_state = gr.State([])
        asked = gr.State("")  # the question being answered, until its answer is shown
        conversation_id = gr.State(None)  # the saved conversation the chat continues (None: not saved yet)
        collection = gr.Dropdown(collections.names(), value=collections.default, allow_custom_value=True,
                                 label="Collection", info="each has its own documents; type a new name to start one",
                                 elem_id="collection")
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=4):
                    conversation = gr.HTML(EMPTY_CHAT, js_on_load=CONVERSATION_JS, elem_id="conversation")
                    with gr.Row():
                        question = gr.Textbox(placeholder="Ask about your documents…", show_label=False,
                                              scale=6, elem_id="question", autofocus=True)
                        ask_button = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                        cancel_button = gr.Button("Cancel", scale=1, elem_id="cancel")
                    with gr.Row():
                        new_chat = gr.Button("New chat", size="sm", elem_id="new-chat")
                        download = gr.DownloadButton("Download as Markdown", size="sm", interactive=False,
                                                     elem_id="download")
                    if watch:
                        status = gr.HTML(html_view.index_status_html(settings.sources, None, None),
                                         elem_id="index-status")
                        status_shown = gr.State(0)
                        gr.Timer(2).tick(index_status, status_shown, [status, status_shown], queue=False,
                                         api_visibility="private", show_progress="hidden")
                    viewer = gr.HTML(elem_id="document-viewer")
                with gr.Column(scale=1, min_width=220):
                    with gr.Accordion("Conversations", open=True):
                        saved = gr.Dropdown([], label="Saved conversations", info="newest first",
                                            elem_id="saved-conversations")
                        with gr.Row():
                            open_button = gr.Button("Open", size="sm", elem_id="open-conversation")
                            delete_button = gr.Button("Delete", size="sm", variant="stop",
                                                      elem_id="delete-conversation")
                        with gr.Row():
                            new_name = gr.Textbox(placeholder="New name", show_label=False, scale=3,
                                                  elem_id="conversation-name")
                            rename_button = gr.Button("Rename", size="sm", scale=1, elem_id="rename-conversation")
                    with gr.Accordion("Settings", open=True):
                        backend = gr.Dropdown(BACKENDS, value=settings.llm, label="Answer writer",
                                              info="none: quote the best sentences, no model")
                        model = gr.Dropdown(["default", "small"], value=settings.model, allow_custom_value=True,
                                            label="Model", info="local: default (1.5B), small (0.5B) or a "
                                                                ".gguf path; transformers: a folder")
                        passages = gr.Slider(1, 20, value=choices.default_passages(settings.llm), step=1,
                                             label="Sentences", info="the model reads at most (quotes, without one)")
                        show_scores = gr.Checkbox(False, label="Show scores")
                        only = gr.Dropdown([], multiselect=True, label="Only these documents",
                                           info="empty: search all of them", elem_id="scope")
        with gr.Tab("Documents") as documents_tab:
            # No file_types filter: gradio would refuse a whole batch for one odd file; the report names it.
            files = files_input(label=f"Add documents ({', '.join(SUPPORTED_SUFFIXES)})",
                            elem_id="upload-files")
            with gr.Row():
                add_button = gr.Button("Add and index", variant="primary", elem_id="add-documents")
                reindex_button = gr.Button(f"Re-index {', '.join(settings.sources)}", elem_id="reindex")
            report = gr.HTML(elem_id="index-report")
            report_json = gr.JSON(visible=False)
            table = gr.Dataframe(headers=["document", "chunks", "indexed at"], datatype=["str", "number", "str"],
                                 interactive=False, elem_id="documents-table")
            with gr.Row():
                to_remove = gr.Dropdown([], label="Document to remove", scale=4, elem_id="remove-choice")
                remove_button = gr.Button("Remove", variant="stop", scale=1, elem_id="remove")
            removed_json = gr.JSON(visible=False)

        # Registered first so they own their names: the page's own events reuse some of these functions.
        gr.api(ask, api_name="ask", **ANSWERS_AT_ONCE)
        gr.api(documents, api_name="documents")
        gr.api(feedback, api_name="feedback")
        writes = {"concurrency_id": "index-writes", "concurrency_limit": 1}  # one write at a time, queued
        gr.api(remove, api_name="remove", **writes)  # by source, not limited to the page's dropdown choices

        chat_inputs = [question, answers_state, backend, model, passages, show_scores, only, conversation_id,
                       collection]
        chat_outputs = [conversation, answers_state, question, download, conversation_id, saved, asked]
        answering = [trigger(chat, chat_inputs, chat_outputs, api_visibility="private", show_progress="hidden",
                             **ANSWERS_AT_ONCE) for trigger in (question.submit, ask_button.click)]
        for trigger in (question.submit, ask_button.click):  # a new question closes the last one's document view
            trigger(lambda: "", outputs=viewer, queue=False, api_visibility="private", show_progress="hidden")
        cancel_button.click(cancelled, [answers_state, show_scores, collection, asked], [conversation, question, asked],
                            cancels=answering, api_visibility="private", queue=False)
        new_chat.click(lambda: (EMPTY_CHAT, [], "", gr.DownloadButton(value=None, interactive=False), None),
                       outputs=[conversation, answers_state, viewer, download, conversation_id],
                       api_visibility="private")
        open_button.click(open_saved, [saved, show_scores],
                          [conversation, answers_state, download, conversation_id, collection],
                          api_visibility="private")
        rename_button.click(rename_saved, [saved, new_name], [saved, new_name], api_visibility="private")
        delete_button.click(delete_saved, [saved, conversation_id], [saved, conversation_id], api_visibility="private")
        app.load(saved_list, outputs=saved, api_visibility="private")
        conversation.click(conversation_clicked, [answers_state, collection], viewer, api_visibility="private").then(
            js=SCROLL_TO_QUOTE_JS)
        show_scores.change(rerender, [answers_state, show_scores, collection], conversation, api_visibility="private")
        # Another collection: a new chat there (a follow-up must not search what the last answer did not).
        collection.input(lambda: (EMPTY_CHAT, [], gr.DownloadButton(value=None, interactive=False), None),
                         outputs=[conversation, answers_state, download, conversation_id], api_visibility="private")
        collection.change(documents_view, collection, [table, to_remove, only], api_visibility="private")
        backend.change(lambda llm: gr.Slider(value=choices.default_passages(llm)), backend, passages,
                       api_visibility="private")

        def then_show(write, render, result):
            """After a write succeeds: show what it did, then the refreshed documents table."""
            return write.success(render, result, report, api_visibility="private").then(
                documents_view, collection, [table, to_remove, only], api_visibility="private").then(
                collections_view, collection, collection, api_visibility="private")

        then_show(add_button.click(upload, [files, collection], report_json, api_name="upload",
                                   show_progress_on=[report], **writes), report_view, report_json).then(
            lambda: None, outputs=files, api_visibility="private")
        then_show(reindex_button.click(reindex, collection, report_json, api_name="reindex", show_progress_on=[report],
                                       **writes), report_view, report_json)
        then_show(remove_button.click(remove, [to_remove, collection], removed_json, api_visibility="private",
                                      **writes), html_view.removed_html, removed_json)
        for refresh in (app.load, documents_tab.select):
            refresh(documents_view, collection, [table, to_remove, only], api_visibility="private")
        app.load(collections_view, collection, collection, api_visibility="private")
    return app


def launch(services: Services, host: str, port: int, auth: tuple[str, str] | None, block: bool = True,
           watch: bool = False, api_keys: list[str] | None = None):
    """Start the web app and the OpenAI-compatible API; returns (app, local URL). With block=False it runs in the
    background (tests). watch=True re-indexes the configured sources on every change and shows it in the chat
    (serve --watch). api_keys: what /v1 requests must present (required when host is not loopback)."""
    app = build_app(services, watch).queue()
    # Whose X-Forwarded-For names the client: uvicorn (which gradio starts) reads this when the server is made,
    # and by default trusts loopback, so any local client could pick its own address past the login throttle.
    os.environ["FORWARDED_ALLOW_IPS"] = ",".join(services.settings.trusted_proxies)
    server, url, _ = app.launch(server_name=host, server_port=port, auth=auth, prevent_thread_lock=True,
                                show_error=True, ssr_mode=False, share=False, inbrowser=False, footer_links=["api"],
                                quiet=True,  # no "Running on ..." and share-link hints: the caller says where it is
                                max_file_size=int(services.settings.max_file_mb * 1e6), theme=THEME,
                                css_paths=[STYLE],
                                app_kwargs={"routes": openai_routes(services, api_keys or [], is_loopback(host),
                                                                    auth)})
    add_http_guards(server, services.settings, login=auth is not None, api_keys=bool(api_keys))
    if block:
        app.block_thread()
    return app, url


def _who(request: gr.Request | None) -> str:
    """Who asked for a change, for the log: the login's user, else the client's address."""
    if request is None:
        return "unknown"
    client = request.client.host if request.client else "unknown address"
    return f"{request.username} at {client}" if request.username else client
