"""The public endpoints' components, as the app's "Use via API" page shows them: `predict`'s
image input whose example is a sky photo, the optional place, hour, prior and profile, and a
JSON output described field by field from the Verdict dataclass (a field added there shows up
here without a second list); `air`'s place and hour. Every one has a label (Gradio names a
label-less one parameter_<id> or value_<id>) and an example a caller could send.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import gradio as gr
from gradio_client import handle_file

from airken.examples import EXAMPLES_DIR

EXAMPLE_PHOTO = str(EXAMPLES_DIR / "clear-mountains-picos-de-europa.jpg")  # absolute: works from any folder
C = TypeVar("C", bound=gr.components.Component)
_JSON_TYPES = {str: "string", float: "number", int: "integer", bool: "boolean", type(None): "null"}


def _with_example(component: C, value: Any) -> C:
    """The value the "Use via API" page and its snippets show, instead of Gradio's 3 and "Hello!!".
    (Methods are set on the instance: a subclass would make Gradio write a .pyi stub.)"""
    component.example_payload = lambda: value
    component.example_value = lambda: value
    return component


def photo_input() -> gr.Image:
    """A hidden image input whose API example is one of the app's sky photos, not Gradio's bus.
    Its "url" is the same absolute path: the snippets then upload it with handle_file(path)
    (a server-side path alone is refused by Gradio: the file was not uploaded)."""
    component = gr.Image(type="filepath", visible=False, label="Photo of the sky")
    return _with_example(component, {**handle_file(EXAMPLE_PHOTO), "url": EXAMPLE_PHOTO})


def where_inputs() -> list[gr.components.Component]:
    """Hidden optional inputs: where (latitude, longitude) and when (ISO 8601) the photo was
    taken, for a photo whose EXIF does not say (airken.airmodel.report)."""
    time = gr.Textbox(None, visible=False, label="Time the photo was taken (ISO 8601)")
    return [*_coordinates(), _with_example(time, "2025-05-01T14:00")]


def _coordinates() -> list[gr.Number]:
    return [_with_example(gr.Number(None, visible=False, label="Latitude (decimal degrees, rounded to 0.1)"), 45.46),
            _with_example(gr.Number(None, visible=False, label="Longitude (decimal degrees, rounded to 0.1)"), 9.19)]


def verdict_inputs() -> list[gr.components.Component]:
    """Hidden optional inputs: a class prior instead of the air model, and a calibration profile."""
    prior = gr.Textbox(None, visible=False, label='Class prior instead of the air model: "world", "uniform", "train" '
                                                  'or three shares "healthy,moderate,danger"')
    return [_with_example(prior, "world"),
            _with_example(gr.Textbox(None, visible=False, label="Calibration profile: its JSON (from airken "
                                                                "calibrate)"), None)]


def air_inputs() -> list[gr.components.Component]:
    """The air endpoint's inputs: a place (coordinates or a name) and an hour."""
    return [*_coordinates(),
            _with_example(gr.Textbox(None, visible=False, label="Time (ISO 8601, default now)"), None),
            _with_example(gr.Textbox(None, visible=False, label="A place name instead of coordinates"), None)]


def air_output() -> gr.JSON:
    """A hidden JSON output with a name: Gradio calls a label-less one value_<id>."""
    return gr.JSON(visible=False, label="Modelled PM2.5 (airken air --json)")


def verdict_output() -> gr.JSON:
    """A hidden JSON output that tells API callers the shape of Verdict.to_dict()."""

    component = gr.JSON(visible=False, label="Verdict")
    # Gradio asks for it again with every call's session config: work it out once.
    component.api_info = lambda: copy.deepcopy(verdict_schema())
    return component


@functools.cache
def verdict_schema() -> dict[str, Any]:
    """JSON schema of Verdict.to_dict() (cached: a caller that changes it must copy it first)."""
    from airken.core.verdict import Verdict

    return json_schema(Verdict)


def json_schema(hint: Any) -> dict[str, Any]:
    """The JSON schema of a type hint (str, float, bool, Mapping[str, X], tuple[X, ...], X | None,
    or a dataclass, described by its own fields)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        names = hint.serialised_fields() if hasattr(hint, "serialised_fields") else [
            f.name for f in dataclasses.fields(hint)]
        return {"type": "object", "properties": {n: json_schema(hints[n]) for n in names}, "required": names}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [json_schema(a) for a in args]}
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return {"type": "object", "additionalProperties": json_schema(args[1]) if args else {}}
    if origin in (list, tuple):
        return {"type": "array", "items": json_schema(args[0]) if args else {}}
    return {"type": _JSON_TYPES[hint]} if hint in _JSON_TYPES else {}
