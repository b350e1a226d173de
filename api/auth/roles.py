"""api.auth.roles: the five roles and what each may do."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who a credential belongs to."""

    viewer = "viewer"
    analyst = "analyst"
    editor = "editor"
    integrator = "integrator"
    admin = "admin"


class Permission(StrEnum):
    """What a route needs."""

    read = "read"  # the map, layers, queries, tiles, grades
    analyse = "analyse"  # spatial analysis (buffer, overlay, nearest, impact, coverage)
    edit = "edit"  # import and edit layers
    hazards = "hazards"  # report and move hidden hazards through their loop
    ingest = "ingest"  # push readings and events (alarms, warnings, accidents, periods)
    admin = "admin"  # users, keys, grading parameters, webhooks
    respond = "respond"  # report incidents, dispatch teams and depot items, close incidents
    review = "review"  # accept or reject the assessment evidence of other organisations


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.viewer: frozenset({Permission.read}),
    Role.analyst: frozenset({Permission.read, Permission.analyse, Permission.review}),
    Role.editor: frozenset(
        {
            Permission.read,
            Permission.analyse,
            Permission.edit,
            Permission.hazards,
            Permission.respond,
        }
    ),
    Role.integrator: frozenset(
        {Permission.read, Permission.ingest, Permission.hazards, Permission.respond}
    ),
    Role.admin: frozenset(Permission),
}
