"""Applications: add, edit, remove, their portal members; typed changes checked by the loader's
own rules."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from credenza.config.changes import ApplicationChange, apply_change
from credenza.config.checks import refuse_control_characters, slugify
from credenza.config.model import Application, Config, PortalMember, PortalRole
from credenza.errors import ValidationError
from credenza.next_steps import step
from credenza.services.context import Context, find_application


class Applications:
    def __init__(self, context: Context, forget: Callable[[str, str | None], None]) -> None:
        self._context = context
        # Drops an application's (or one environment's) secrets and cached tokens everywhere.
        self._forget = forget

    def all(self) -> list[Application]:
        return list(self._context.config.applications)

    def get(self, ref: str) -> Application:
        return self._context.application(ref)

    def add(self, name: str, change: ApplicationChange | None = None) -> Application:
        """Add an application; only the name is required. The id is derived from the name."""
        name = name.strip()
        if not name:
            raise ValidationError("an application needs a name")
        change = change or ApplicationChange()

        def add(config: Config) -> Application:
            existing = _named(config, name)
            if existing is not None:
                raise ValidationError(
                    f"an application named {existing.name!r} already exists",
                    hint="change it with `{0}`",
                    next_steps=(step("edit_application", existing.id, None, "..."),),
                )
            base = slugify(name)
            taken = {app.id for app in config.applications}
            app_id, number = base, 2
            while app_id in taken:
                app_id, number = f"{base}-{number}", number + 1
            # The name goes through the change too: one check of what an add or edit writes.
            named = msgspec.structs.replace(change, name=name)
            application = _apply(Application(id=app_id, name=name), named)
            # In id order, not appended: two people adding different applications change
            # different places of the file, so git merges their diffs.
            at = next(
                (i for i, a in enumerate(config.applications) if a.id > app_id),
                len(config.applications),
            )
            config.applications.insert(at, application)
            return application

        return self._context.mutate(add)

    def edit(
        self, ref: str, change: ApplicationChange, *, expected: str | None = None
    ) -> Application:
        if not msgspec.to_builtins(change):
            raise ValidationError("nothing to change; give at least one option")

        def edit(config: Config) -> Application:
            application = find_application(config, ref)
            if isinstance(change.name, str):
                other = _named(config, change.name.strip())
                if other is not None and other is not application:
                    raise ValidationError(f"an application named {other.name!r} already exists")
            updated = _apply(application, change)
            default = updated.default_environment
            if default is not None and default not in updated.environments:
                known = ", ".join(updated.environments) or "none yet"
                raise ValidationError(
                    f"{updated.name} has no environment {default!r} (known: {known})",
                    hint="add it first, or pick one of those",
                )
            config.applications[config.applications.index(application)] = updated
            return updated

        return self._context.mutate(edit, expected=expected)

    def remove(self, ref: str) -> Application:
        """Remove an application, its environments and contracts, and its keyring entries."""
        application = self.get(ref)

        def remove(config: Config) -> Application:
            target = find_application(config, application.id)
            config.applications.remove(target)
            return target

        # The file first: if the save fails, the secrets are still there for what it still has.
        removed = self._context.mutate(remove)
        for environment in removed.environments:
            self._forget(removed.id, environment)
        return removed

    def notes(self, ref: str) -> list[str]:
        """What the provider says the application's APIs mean for its records, e.g. Chorus's
        Line Test API: one application per organisation name that owns lines."""
        from credenza.providers.profiles import resolve_profile

        application = self.get(ref)
        provider = self._context.config.providers.get(application.provider or "")
        notes = resolve_profile(application.provider, provider, self._context.config_dir).api_notes
        return [f"{api}: {notes[api]}" for api in application.apis if api in notes]

    def set_member(
        self, ref: str, who: str, role: PortalRole = "developer", identity: str | None = None
    ) -> PortalMember:
        """Record a person of the provider's portal (replacing their earlier role)."""
        try:
            # The rule every add and edit follows (apply_change): one line of plain text.
            for field, value in (("who", who), ("identity", identity or "")):
                refuse_control_characters(field, value)
            member = PortalMember(who=who, role=role, identity=identity or None)
        except (ValueError, TypeError) as exc:
            raise ValidationError(str(exc).lstrip("@"), hint="nothing was changed") from None

        def put(config: Config) -> PortalMember:
            application = find_application(config, ref)
            others = [m for m in application.members if m.who.casefold() != who.casefold()]
            application.members = (*others, member)
            return member

        return self._context.mutate(put)

    def remove_member(self, ref: str, who: str) -> PortalMember:
        def drop(config: Config) -> PortalMember:
            application = find_application(config, ref)
            found = [m for m in application.members if m.who.casefold() == who.casefold()]
            if not found:
                raise ValidationError(
                    f"{who!r} is not a portal member of {application.name}",
                    hint="see them with `{0}`",
                    next_steps=(step("show_application", application.id),),
                )
            application.members = tuple(m for m in application.members if m not in found)
            return found[0]

        return self._context.mutate(drop)


def _named(config: Config, name: str) -> Application | None:
    folded = name.casefold()
    return next((a for a in config.applications if a.name.casefold() == folded), None)


def _apply(application: Application, change: ApplicationChange) -> Application:
    if isinstance(change.name, str):
        change = msgspec.structs.replace(change, name=change.name.strip())
    if isinstance(change.callback_url, list | tuple):
        raise ValidationError("an application has exactly one callback URL")
    try:
        return apply_change(application, change)
    except ValueError as exc:
        raise ValidationError(str(exc), hint="nothing was changed") from None
