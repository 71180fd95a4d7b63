"""The web server: the Gradio chat (app.py), its HTML (html_view.py) and the OpenAI-compatible routes
(openai_routes.py). Presentation and HTTP plumbing only: answering, indexing and uploads are the services the
CLI calls (assistant.services, assistant.library, assistant.openai_api)."""
