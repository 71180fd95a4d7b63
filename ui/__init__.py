"""The web chat: Gradio layout (app.py) and its HTML (html_view.py). Presentation only: answering, indexing and
uploads are the services the CLI and the HTTP API call (assistant.services, assistant.library)."""
