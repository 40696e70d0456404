"""Planning: the pure builder, the Plan values, their renderers and saved plan files.

``build_plan(PlanInput(...))`` compares desired resources with state and live objects and
returns a :class:`Plan`; ``render_text`` / ``render_json`` / ``render_markdown`` show it;
``save_plan`` / ``load_plan`` keep it between ``plan --out FILE`` and ``apply FILE``.

The builder, renderers and plan file are imported lazily: ``reconciler.diff`` needs
``reconciler.plan.model`` and the builder needs ``reconciler.diff``, so importing them here
eagerly would make a cycle.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reconciler.plan.model import Action, Change, FieldChange, Plan, value_from_json, value_to_json

if TYPE_CHECKING:
    from reconciler.plan.builder import PlanInput, ProviderView, build_plan, delete_order
    from reconciler.plan.planfile import load_plan, save_plan
    from reconciler.plan.render import render_json, render_markdown, render_text, summary_line
    from reconciler.plan.summary import summarize

_LAZY = {
    "PlanInput": "builder",
    "ProviderView": "builder",
    "build_plan": "builder",
    "delete_order": "builder",
    "load_plan": "planfile",
    "save_plan": "planfile",
    "render_json": "render",
    "render_markdown": "render",
    "render_text": "render",
    "summary_line": "render",
    "summarize": "summary",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reconciler.plan' has no attribute {name!r}")
    return getattr(importlib.import_module(f"reconciler.plan.{module}"), name)


__all__ = [
    "Action",
    "Change",
    "FieldChange",
    "Plan",
    "PlanInput",
    "ProviderView",
    "build_plan",
    "delete_order",
    "load_plan",
    "render_json",
    "render_markdown",
    "render_text",
    "save_plan",
    "summarize",
    "summary_line",
    "value_from_json",
    "value_to_json",
]
