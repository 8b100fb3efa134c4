"""The category taxonomy: read from the bundled TOML, kept in step with the database, and
the answers to a category's extra questions checked."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.expression import bindparam

from core.errors import InvalidInput
from core.text_types import has_control_characters
from incidents.channels import PHOTOLESS_CHANNELS

CATEGORIES_FILE = Path(__file__).parent / "data" / "categories.toml"
MAX_TEXT_ANSWER = 500
# What a report of a category must carry besides its place (categories.toml `min_content`).
MinContent = Literal["none", "description", "photo", "description_or_photo"]
_MIN_CONTENT_TEXT = {
    "description": ("a description", "情况描述"),
    "photo": ("a photo", "照片"),
    "description_or_photo": ("a description or a photo", "情况描述或照片"),
}


class Choice(BaseModel):
    """One allowed answer to a choice question."""

    value: str
    label_zh: str
    label_en: str


class Question(BaseModel):
    """An extra question a category asks."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    type: Literal["boolean", "number", "text", "choice"]
    label_zh: str
    label_en: str
    required: bool = False
    min: float | None = None
    max: float | None = None
    choices: list[Choice] = []


class StandardClass(BaseModel):
    """Where a category sits in the classification of 城市管理部件和事件 (GB/T 30428.2,
    which took over CJ/T 214's codes): event or component, major class and subclass."""

    kind: Literal["event", "component"]
    major: str = Field(pattern=r"^[0-9]{2}$")
    major_name: str
    # The 4-digit subclass code (major + 2 digits); None where the category spans several
    # subclasses or the code is not known for certain.
    minor: str | None = Field(None, pattern=r"^[0-9]{4}$")
    minor_name: str

    def label(self) -> str:
        """E.g. 'GB/T 30428.2 事件 01 市容环境 / 私搭乱建'."""
        kind = "事件" if self.kind == "event" else "部件"
        minor = f"{self.minor} " if self.minor else ""
        return f"GB/T 30428.2 {kind} {self.major} {self.major_name} / {minor}{self.minor_name}"


class CategorySpec(BaseModel):
    """A category as the TOML file describes it."""

    code: str = Field(pattern=r"^[a-z]+\.[a-z_]+$")
    group: str
    label_zh: str
    label_en: str
    tier: Literal["red", "yellow", "blue"]
    emergency: bool = False
    duplicate_radius_m: int = Field(50, ge=0, le=5000)
    public_precision: Literal["exact", "building", "cell"] = "building"
    questions: list[Question] = []
    standard: StandardClass | None = None
    # Reports here are candidate items of 重大火灾隐患 under GB 35181-2025 (judged by the
    # fire authority by the standard's method; the flag marks them for that review).
    major_fire_hazard: bool = False
    # What a report must carry (checked in one place: check_min_content, for every channel).
    min_content: MinContent = "none"


@lru_cache
def bundled_categories() -> tuple[CategorySpec, ...]:
    """The categories shipped with gridgov, in display order."""
    data = tomllib.loads(CATEGORIES_FILE.read_text(encoding="utf-8"))
    return tuple(CategorySpec.model_validate(item) for item in data["category"])


def category_spec(code: str) -> CategorySpec | None:
    """The bundled category with this code (None for one no longer listed)."""
    return next((spec for spec in bundled_categories() if spec.code == code), None)


def min_content(code: str) -> MinContent:
    """The minimum content of a category (none for one no longer listed)."""
    spec = category_spec(code)
    return spec.min_content if spec else "none"


def min_content_for_channel(rule: MinContent, channel: str) -> MinContent:
    """The rule as it applies to a channel: where no photo can come, a description."""
    if channel in PHOTOLESS_CHANNELS and rule in ("photo", "description_or_photo"):
        return "description"
    return rule


def check_min_content(
    code: str, channel: str, description: str | None, photos: int, photo_link: bool = False
) -> None:
    """422 when a report lacks what its category needs: naming `description` (or `photos`
    for a photo-only rule), the rule in the message. `photo_link`: an Open311 media_url,
    which counts as the photo (the client's way to send one)."""
    rule = min_content_for_channel(min_content(code), channel)
    has_text = bool(description and description.strip())
    has_photo = photos > 0 or photo_link
    met = {
        "none": True,
        "description": has_text,
        "photo": has_photo,
        "description_or_photo": has_text or has_photo,
    }[rule]
    if met:
        return
    en, zh = _MIN_CONTENT_TEXT[rule]
    raise InvalidInput(
        f"a report of {code} needs {en} (min_content = {rule})",
        f"该类别的上报需要{zh}，请补充后再提交",
        field="photos" if rule == "photo" else "description",
    )


