"""Emulator of the MediaMath Execution & Management API v2.0 (DESIGN §7).

Mounted at ``/mediamath`` (standing for ``https://api.mediamath.com``); below it the real paths,
e.g. ``/mediamath/api/v2.0/campaigns``. Modules: ``models`` (entity types, fields, relations),
``values`` (coercion, wire text, dates), ``repo`` (data access, organisation scope, writes with
versions and history), ``query`` (collection parameters: paging, sort, full, with, q, /limit),
``render`` (XML and JSON bodies), ``seeds`` (default data, large estates, explicit entity
payloads) and ``app`` (routes, auth, handlers).
"""
