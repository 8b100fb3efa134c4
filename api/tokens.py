"""Bearer tokens: PyJWT with the algorithm pinned, an expiry, an issuer and a capped
lifetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from core.errors import NotAuthenticated
from core.settings import MAX_TOKEN_TTL_MINUTES, Settings

ISSUER = "gridgov"


def create_access_token(user_id: int, settings: Settings, now: datetime | None = None) -> str:
    """A signed token naming the user, valid for the configured number of minutes."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "iss": ISSUER,
        "iat": issued,
        "exp": issued + timedelta(minutes=settings.token_ttl_minutes),
    }
    return jwt.encode(claims, settings.secret_key.get_secret_value(), settings.jwt_algorithm)


def user_id_from_token(token: str, settings: Settings) -> int:
    """The user id a valid token names; NotAuthenticated for anything else."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            # Pinned: a token signed with any other algorithm (or "none") is refused.
            algorithms=[settings.jwt_algorithm],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
        # A good signature is not enough: a token may not outlive the configured lifetime,
        # and never the hard maximum (a 10-year token made with a leaked key is refused).
        lifetime = int(claims["exp"]) - int(claims["iat"])
        if lifetime > 60 * min(settings.token_ttl_minutes, MAX_TOKEN_TTL_MINUTES):
            raise NotAuthenticated(
                "The token lives longer than allowed", "登录凭证有效期超出上限，请重新登录"
            )
        return int(claims["sub"])
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("The token has expired", "登录已过期，请重新登录") from exc
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise NotAuthenticated("The token is not valid", "登录凭证无效") from exc
