"""The Gradio API's arguments, checked at the door: each by its annotation (pydantic, strict: an int is not a
question, a string is not a list of sources), every string cleaned of what cannot be encoded, and what a
client got wrong said in one line (gr.Error) instead of a Python message and a traceback in the log."""

from __future__ import annotations

import functools
import inspect
import typing

import gradio as gr
from gradio.data_classes import ListFiles
from pydantic import TypeAdapter, ValidationError

from assistant.inputs import clean_text

# Arguments gradio fills itself (the request, a progress tracker): not the client's to send.
_GRADIO_FILLED = (gr.Request, gr.Progress)


def refused(message: str) -> gr.Error:
    """What the person or client asking got wrong, in one line; no traceback in the server's log (gradio
    prints one for every gr.Error unless told not to): the request was refused, nothing failed."""
    return gr.Error(" ".join(message.split()), print_exception=False)


def checked(function):
    """The function, with its arguments validated and cleaned first and a ValueError from it (a refused
    question, an unknown collection...) turned into the one-line error the client sees."""
    signature = inspect.signature(function)
    hints = typing.get_type_hints(function)
    adapters = {name: TypeAdapter(hint) for name, hint in hints.items()
                if name != "return" and not (isinstance(hint, type) and issubclass(hint, _GRADIO_FILLED))}

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        bound = signature.bind_partial(*args, **kwargs)
        for name, value in bound.arguments.items():
            if name in adapters:
                bound.arguments[name] = _validated(name, adapters[name], value)
        try:
            return function(*bound.args, **bound.kwargs)
        except ValueError as exc:
            raise refused(str(exc)) from None

    return wrapper


def _validated(name: str, adapter: TypeAdapter, value: object) -> object:
    try:
        return adapter.validate_python(_cleaned(value), strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(map(str, (name, *error["loc"])))
        raise refused(f"{where}: {error['msg']} (got {type(value).__name__})") from None


def _cleaned(value: object) -> object:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_cleaned(item) for item in value]
    if isinstance(value, dict):
        return {_cleaned(key): _cleaned(item) for key, item in value.items()}
    return value


class _Uploads(ListFiles):
    """The files of an upload as gradio reads them, with a client's wrong payload refused in one line (gradio
    validates a component's payload before any function of ours runs, and prints a traceback when it fails)."""

    @classmethod
    def model_validate(cls, obj, *args, **kwargs):
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError:
            raise refused(f"files: give a list of uploaded files, not {type(obj).__name__} (with gradio_client: "
                          "[handle_file(path), ...])") from None


def files_input(**kwargs) -> gr.File:
    """gr.File (several files) for the upload endpoint, refusing a payload that is not files in one line. (Not a
    subclass: gradio writes a .pyi stub beside the module of every component subclass.)"""
    files = gr.File(file_count="multiple", **kwargs)
    files.data_model = _Uploads
    return files
