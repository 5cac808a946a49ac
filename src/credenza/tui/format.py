"""Text for cells and panels: durations, countdowns, lifetime bars, status words with theme tones."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.text import Text
from textual.theme import Theme

from credenza.oauth.tokens import Token
from credenza.oauth.untrusted import clean

BAR_WIDTH = 10


def duration(seconds: float) -> str:
    """Compact and exact enough to read at a glance: 45s, 3m05s, 2h10m, 12d."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d"


def age(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    return duration(max(0.0, delta.total_seconds())) + " ago"


def clip(text: str, width: int = 28) -> str:
    """A long cell cut to ``width`` with an ellipsis; the detail panel has the whole value."""
    return text if len(text) <= width else text[: width - 1] + "…"


def when(moment: datetime | None) -> str:
    """A timestamp as people read it, in UTC."""
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else ""


def tone(theme: Theme, kind: str) -> str:
    """A theme colour for a kind of state; always paired with words, never alone."""
    return {
        "good": theme.success or "green",
        "warn": theme.warning or "yellow",
        "bad": theme.error or "red",
        "info": theme.accent or "blue",
    }.get(kind, theme.foreground or "")


def plain(value: object) -> Text:
    """Config or server text for a cell: cleaned, and a Text so that "[" is never markup."""
    return Text(clean(value, limit=None))


def expiry(expires: datetime | None, now: datetime, warn_days: int, theme: Theme) -> Text:
    """A secret's expiry date, toned: past (bad), within the warning days (warn), or fine."""
    if expires is None:
        return Text("—", style="dim")
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=now.tzinfo)
    left = expires - now
    if left.total_seconds() <= 0:
        return word(theme, f"{expires:%Y-%m-%d} expired", "bad")
    if left <= timedelta(days=warn_days):
        return word(theme, f"{expires:%Y-%m-%d} {left.days}d", "warn")
    return Text(f"{expires:%Y-%m-%d}")


def word(theme: Theme, text: str, kind: str) -> Text:
    return Text(text, style=f"bold {tone(theme, kind)}")


STATUS_KIND = {"approved": "good", "pending": "warn", "rejected": "bad", "revoked": "bad"}


def countdown(token: Token, now: datetime, theme: Theme) -> Text:
    """'4m12s left', 'expired' or 'no expiry', toned by how much lifetime is left."""
    left = token.seconds_left(now)
    if left is None:
        return Text("no expiry given", style="italic")
    if left <= 0:
        return word(theme, "expired", "bad")
    fraction = token.lifetime_fraction_left(now) or 0.0
    kind = (
        "good"
        if fraction > 0.5 and left > 60
        else "warn"
        if fraction > 0.15 and left > 20
        else "bad"
    )
    return word(theme, f"{duration(left)} left", kind)


def lifetime_bar(token: Token, now: datetime, theme: Theme) -> Text:
    fraction = token.lifetime_fraction_left(now)
    if fraction is None:
        return Text("—")
    filled = round(fraction * BAR_WIDTH)
    kind = "good" if fraction > 0.5 else "warn" if fraction > 0.15 else "bad"
    bar = Text("█" * filled, style=tone(theme, kind))
    bar.append("░" * (BAR_WIDTH - filled), style="dim")
    bar.append(f" {round(fraction * 100):>3}%")
    return bar
