"""How a report, or a rating, came in: the one list of each and the sets the rules name."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """How a report came in. Staff file the last three for a resident: one who phoned the
    worker or the community office, one who walked in, a neighbour who cannot (elderly, no
    phone); 'hotline' is a 12345 work order, 'patrol' a hazard a worker found."""

    WEB = "web"
    APP = "app"
    HOTLINE = "hotline"
    PATROL = "patrol"
    TERMINAL = "terminal"
    WECHAT = "wechat"
    PHONE = "phone"
    WALK_IN = "walk_in"
    ON_BEHALF = "on_behalf"
    # Filed through the Open311 endpoint, never chosen on a report form.
    OPEN311 = "open311"


# What a report form may name.
REPORT_CHANNELS = tuple(c.value for c in Channel if c is not Channel.OPEN311)
# Only staff file through these: for a resident who phoned, walked in or asked a
# neighbour's help (the staff member is the filer), a 12345 order, or their own patrol.
STAFF_CHANNELS = frozenset(
    {Channel.HOTLINE, Channel.PATROL, Channel.PHONE, Channel.WALK_IN, Channel.ON_BEHALF}
)
# No photo can arrive through these (a 12345 work order is text; a resident on the phone
# to staff sends none): a rule asking for a photo asks them for a description.
PHOTOLESS_CHANNELS = frozenset({Channel.HOTLINE, Channel.PHONE})


class RatingChannel(StrEnum):
    """How a rating came in: the reporter's account or tracking secret, staff recording it
    by phone or at a terminal, or the default after the rating window closed."""

    ACCOUNT = "account"
    SECRET = "secret"
    PHONE = "phone"
    TERMINAL = "terminal"
    DEFAULT = "default"


# A rating staff record for the reporter.
STAFF_RATING_CHANNELS = frozenset({RatingChannel.PHONE, RatingChannel.TERMINAL})
