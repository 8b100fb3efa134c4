"""The 好差评 scale, a rating as the rater gives it, and the configurable rating rules."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import InvalidInput
from core.settings import Settings
from core.text_types import PlainTextOrNone
from incidents.handling.workdays import DeadlineRule

SCORE_LABELS = {1: "非常不满意", 2: "不满意", 3: "基本满意", 4: "满意", 5: "非常满意"}
BAD_SCORES = frozenset({1, 2})
MAX_TEXT = 2000


class RatingIn(BaseModel):
    """A rating as the rater gives it: overall 1-5, timeliness and convenience, a comment."""

    model_config = ConfigDict(str_strip_whitespace=True)

    overall: int = Field(ge=1, le=5, description="1 非常不满意 .. 5 非常满意")
    timeliness: int | None = Field(None, ge=1, le=5)
    convenience: int | None = Field(None, ge=1, le=5)
    comment: PlainTextOrNone = Field(None, max_length=MAX_TEXT)

    @field_validator("comment")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


@dataclass(frozen=True)
class RatingRules:
    """The configurable parts: days to rate, the default score, the revisit deadline."""

    period_days: int = 7
    default_score: int = 3
    rectification_deadline: DeadlineRule | str = "10wd"

    @classmethod
    def from_settings(cls, settings: Settings) -> RatingRules:
        """The rules as configured (GRIDGOV_RATING_PERIOD_DAYS and friends)."""
        return cls(
            settings.rating_period_days,
            settings.default_rating,
            DeadlineRule.parse(settings.rectification_deadline),
        )


def given_text(value: str | None, field: str, message: str, zh: str) -> str:
    """A free-text field a record cannot do without (a reason, an outcome), stripped; 422
    naming the field when it is missing or blank."""
    if value is None or not value.strip():
        raise InvalidInput(message, zh, field=field)
    return value.strip()
