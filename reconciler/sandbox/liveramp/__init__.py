"""Emulator of the LiveRamp Clean Room API (formerly Habu), mounted at ``/liveramp``.

The prefix stands for ``https://api.habu.com``; below it the paths are the real ones
(``/liveramp/v1/cleanrooms``). Modules:

- ``common``: ids, clocks, the vendor-shaped error, paging and rendering helpers.
- ``reference``: reference data every fresh sandbox holds (organisation, API client, clean-room
  types, data sources, org users).
- ``auth``: the OAuth client-credentials token endpoint and its 2-per-24-hours issuance limit.
- ``rooms``: clean rooms, roles, clean-room users, partners and invitations.
- ``data``: data connections, field configurations, clean-room datasets and lookups.
- ``questions``: org-level questions, clean-room questions (ownership, dataset assignment,
  permissions), run schedules and question runs (with the 20-per-hour run budget).
- ``app``: the werkzeug routes and the :class:`LiveRampEmulator` tying them together.
"""
