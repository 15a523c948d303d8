"""The detection config form: one field per value of ``DetectionParams``, built from it.

The declaration in ``detection.config`` says each parameter's type, bounds, help text and
admin section; this module flattens it (nested structs become dotted keys) and derives a form
field from each value's type, once, when the module is imported. The form judges nothing
itself: ``clean`` reads the fields back through ``DetectionParams.from_stored``, and puts each
problem on the field of the parameter it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal, get_args, get_origin

import msgspec
from django import forms
from msgspec import Meta

from detection.config import DetectionParams, ParamsError
from detection.models import DetectionConfig


@dataclass(frozen=True)
class ParamField:
    """One value of ``DetectionParams`` as the config form edits it.

    ``key`` is its dotted place in the declaration (``signals.model_pivot.weight``); the
    form field is named after it (``signals__model_pivot__weight``). ``line`` groups the values
    the admin draws on one line: the three numbers of one signal.
    """

    key: str
    kind: Any
    bounds: dict[str, float]
    label: str
    help_text: str
    section: str
    line: str

    @property
    def name(self) -> str:
        return self.key.replace(".", "__")

    def get(self, params: DetectionParams) -> Any:
        value = params
        for part in self.key.split("."):
            value = getattr(value, part)
        return value


def _unwrap(annotation: Any) -> tuple[Any, dict[str, float], str, str]:
    """An ``Annotated`` declaration as (type, bounds, help text, section)."""
    kind, metas = annotation, []
    if get_origin(annotation) is Annotated:
        kind, *metas = get_args(annotation)
    bounds, help_text, section = {}, "", ""
    for meta in metas:
        if isinstance(meta, Meta):
            for bound in ("ge", "gt", "le", "lt"):
                if getattr(meta, bound) is not None:
                    bounds[bound] = getattr(meta, bound)
            help_text = meta.description or help_text
            section = (meta.extra or {}).get("section", section)
    return kind, bounds, help_text, section


def _is_struct(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def param_fields(
    struct: type = DetectionParams, prefix: str = "", section: str = ""
) -> list[ParamField]:
    """Every value of the declaration, in declaration order, nested structs flattened.

    A struct of numbers (a signal's weight, threshold and saturation) is one line, labelled
    with the struct's own name and help; a struct of lists (the capability groups) gives one
    field per list.
    """
    out = []
    for info in msgspec.structs.fields(struct):
        kind, bounds, help_text, own_section = _unwrap(info.type)
        key, section_ = prefix + info.name, own_section or section
        if not _is_struct(kind):
            label = info.name.replace("_", " ").capitalize()
            out.append(ParamField(key, kind, bounds, label, help_text, section_, key))
            continue
        inner = param_fields(kind, key + ".", section_)
        if all(_unwrap(i.type)[0] in (int, float) for i in msgspec.structs.fields(kind)):
            for i, f in enumerate(inner):
                # The Signals table (change_form.html) shows the first label and help only,
                # as its row heading; the others name the signal for error messages.
                label, text = (
                    (info.name, help_text)
                    if i == 0
                    else (f"{info.name} {f.key[len(key) + 1 :]}", "")
                )
                out.append(ParamField(f.key, f.kind, f.bounds, label, text, f.section, key))
        else:
            group = info.name.replace("_", " ").capitalize()
            out += [
                replace(f, label=f"{group}: {f.label.lower()}") if f.line == f.key else f
                for f in inner
            ]
    return out


class LinesField(forms.CharField):
    """A tuple of strings, one per line (blank lines ignored)."""

    widget = forms.Textarea(attrs={"rows": 10, "cols": 100})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, tuple | list) else value

    def to_python(self, value) -> tuple[str, ...]:
        return tuple(line.strip() for line in (value or "").splitlines() if line.strip())


class WholeNumbersField(forms.CharField):
    """A tuple of whole numbers, separated by commas, spaces or new lines."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 100})

    def prepare_value(self, value):
        return ", ".join(map(str, value)) if isinstance(value, tuple | list) else value

    def to_python(self, value) -> tuple[int, ...]:
        words = [w for w in re.split(r"[,\s]+", value or "") if w]
        bad = [w for w in words if not re.fullmatch(r"-?\d+", w)]
        if bad:
            raise forms.ValidationError(f"Not a whole number: {', '.join(bad[:5])}")
        return tuple(int(w) for w in words)


def _form_field(param: ParamField) -> forms.Field:
    """The form field for one declared value; the declaration alone judges the value (the
    bounds only go to the browser as ``min``/``max`` hints)."""
    common = {"label": param.label, "help_text": param.help_text}
    limits = {
        "min": param.bounds.get("ge", param.bounds.get("gt")),
        "max": param.bounds.get("le", param.bounds.get("lt")),
    }
    attrs = {k: v for k, v in limits.items() if v is not None}
    if param.line != param.key:  # a cell of the Signals table, whose label is not drawn
        attrs["aria-label"] = param.key.split(".", 1)[-1].replace(".", " ")
    if param.kind is bool:
        return forms.BooleanField(required=False, **common)
    if param.kind is int:
        return forms.IntegerField(widget=forms.NumberInput(attrs=attrs), **common)
    if param.kind is float:
        attrs["step"] = "any"
        return forms.FloatField(widget=forms.NumberInput(attrs=attrs), **common)
    if get_origin(param.kind) is Literal:
        choices = [(c, c) for c in get_args(param.kind)]
        return forms.ChoiceField(choices=choices, **common)
    item = get_args(param.kind)[0] if get_origin(param.kind) is tuple else None
    if _unwrap(item)[0] is int:
        return WholeNumbersField(required=False, **common)
    if item is str:
        return LinesField(required=False, **common)
    raise TypeError(f"no form field for {param.key}: {param.kind!r}")


PARAM_FIELDS = param_fields()
# The form's fields, one per declared value: a plain form class built once from the
# declaration, which the config form below inherits.
DetectionParamsFields = type(forms.Form)(
    "DetectionParamsFields", (forms.Form,), {p.name: _form_field(p) for p in PARAM_FIELDS}
)


class DetectionConfigForm(DetectionParamsFields, forms.ModelForm):
    """Edit a version's parameters; saving always writes a new version.

    Every parameter of ``DetectionParams`` is a field of its own, with the declaration's
    help text; ``clean`` reads them back through ``DetectionParams.from_stored``, so a form
    that validates holds a usable ``DetectionParams`` in ``cleaned_data["params"]``.
    """

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="Why this change (kept with it)."
    )

    class Meta:
        model = DetectionConfig
        fields = ["reason"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        params = (
            DetectionParams.from_stored(self.instance.params)
            if self.instance.pk
            else DetectionParams()
        )
        for param in PARAM_FIELDS:
            self.initial[param.name] = param.get(params)
        # A new version needs its own reason: never offer the previous version's.
        self.initial["reason"] = ""

    def clean(self):
        cleaned = super().clean()
        if any(p.name not in cleaned for p in PARAM_FIELDS):
            return cleaned  # the fields that did not parse carry their own errors
        stored: dict[str, Any] = {}
        for param in PARAM_FIELDS:
            *parents, last = param.key.split(".")
            node = stored
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = cleaned[param.name]
        try:
            cleaned["params"] = DetectionParams.from_stored(stored)
        except ParamsError as exc:
            for problem in exc.problems:
                name = re.sub(r"\[\d+\]$", "", problem.key).replace(".", "__")
                if name in self.fields:
                    self.add_error(name, problem.message)
                else:
                    self.add_error(None, str(problem))
        return cleaned
