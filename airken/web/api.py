"""The public `/predict` endpoint's components, as the app's "Use via API" page shows them:
an image input whose example is a sky photo, the optional place and hour of the photo, and a
JSON output described field by field from the Prediction dataclass (so a field added there
shows up here without a second list).
"""
from __future__ import annotations

import copy
import functools
import types
import typing
from typing import Any

import gradio as gr
from gradio_client import handle_file

EXAMPLE_PHOTO = "assets/examples/clear-mountains-picos-de-europa.jpg"
_JSON_TYPES = {str: "string", float: "number", int: "integer", bool: "boolean", type(None): "null"}


def photo_input() -> gr.Image:
    """A hidden image input whose API example is one of the app's sky photos, not Gradio's bus.
    (Methods are set on the instance: a gr.Image subclass would make Gradio write a .pyi stub.)"""
    component = gr.Image(type="filepath", visible=False, label="Photo of the sky")
    component.example_payload = lambda: handle_file(EXAMPLE_PHOTO)
    component.example_value = lambda: EXAMPLE_PHOTO
    return component


def where_inputs() -> list[gr.components.Component]:
    """Hidden optional inputs: where (latitude, longitude) and when (ISO 8601) the photo was
    taken, for a photo whose EXIF does not say (airken.airmodel.report)."""
    return [gr.Number(None, visible=False, label="Latitude (decimal degrees, rounded to 0.1)"),
            gr.Number(None, visible=False, label="Longitude (decimal degrees, rounded to 0.1)"),
            gr.Textbox(None, visible=False, label="Time the photo was taken (ISO 8601)")]


def verdict_inputs() -> list[gr.components.Component]:
    """Hidden optional inputs: the class prior and a place profile (airken.core.prior, airken.core.profiles)."""
    return [gr.Textbox(None, visible=False, label='Class prior: "world" (default), "uniform", "train" or three shares '
                                                  '"healthy,moderate,danger"'),
            gr.Textbox(None, visible=False, label="Place profile: its JSON (from python -m airken calibrate)")]


def prediction_output() -> gr.JSON:
    """A hidden JSON output that tells API callers the shape of Prediction.to_dict()."""
    from airken.core.predictor import Prediction

    component = gr.JSON(visible=False, label="Prediction")
    # Gradio asks for it again with every call's session config: work it out once.
    component.api_info = lambda: copy.deepcopy(prediction_schema(Prediction))
    return component


@functools.cache
def prediction_schema(cls: type) -> dict[str, Any]:
    """JSON schema of Prediction.to_dict(), from the dataclass's own type hints (cached: a
    caller that changes it must copy it first)."""
    hints = typing.get_type_hints(cls)
    fields = cls.serialised_fields()
    return {"type": "object", "properties": {name: json_schema(hints[name]) for name in fields},
            "required": fields}


def json_schema(hint: Any) -> dict[str, Any]:
    """The JSON schema of a type hint (str, float, bool, dict[str, X], list[X], X | None)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [json_schema(a) for a in args]}
    if origin is dict or hint is dict:
        return {"type": "object", "additionalProperties": json_schema(args[1]) if args else {}}
    if origin in (list, tuple):
        return {"type": "array", "items": json_schema(args[0]) if args else {}}
    return {"type": _JSON_TYPES[hint]} if hint in _JSON_TYPES else {}
