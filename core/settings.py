"""One typed settings object for the whole service (environment prefix GRIDGOV_)."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values shipped in .env.example and the defaults; they are fine on a laptop and
# refused anywhere else, so a production deploy cannot start with a known key.
PLACEHOLDER_SECRETS = frozenset({"change-me", "dev-secret-change-me", "dev-id-key-change-me", ""})

SECRET_NAMES = ("secret_key", "id_hash_key")
MIN_SECRET_LENGTH = 32
# No token lives longer than this, whatever it says: a leaked or forged long-lived token
# is refused even when its signature is good.
MAX_TOKEN_TTL_MINUTES = 7 * 24 * 60

LOCAL_DATABASE_URL = "postgresql://gridgov:gridgov@127.0.0.1:5432/gridgov"


RATE_LIMIT_SCOPES = ("intake", "login", "search")
RATE_LIMIT_KEYS = ("ip", "account", "username", "pair")
DEFAULT_RATE_LIMITS = {
    # A shared office or a carrier's NAT puts many residents behind one address, and they
    # share this limit: the trade-off of counting per address. A town where one carrier
    # NATs everyone should raise it (e.g. "300/60"); an account's own limit still holds,
    # and IPv6 clients are counted per /64, which is one subscriber, not a carrier.
    "intake.ip": "30/60",
    "intake.account": "20/60",
    # Login counts failures only: per user name and address (the guesser slows down),
    # per address, and per user name from addresses the user has not signed in from
    # (bounds a guess spread over many addresses; never locks the real user out).
    "login.pair": "5/300",
    "login.ip": "30/300",
    "login.username": "100/900",
    "search.ip": "120/60",
    "search.account": "300/60",
}


def parse_rate(rule: str) -> tuple[int, int]:
    """'30/60' -> (30 hits, 60 seconds); a ValueError names what is wrong."""
    hits, _, seconds = rule.partition("/")
    if not (hits.isdigit() and seconds.isdigit() and int(hits) > 0 and int(seconds) > 0):
        raise ValueError(f"rate {rule!r}: expected hits/seconds, e.g. 30/60")
    return int(hits), int(seconds)


class Settings(BaseSettings):
    """Runtime configuration read from GRIDGOV_* environment variables or .env."""

    model_config = SettingsConfigDict(env_prefix="GRIDGOV_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = LOCAL_DATABASE_URL
    test_database_url: str | None = None
    db_pool_size: int = Field(10, ge=1, le=200)

    secret_key: SecretStr = SecretStr("dev-secret-change-me")
    token_ttl_minutes: int = Field(12 * 60, ge=1, le=MAX_TOKEN_TTL_MINUTES)
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    # Key of the HMAC that stores ID numbers; changing it orphans every stored hash.
    id_hash_key: SecretStr = SecretStr("dev-id-key-change-me")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    default_language: Literal["zh-Hans", "en"] = "zh-Hans"
    # Working-day calendar overrides (a year's holidays and make-up days, TOML); none =
    # the bundled file. Deadline tiers override the defaults, e.g. {"red": ["1h", "12h"]}.
    holidays_file: Path | None = None
    deadline_tiers: dict[str, tuple[str, str]] = Field(default_factory=dict)
    # Office periods of a working day that working-hour deadlines ("4wh", 工作时) count;
    # checked when the calendar is loaded at start-up.
    working_hours: str = "08:30-12:00,14:00-18:00"
    # Reports: a pin this close to a cell goes to that cell; photos per report and size.
    routing_tolerance_m: float = Field(30.0, ge=0, le=500)
    max_photos: int = Field(6, ge=0, le=20)
    max_photo_mb: int = Field(10, ge=1, le=100)
    # Pixels a photo may declare (read from its header before decoding; 24 = 6000x4000).
    max_photo_megapixels: int = Field(24, ge=1, le=100)
    # Handling and 好差评: on-site check-in radius; days to rate before the default
    # rating (3 = 基本满意) is recorded; a rectification's revisit deadline; groups
    # smaller than this are suppressed in published statistics.
    checkin_radius_m: float = Field(100.0, ge=5, le=5000)
    rating_period_days: int = Field(7, ge=1, le=90)
    default_rating: int = Field(3, ge=1, le=5)
    rectification_deadline: str = "10wd"
    # 12345 首次联系: how long after an order's received time the handling unit has to
    # take it up (签收 or be on site); an allowance as incidents/handling/workdays.py reads it.
    hotline_first_contact: str = "1wd"
    stats_min_group: int = Field(5, ge=1, le=1000)
    # Register imports over the API: the upload, and what a zip may expand to.
    max_import_mb: int = Field(512, ge=1, le=100_000)
    # Pages: the base map's tile URL ({z}/{x}/{y}, e.g. Tianditu or an intranet tile
    # server); none = the pages draw grid cells as the base (works with no internet).
    basemap_url: str | None = None
    # The worker's "open in my map app" link: none = a geo: URI (the phone's own map
    # app); else a URL template with {lat}, {lon} and {name}, e.g. 高德/百度/腾讯 on the
    # intranet.
    map_app_url: str | None = Field(None, max_length=500)
    # 网格员公示: the report page and GET /lookup/place name each cell's grid worker to
    # the public (many communities post these duty cards); off = "本网格网格员" only.
    public_duty_cards: bool = False
    # SMS to reporters, followers and area alerts through an HTTP gateway (incidents/
    # sms.py): its URL (none = SMS off) and the text, with {tracking_number}, {message}
    # and {status}; the site's public address for links in texts (none: the path alone).
    sms_gateway_url: str | None = Field(None, max_length=2000)
    sms_template: str = Field(
        "【网格治理】您上报的隐患（编号 {tracking_number}）{message}", max_length=500
    )
    alerts_public_url: str = Field("", max_length=500)
    # Abuse limits, "hits/seconds" per scope and key (ip, account, username), counted in
    # PostgreSQL so every worker process shares them; exempt networks (a 12345 gateway,
    # the load bench) skip them. Off in the test suite except where a test turns it on.
    rate_limits_enabled: bool = True
    rate_limits: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    rate_limit_exempt: list[IPvAnyNetwork] = Field(default_factory=list)
    # Reverse proxies whose X-Forwarded-For names the client (e.g. ["127.0.0.1/32"] behind
    # a local nginx). None by default: the header is ignored, as anyone can send it.
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)
    # Webhook receivers on these networks are allowed although private (an intranet
    # receiver, e.g. ["10.20.0.0/16"]); every other loopback, private, link-local or
    # multicast target is refused at registration and when delivering.
    webhook_allow_private: list[IPvAnyNetwork] = Field(default_factory=list)
    # Closed reports' personal data is anonymised this many days after closing.
    retention_days: int = Field(365, ge=1, le=3650)

    @field_validator("rate_limits")
    @classmethod
    def _limits_are_hits_per_seconds(cls, value: dict[str, str]) -> dict[str, str]:
        for name, rule in value.items():
            scope, _, key = name.partition(".")
            if scope not in RATE_LIMIT_SCOPES or key not in RATE_LIMIT_KEYS:
                raise ValueError(
                    f"{name}: expected <{'|'.join(RATE_LIMIT_SCOPES)}>."
                    f"<{'|'.join(RATE_LIMIT_KEYS)}>"
                )
            parse_rate(rule)
        return {**DEFAULT_RATE_LIMITS, **value}

    @field_validator("database_url", "test_database_url")
    @classmethod
    def _must_be_postgres(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgresql+")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secrets_outside_development(self) -> Settings:
        if self.environment == "development":
            return self
        for name in self.weak_secrets():
            raise ValueError(
                f"{name} is a placeholder or shorter than {MIN_SECRET_LENGTH} characters; "
                "set a random secret before running outside development"
            )
        return self

    def weak_secrets(self) -> list[str]:
        """The GRIDGOV_* keys that are published placeholders or too short to be secret."""
        return [
            f"GRIDGOV_{name.upper()}"
            for name in SECRET_NAMES
            if _is_weak(getattr(self, name).get_secret_value())
        ]

    @property
    def is_local_database(self) -> bool:
        """True when the database URL points at this machine's default cluster."""
        return any(h in self.database_url for h in ("@127.0.0.1", "@localhost", "@/"))


