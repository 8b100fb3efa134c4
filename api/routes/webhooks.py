"""Webhooks over the API: register an external receiver of notifications, list them,
deactivate one. Admins only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from api.deps import AdminPrincipal, SessionDep, SettingsDep
from incidents.notify.webhooks import (
    MAX_URL_LENGTH,
    create_webhook,
    deactivate_webhook,
    list_webhooks,
)

router = APIRouter(prefix="/admin/webhooks", tags=["administration"])

Topic = Annotated[str, Field(pattern=r"^[a-z][a-z_]*(\.[a-z_]+)*$", max_length=64)]


class WebhookIn(BaseModel):
    """A receiver: where to POST, which topics (none = all), and optionally the secret."""

    url: str = Field(max_length=MAX_URL_LENGTH, description="http(s) URL, no credentials")
    topics: list[Topic] = Field(
        default_factory=list,
        max_length=50,
        description="e.g. incident.assigned; empty = every topic",
    )
    secret: str | None = Field(
        None, min_length=16, max_length=128, description="HMAC key; generated when left out"
    )


@router.post("", status_code=201)
async def register_webhook(
    body: WebhookIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _admin: AdminPrincipal,
) -> dict[str, Any]:
    """Register a webhook; the answer shows its signing secret, this once only. Receivers
    inside (loopback, private, link-local, multicast, this service) are refused unless
    GRIDGOV_WEBHOOK_ALLOW_PRIVATE lists their network."""
    webhook = await create_webhook(
        session,
        body.url,
        body.topics,
        body.secret,
        settings.webhook_allow_private,
        request.url.hostname,
    )
    return webhook


@router.get("")
async def get_webhooks(session: SessionDep, _admin: AdminPrincipal) -> list[dict[str, Any]]:
    """Every webhook with its pending and failed delivery counts (no secrets)."""
    return await list_webhooks(session)


@router.delete("/{webhook_id}", status_code=204)
async def remove_webhook(
    webhook_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    session: SessionDep,
    _admin: AdminPrincipal,
) -> Response:
    """Deactivate a webhook: nothing more is sent to it, pending deliveries are given
    up; its history stays."""
    await deactivate_webhook(session, webhook_id)
    return Response(status_code=204)