def sync_categories(conn: Connection) -> int:
    """Insert new categories, update existing ones, deactivate ones no longer listed;
    returns how many are active. Reports keep pointing at deactivated categories."""
    specs = bundled_categories()
    rows = [
        {
            "code": s.code,
            "group": s.group,
            "zh": s.label_zh,
            "en": s.label_en,
            "tier": s.tier,
            "questions": [q.model_dump(exclude_defaults=True) for q in s.questions],
            "radius": s.duplicate_radius_m,
            "precision": s.public_precision,
            "emergency": s.emergency,
            "order": i,
        }
        for i, s in enumerate(specs)
    ]
    statement = text("""
        INSERT INTO incident_categories (code, group_code, label_zh, label_en, tier, questions,
            duplicate_radius_m, public_precision, is_emergency, sort_order, active)
        VALUES (:code, :group, :zh, :en, :tier, :questions, :radius, :precision, :emergency,
                :order, true)
        ON CONFLICT (code) DO UPDATE SET group_code = EXCLUDED.group_code,
            label_zh = EXCLUDED.label_zh, label_en = EXCLUDED.label_en, tier = EXCLUDED.tier,
            questions = EXCLUDED.questions, duplicate_radius_m = EXCLUDED.duplicate_radius_m,
            public_precision = EXCLUDED.public_precision, is_emergency = EXCLUDED.is_emergency,
            sort_order = EXCLUDED.sort_order, active = true
    """).bindparams(bindparam("questions", type_=JSONB))
    conn.execute(statement, rows)
    conn.execute(
        text("UPDATE incident_categories SET active = false WHERE code <> ALL(:codes)"),
        {"codes": [s.code for s in specs]},
    )
    return len(rows)


def check_answers(questions: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, Any]:
    """The answers cleaned against the category's questions; 422 naming `answers.<key>`
    for an unknown key, a missing required answer or a value of the wrong kind."""
    by_key = {q["key"]: Question.model_validate(q) for q in questions}
    for key in answers:
        if key not in by_key:
            raise InvalidInput(
                f"this category asks no question {key!r}",
                f"该类别没有问题 {key}",
                field=f"answers.{key}",
            )
    cleaned: dict[str, Any] = {}
    for key, question in by_key.items():
        value = answers.get(key)
        if value is None:
            if question.required:
                raise InvalidInput("this answer is required", "此项必填", field=f"answers.{key}")
            continue
        cleaned[key] = _check_answer(question, value, f"answers.{key}")
    return cleaned


def _check_answer(question: Question, value: Any, field: str) -> Any:
    def wrong(en: str, zh: str) -> InvalidInput:
        return InvalidInput(en, zh, field=field)

    if question.type == "boolean":
        if not isinstance(value, bool):
            raise wrong("expected true or false", "应为是或否")
        return value
    if question.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise wrong("expected a number", "应为数字")
        if (question.min is not None and value < question.min) or (
            question.max is not None and value > question.max
        ):
            raise wrong(
                f"expected a number from {question.min} to {question.max}",
                f"数值应在 {question.min} 到 {question.max} 之间",
            )
        return value
    if not isinstance(value, str) or not value.strip():
        raise wrong("expected text", "应为文字")
    if has_control_characters(value):
        raise wrong("contains control characters", "含有控制字符")
    if question.type == "choice":
        allowed = [c.value for c in question.choices]
        if value not in allowed:
            raise wrong(f"expected one of {', '.join(allowed)}", f"应为 {'、'.join(allowed)} 之一")
        return value
    if len(value) > MAX_TEXT_ANSWER:
        raise wrong(f"at most {MAX_TEXT_ANSWER} characters", f"最多 {MAX_TEXT_ANSWER} 字")
    return value.strip()


async def active_categories(session) -> list[dict[str, Any]]:
    """Categories a reporter may choose, in display order (public)."""
    rows = await session.execute(
        text("""
        SELECT code, group_code, label_zh, label_en, tier, questions, duplicate_radius_m,
               public_precision, is_emergency
        FROM incident_categories WHERE active ORDER BY sort_order, code
    """)
    )
    return [
        {
            "code": code,
            "group": group,
            "label_zh": zh,
            "label_en": en,
            "tier": tier,
            "questions": questions,
            "duplicate_radius_m": radius,
            "public_precision": precision,
            "emergency": emergency,
            "min_content": min_content(code),
        }
        for code, group, zh, en, tier, questions, radius, precision, emergency in rows
    ]