def _is_weak(secret: str) -> bool:
    return secret in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH


def is_loopback_host(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve anywhere


def ensure_local_secrets(env_file: Path = Path(".env")) -> list[str]:
    """Give this checkout random signing and ID-hash keys in `env_file`, once.

    A key set in the environment, or already in the file with a real value, is never
    touched. A published placeholder in the file (copied from .env.example) is replaced:
    anyone can forge tokens with it and reverse hashes made with it, so nothing of value
    is lost. Returns the names written. The file (git-ignored) is created owner-only."""
    env_file = Path(env_file)
    text = env_file.read_text(encoding="utf-8") if env_file.exists() else ""
    written = []
    for name in (f"GRIDGOV_{n.upper()}" for n in SECRET_NAMES):
        if name in os.environ:
            continue
        line = f"{name}={secrets.token_urlsafe(48)}"
        pattern = re.compile(rf"^{name}=(.*)$", re.MULTILINE)
        found = pattern.findall(text)
        if found and not _is_weak(found[-1].strip().strip("'\"")):
            continue
        if found:  # the last assignment wins in .env: replace the placeholder ones
            text = pattern.sub(lambda _m, line=line: line, text)
        else:
            text += ("" if not text or text.endswith("\n") else "\n") + line + "\n"
        written.append(name)
    if written:
        env_file.touch(mode=0o600, exist_ok=True)
        env_file.write_text(text, encoding="utf-8")
    return written


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once on first use (never at import time)."""
    return Settings()
