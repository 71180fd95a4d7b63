"""The Gradio chat (not built yet): it will call the same services as the CLI (assistant.services)."""
