"""Who may call each route of the app: the policy table the authorisation matrix
(tests/test_authorization.py) checks every route against, with a request for each that
names an object of the test world. A route added to the app without an entry here fails
the suite."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from grid.roles import MANAGER_ROLES, STAFF_ROLES, Role
from tests.factories import PASSWORD

ANONYMOUS = "anonymous"
ROLES = (ANONYMOUS, *(role.value for role in Role))
STAFF = frozenset(role.value for role in STAFF_ROLES)
MANAGERS = frozenset(role.value for role in MANAGER_ROLES)
SIGNED_IN = frozenset(role.value for role in Role)
EVERYONE = SIGNED_IN | {ANONYMOUS}
ADMIN = frozenset({Role.ADMIN.value})
WORKER = frozenset({Role.GRID_WORKER.value})
RESIDENT = frozenset({Role.RESIDENT.value})

# An admitted caller's answer: 2xx, or a domain answer about the request itself (400,
# 409, 422...), never 401, 403, 404 or a server error.
ALLOWED = "allowed"
# The standard APIs (Open311, OGC API Features) answer in their own error formats; for
# them an admitted caller may also get the spec's 400 or 404 for what it asked.
STANDARD = "standard"


@dataclass
class Place:
    """The objects of the test world in one grid cell, as requests name them."""

    cell: str
    community: str
    street: str
    district: str
    lon: float
    lat: float
    building_id: int = 0
    house_id: int = 0
    person_id: int = 0
    open_number: str = ""  # accepted by the cell's worker; one published photo
    photo_id: int = 0
    extension_id: int = 0  # the worker's pending request for more time on open_number
    closed_number: str = ""  # closed, rated 1 by its reporter
    closed_secret: str = ""
    rating_id: int = 0  # that rating: flagged, excluded, appealed
    work_order_id: int = 0
    flag_id: int = 0
    appeal_id: int = 0
    declaration: str = ""  # a fire damage declaration, accepted by the cell's worker
    # The inbox item each caller marks read here: their own in scope, another's outside.
    inbox: dict[str, int] = field(default_factory=dict)
    other_inbox_item: int = 0
    webhook_id: int = 0
    ban_id: int = 0
    version_id: int = 0
    visit_id: int = 0  # the cell's worker's patrol visit to the building, with a photo
    visit_photo_id: int = 0

    def inbox_item(self, role: str) -> int:
        return self.inbox.get(role, self.other_inbox_item)


@dataclass(frozen=True)
class Call:
    """One request: the path with its parameters filled, and what it sends."""

    path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    data: Mapping[str, Any] | None = None
    files: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


Builder = Callable[[Place, str], Call]


def _fixed(path: str, **kwargs: Any) -> Builder:
    return lambda _place, _role: Call(path, **kwargs)


@dataclass(frozen=True)
class Rule:
    """Who a route admits and what everyone else is told.

    `admits`: the roles past the route's gates (ANONYMOUS for no token). `scoped`: the
    answer also depends on whether the object lies in the caller's area; `outside` is the
    answer for one that does not (404 where existence is hidden, 403 where the app says
    so on purpose), `outside_for` per role. `inside`: deliberate refusals of an admitted
    role even in its area (e.g. managers may not check in on the worker's behalf).
    """

    admits: frozenset[str]
    call: Builder
    scoped: bool = False
    outside: int = 404
    outside_for: Mapping[str, int] = field(default_factory=dict)
    inside: Mapping[str, int | str] = field(default_factory=dict)
    anonymous: int = 401
    refused: int = 403
    admitted: str = ALLOWED
    # Bulk work runs on its own engine, outside the test's transaction: the matrix stubs
    # it, so an admitted call ends in the stub's 503 (it got past every check).
    bulk: bool = False
    stream: bool = False

    def expect(self, role: str, in_scope: bool) -> int | str:
        """The answer `role` gets for the object in (or outside) its area."""
        if role not in self.admits:
            return self.anonymous if role == ANONYMOUS else self.refused
        if self.scoped and not in_scope:
            if role in self.outside_for:
                return self.outside_for[role]
            if role != Role.ADMIN.value:  # admins reach every area
                return self.outside
        return self.inside.get(role, self.admitted)


def public(call: Builder, admitted: str = ALLOWED) -> Rule:
    return Rule(EVERYONE, call, admitted=admitted)


def standard(call: Builder) -> Rule:
    return Rule(EVERYONE, call, admitted=STANDARD)


def _soon(days: int = 20) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def _period() -> dict[str, str]:
    # This calendar month: the public figures cover only calendar months and quarters.
    first = date.today().replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return {"level": "cell", "from": first.isoformat(), "to": following.isoformat()}


def _bbox(p: Place) -> str:
    return f"{p.lon - 0.01},{p.lat - 0.01},{p.lon + 0.01},{p.lat + 0.01}"


def _report(p: Place, _role: str) -> Call:
    return Call(
        "/reports",
        json={
            "category": "community.streetlight",
            "lon": p.lon,
            "lat": p.lat,
            "description": "路灯不亮",
        },
    )


def _rating(number: Callable[[Place], str], overall: int) -> Builder:
    """Staff record a rating given by phone; anyone else rates as themselves."""

    def build(p: Place, role: str) -> Call:
        body: dict[str, Any] = {"overall": overall}
        if role in STAFF:
            body["channel"] = "phone"
        return Call(number(p), json=body)

    return build


_CSV = ("工单编号,来电人,来电号码,诉求内容\n", "text/csv")
_IMPORT = {
    "file": (
        "empty.geojson",
        b'{"type": "FeatureCollection", "features": []}',
        "application/geo+json",
    )
}

POLICY: dict[tuple[str, str], Rule] = {
    # --- documentation and static files ---------------------------------------------------
    ("GET", "/openapi.json"): public(_fixed("/openapi.json")),
    ("GET", "/docs"): public(_fixed("/docs")),
    ("GET", "/docs/oauth2-redirect"): public(_fixed("/docs/oauth2-redirect")),
    ("GET", "/redoc"): public(_fixed("/redoc")),
    ("GET", "/static/vendor"): public(_fixed("/static/vendor/maplibre-gl/dist/maplibre-gl-csp.js")),
    ("GET", "/static/js"): public(_fixed("/static/js/common.js")),
    ("GET", "/static/css"): public(_fixed("/static/css/pages.css")),
    ("GET", "/static/icons"): public(_fixed("/static/icons/icon-192.png")),
    # The staff app's service worker and manifest: code and a name, no data.
    ("GET", "/sw.js"): public(_fixed("/sw.js")),
    ("GET", "/manifest.webmanifest"): public(_fixed("/manifest.webmanifest")),
    # --- health and accounts --------------------------------------------------------------
    ("GET", "/health"): public(_fixed("/health")),
    ("POST", "/auth/token"): public(
        _fixed("/auth/token", data={"username": "authz-resident", "password": PASSWORD})
    ),
    ("GET", "/auth/me"): Rule(SIGNED_IN, _fixed("/auth/me")),
    # --- the register ---------------------------------------------------------------------
    ("GET", "/regions"): public(_fixed("/regions")),
    ("GET", "/regions/{code}"): public(lambda p, _: Call(f"/regions/{p.community}")),
    ("GET", "/cells"): public(_fixed("/cells")),
    ("GET", "/cells/{code}"): public(lambda p, _: Call(f"/cells/{p.cell}")),
    # Admins rename a cell (audited); nobody else may.
    ("PATCH", "/cells/{code}"): Rule(
        ADMIN, lambda p, _: Call(f"/cells/{p.cell}", json={"name": "授权测试网格"})
    ),
    ("GET", "/cells/{code}/responsibility"): Rule(
        STAFF, lambda p, _: Call(f"/cells/{p.cell}/responsibility"), scoped=True, outside=403
    ),
    ("GET", "/cells/{code}/residents"): Rule(
        STAFF, lambda p, _: Call(f"/cells/{p.cell}/residents"), scoped=True, outside=403
    ),
    ("GET", "/buildings"): public(lambda p, _: Call("/buildings", params={"bbox": _bbox(p)})),
    ("GET", "/addresses"): public(_fixed("/addresses", params={"q": "授权路"})),
    # Choosing a place from lists: public facts (names, addresses, unit numbers) only.
    ("GET", "/addresses/compounds"): public(
        lambda p, _: Call("/addresses/compounds", params={"near": f"{p.lon},{p.lat}"})
    ),
    # 授权路1号 (the first place's building) is in no compound: its own address group.
    ("GET", "/addresses/buildings"): public(
        _fixed("/addresses/buildings", params={"compound": "a:授权路1号"})
    ),
    ("GET", "/addresses/buildings/{building_id}/units"): public(
        lambda p, _: Call(f"/addresses/buildings/{p.building_id}/units")
    ),
    ("GET", "/lookup"): public(lambda p, _: Call("/lookup", params={"lon": p.lon, "lat": p.lat})),
    ("GET", "/lookup/place"): public(
        lambda p, _: Call("/lookup/place", params={"lon": p.lon, "lat": p.lat})
    ),
    # City assets are public objects (no personal data): the report page's picker.
    ("GET", "/assets/kinds"): public(_fixed("/assets/kinds")),
    ("GET", "/assets/nearby"): public(
        lambda p, _: Call("/assets/nearby", params={"lon": p.lon, "lat": p.lat})
    ),
    # Search is scoped in SQL (see the property tests), not by an object in the path.
    ("GET", "/register/people"): Rule(STAFF, _fixed("/register/people")),
    ("GET", "/register/people/{person_id}"): Rule(
        STAFF, lambda p, _: Call(f"/register/people/{p.person_id}"), scoped=True
    ),
    # --- reports --------------------------------------------------------------------------
    ("GET", "/categories"): public(_fixed("/categories")),
    ("POST", "/reports"): public(_report),
    ("GET", "/reports/nearby"): public(
        lambda p, _: Call(
            "/reports/nearby", params={"category": "fire.blocked_exit", "lon": p.lon, "lat": p.lat}
        )
    ),
    ("GET", "/reports/{tracking_number}"): public(lambda p, _: Call(f"/reports/{p.open_number}")),
    # Anyone with the number and the phone's last digits (the matrix's reporter gave
    # REPORTER_PHONE, ending 4321); limited per number and address, not per role.
    ("POST", "/reports/{tracking_number}/reporter-view"): public(
        lambda p, _: Call(f"/reports/{p.open_number}/reporter-view", json={"phone_last4": "4321"})
    ),
    # A resident's own reports; staff accounts have none to list.
    ("GET", "/reports/mine"): Rule(RESIDENT, _fixed("/reports/mine")),
    # 我也遇到: a resident's account, or anyone with a mobile number; staff do not follow.
    ("POST", "/reports/{tracking_number}/followers"): Rule(
        RESIDENT | {ANONYMOUS},
        lambda p, _: Call(f"/reports/{p.open_number}/followers", json={"phone": "13700001111"}),
    ),
    ("GET", "/reports/{tracking_number}/followers"): public(
        lambda p, _: Call(f"/reports/{p.open_number}/followers")
    ),
    # Area alerts are a resident's own; the unsubscribe link needs only its signed token
    # (the matrix's is not one: 422 naming token).
    ("POST", "/alerts"): Rule(
        RESIDENT,
        lambda p, _: Call("/alerts", json={"region_code": p.community, "channel": "inbox"}),
    ),
    ("GET", "/alerts"): Rule(RESIDENT, _fixed("/alerts")),
    ("GET", "/alerts/unsubscribe"): public(
        _fixed("/alerts/unsubscribe", params={"token": "1.abc"})
    ),
    ("DELETE", "/alerts/{alert_id}"): Rule(
        RESIDENT, _fixed("/alerts/999999"), inside={"resident": 404}
    ),
    ("POST", "/damage-declarations"): Rule(
        SIGNED_IN,
        lambda p, _: Call(
            "/damage-declarations",
            json={
                "house_id": p.house_id,
                "fire_date": str(date.today()),
                "what_burned": "厨房",
                "estimated_loss": "100.00",
            },
        ),
    ),
    # The declarer and staff over the house.
    ("GET", "/damage-declarations/{tracking_number}"): Rule(
        SIGNED_IN, lambda p, _: Call(f"/damage-declarations/{p.declaration}"), scoped=True
    ),
    # Resolving is the assignee's: managers over it are refused, a resident (even the
    # declarer) is not shown the incident.
    ("POST", "/damage-declarations/{tracking_number}/verify"): Rule(
        SIGNED_IN,
        lambda p, _: Call(
            f"/damage-declarations/{p.declaration}/verify",
            json={"verified_loss": "80.00", "note": "现场核实"},
        ),
        scoped=True,
        inside={"resident": 404, **dict.fromkeys(MANAGERS, 403)},
    ),
    # --- handling -------------------------------------------------------------------------
    ("GET", "/incidents/{tracking_number}"): Rule(
        STAFF, lambda p, _: Call(f"/incidents/{p.open_number}"), scoped=True
    ),
    ("POST", "/incidents/{tracking_number}/actions"): Rule(
        STAFF,
        lambda p, _: Call(
            f"/incidents/{p.open_number}/actions",
            json={"action": "refer_emergency", "note": "转交"},
        ),
        scoped=True,
    ),
    ("GET", "/incidents"): Rule(STAFF, _fixed("/incidents")),
    ("POST", "/incidents/{tracking_number}/notes"): Rule(
        STAFF,
        lambda p, _: Call(f"/incidents/{p.open_number}/notes", json={"note": "备注"}),
        scoped=True,
    ),
    ("POST", "/incidents/{tracking_number}/check-in"): Rule(
        STAFF,
        lambda p, _: Call(
            f"/incidents/{p.open_number}/check-in", json={"lon": p.lon, "lat": p.lat}
        ),
        scoped=True,
        inside=dict.fromkeys(MANAGERS, 403),
    ),
    ("POST", "/incidents/{tracking_number}/extension-requests"): Rule(
        STAFF,
        lambda p, _: Call(
            f"/incidents/{p.open_number}/extension-requests",
            json={"until": _soon(), "reason": "等配件"},
        ),
        scoped=True,
        inside=dict.fromkeys(MANAGERS, 403),
    ),
    ("GET", "/extension-requests"): Rule(STAFF, _fixed("/extension-requests")),
    ("POST", "/extension-requests/{request_id}/decision"): Rule(
        MANAGERS,
        lambda p, _: Call(f"/extension-requests/{p.extension_id}/decision", json={"grant": True}),
        scoped=True,
    ),
    # Each refused report is listed; the answer's status is the first refusal's.
    ("POST", "/incidents/bulk-assign"): Rule(
        MANAGERS,
        lambda p, _: Call(
            "/incidents/bulk-assign",
            json={"tracking_numbers": [p.open_number], "assignee": "authz-worker"},
        ),
        scoped=True,
    ),
    # --- ratings --------------------------------------------------------------------------
    # Without the secret, an anonymous caller is asked for it (422, field `secret`); a
    # signed-in resident who is not the reporter is refused; staff record phone ratings
    # of reports they can see, but not of their own work (the handler).
    ("POST", "/reports/{tracking_number}/rating"): Rule(
        EVERYONE,
        _rating(lambda p: f"/reports/{p.closed_number}/rating", 5),
        scoped=True,
        outside_for={"resident": 403},
        inside={ANONYMOUS: 422, "grid_worker": 403},
    ),
    ("GET", "/reports/{tracking_number}/rating"): Rule(
        EVERYONE,
        lambda p, _: Call(f"/reports/{p.closed_number}/rating"),
        scoped=True,
        outside_for={"resident": 403},
        inside={ANONYMOUS: 403},
    ),
    ("GET", "/work-orders"): Rule(SIGNED_IN, _fixed("/work-orders")),
    # The work order's assignee (the handler's community manager) or managers over it.
    ("POST", "/work-orders/{work_order_id}/revisit"): Rule(
        SIGNED_IN,
        lambda p, _: Call(
            f"/work-orders/{p.work_order_id}/revisit",
            json={"contact_method": "phone", "outcome": "满意", "actions_taken": "已整改"},
        ),
        scoped=True,
        inside={"resident": 404, "grid_worker": 404},
    ),
    # As the rating; the work order's assignee may not record it either.
    ("POST", "/work-orders/{work_order_id}/rating"): Rule(
        EVERYONE,
        _rating(lambda p: f"/work-orders/{p.work_order_id}/rating", 4),
        scoped=True,
        outside_for={"resident": 403},
        inside={ANONYMOUS: 422, "grid_worker": 403, "community_manager": 403},
    ),
    ("POST", "/ratings/{rating_id}/flags"): Rule(
        MANAGERS,
        lambda p, _: Call(f"/ratings/{p.rating_id}/flags", json={"reason": "恶意"}),
        scoped=True,
    ),
    ("POST", "/rating-flags/{flag_id}/decision"): Rule(
        MANAGERS,
        lambda p, _: Call(f"/rating-flags/{p.flag_id}/decision", json={"confirm": True}),
        scoped=True,
    ),
    # Only the rater appeals; to anyone else the rating does not exist.
    ("POST", "/ratings/{rating_id}/appeals"): Rule(
        RESIDENT,
        lambda p, _: Call(f"/ratings/{p.rating_id}/appeals", json={"reason": "不服"}),
        scoped=True,
        anonymous=404,
        refused=404,
    ),
    ("POST", "/rating-appeals/{appeal_id}/decision"): Rule(
        MANAGERS,
        lambda p, _: Call(
            f"/rating-appeals/{p.appeal_id}/decision", json={"upheld": False, "note": "维持"}
        ),
        scoped=True,
    ),
    # --- statistics and patrols -----------------------------------------------------------
    ("GET", "/statistics"): public(_fixed("/statistics", params=_period())),
    ("GET", "/statistics/staff"): Rule(
        MANAGERS,
        lambda p, _: Call("/statistics/staff", params={**_period(), "region": p.community}),
        scoped=True,
        outside=403,
    ),
    ("GET", "/patrol"): Rule(WORKER, _fixed("/patrol")),
    ("POST", "/patrol/visits"): Rule(
        WORKER,
        lambda p, _: Call("/patrol/visits", json={"building_id": p.building_id}),
        scoped=True,
        outside=403,
    ),
    # The visiting worker and managers over the building; to anyone else it does not exist.
    ("GET", "/patrol/visits/{visit_id}/photos/{photo_id}"): Rule(
        STAFF,
        lambda p, _: Call(f"/patrol/visits/{p.visit_id}/photos/{p.visit_photo_id}"),
        scoped=True,
    ),
    ("GET", "/patrol/coverage"): Rule(
        MANAGERS,
        lambda p, _: Call("/patrol/coverage", params={"community": p.community}),
        scoped=True,
        outside=403,
    ),
    # --- maps and pages -------------------------------------------------------------------
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.mvt"): public(_fixed("/tiles/cells/14/13382/7146.mvt")),
    ("GET", "/tiles/basemap/{z}/{x}/{y}.mvt"): public(_fixed("/tiles/basemap/14/13382/7146.mvt")),
    ("GET", "/maps/style.json"): public(_fixed("/maps/style.json")),
    ("GET", "/maps/fonts/{fontstack}/{range}.pbf"): public(
        _fixed("/maps/fonts/Noto Sans CJK SC Regular/0-255.pbf")
    ),
    ("GET", "/map"): public(_fixed("/map")),
    ("GET", "/report"): public(_fixed("/report")),
    ("GET", "/kiosk"): public(_fixed("/kiosk")),
    ("GET", "/track/{tracking_number}"): public(lambda p, _: Call(f"/track/{p.open_number}")),
    ("GET", "/"): public(_fixed("/")),
    ("GET", "/track"): public(_fixed("/track")),
    ("GET", "/my-reports"): public(_fixed("/my-reports")),
    ("GET", "/dashboard"): public(_fixed("/dashboard")),
    ("GET", "/worker"): public(_fixed("/worker")),
    # A shell: its data comes from GET /incidents/{number}, which needs staff in scope.
    ("GET", "/case/{tracking_number}"): public(lambda p, _: Call(f"/case/{p.open_number}")),
    ("GET", "/dashboard/cells.geojson"): Rule(
        MANAGERS, lambda p, _: Call("/dashboard/cells.geojson", params={"bbox": _bbox(p)})
    ),
    ("GET", "/dashboard/regions.geojson"): Rule(
        MANAGERS,
        lambda p, _: Call("/dashboard/regions.geojson", params={"region": p.community}),
        scoped=True,
        outside=403,
    ),
    ("GET", "/desk"): public(_fixed("/desk")),
    ("GET", "/desk/area"): Rule(
        MANAGERS,
        lambda p, _: Call("/desk/area", params={"region": p.community}),
        scoped=True,
        outside=403,
    ),
    ("GET", "/desk/rating-flags"): Rule(MANAGERS, _fixed("/desk/rating-flags")),
    ("GET", "/map/incidents.geojson"): public(
        lambda p, _: Call("/map/incidents.geojson", params={"bbox": _bbox(p)})
    ),
    # --- administration -------------------------------------------------------------------
    ("POST", "/admin/imports/buildings"): Rule(
        ADMIN, _fixed("/admin/imports/buildings", files=_IMPORT), bulk=True
    ),
    ("POST", "/admin/imports/people"): Rule(
        ADMIN,
        _fixed("/admin/imports/people", files={"file": ("p.csv", "姓名\n", "text/csv")}),
        bulk=True,
    ),
    ("POST", "/admin/imports/cells"): Rule(
        ADMIN, _fixed("/admin/imports/cells", files=_IMPORT, data={"label": "t"}), bulk=True
    ),
    ("POST", "/admin/imports/regions"): Rule(
        ADMIN, _fixed("/admin/imports/regions", files=_IMPORT), bulk=True
    ),
    ("GET", "/admin/boundary-versions/{version_id}"): Rule(
        ADMIN, lambda p, _: Call(f"/admin/boundary-versions/{p.version_id}"), bulk=True
    ),
    ("GET", "/admin/boundary-versions/{version_id}/problems"): Rule(
        ADMIN, lambda p, _: Call(f"/admin/boundary-versions/{p.version_id}/problems"), bulk=True
    ),
    ("POST", "/admin/boundary-versions/draft"): Rule(
        ADMIN,
        lambda p, _: Call(
            "/admin/boundary-versions/draft",
            json={"community_code": p.community, "shape": "square", "size_m": 200},
        ),
        bulk=True,
    ),
    ("POST", "/admin/boundary-versions/{version_id}/activate"): Rule(
        ADMIN, lambda p, _: Call(f"/admin/boundary-versions/{p.version_id}/activate"), bulk=True
    ),
    ("GET", "/inbox"): Rule(SIGNED_IN, _fixed("/inbox")),
    # Someone else's notification does not exist for you.
    ("POST", "/inbox/{item_id}/read"): Rule(
        SIGNED_IN,
        lambda p, role: Call(f"/inbox/{p.inbox_item(role)}/read"),
        scoped=True,
        outside_for={"admin": 404},
    ),
    ("GET", "/inbox/stream"): Rule(SIGNED_IN, _fixed("/inbox/stream"), stream=True),
    ("POST", "/admin/webhooks"): Rule(
        ADMIN,
        _fixed("/admin/webhooks", json={"url": "https://receiver.example.org/hook", "topics": []}),
    ),
    ("GET", "/admin/webhooks"): Rule(ADMIN, _fixed("/admin/webhooks")),
    ("DELETE", "/admin/webhooks/{webhook_id}"): Rule(
        ADMIN, lambda p, _: Call(f"/admin/webhooks/{p.webhook_id}")
    ),
    ("GET", "/admin/audit"): Rule(ADMIN, _fixed("/admin/audit")),
    ("GET", "/admin/bans"): Rule(ADMIN, _fixed("/admin/bans")),
    ("POST", "/admin/bans"): Rule(
        ADMIN, _fixed("/admin/bans", json={"network": "198.51.100.0/24", "reason": "测试"})
    ),
    ("POST", "/admin/bans/{ban_id}/lift"): Rule(
        ADMIN, lambda p, _: Call(f"/admin/bans/{p.ban_id}/lift")
    ),
    # --- publication review ---------------------------------------------------------------
    ("GET", "/review-queue"): Rule(MANAGERS, _fixed("/review-queue")),
    ("GET", "/incidents/{tracking_number}/publication"): Rule(
        STAFF, lambda p, _: Call(f"/incidents/{p.open_number}/publication"), scoped=True
    ),
    # Reviewers are managers over the report; the worker sees it but may not review.
    ("POST", "/incidents/{tracking_number}/review"): Rule(
        STAFF,
        lambda p, _: Call(
            f"/incidents/{p.open_number}/review", json={"publish_photos": [p.photo_id]}
        ),
        scoped=True,
        inside={"grid_worker": 403},
    ),
    ("GET", "/incidents/{tracking_number}/photos/{photo_id}"): Rule(
        STAFF, lambda p, _: Call(f"/incidents/{p.open_number}/photos/{p.photo_id}"), scoped=True
    ),
    ("GET", "/reports/{tracking_number}/photos/{photo_id}"): public(
        lambda p, _: Call(f"/reports/{p.open_number}/photos/{p.photo_id}")
    ),
    ("GET", "/reports/{tracking_number}/photos/{photo_id}/thumbnail"): public(
        lambda p, _: Call(f"/reports/{p.open_number}/photos/{p.photo_id}/thumbnail")
    ),
    # --- the 12345 hotline ----------------------------------------------------------------
    ("POST", "/admin/hotline/imports"): Rule(
        ADMIN,
        _fixed(
            "/admin/hotline/imports",
            files={"file": ("orders.csv", *_CSV)},
            data={"dry_run": "true"},
        ),
    ),
    ("POST", "/admin/hotline/exports"): Rule(
        ADMIN, _fixed("/admin/hotline/exports", params={"dry_run": "true"})
    ),
    # --- OGC API - Features (public layers) -----------------------------------------------
    ("GET", "/ogc"): standard(_fixed("/ogc")),
    ("GET", "/ogc/"): standard(_fixed("/ogc/")),
    ("GET", "/ogc/conformance"): standard(_fixed("/ogc/conformance")),
    ("GET", "/ogc/api"): standard(_fixed("/ogc/api")),
    ("GET", "/ogc/collections"): standard(_fixed("/ogc/collections")),
    ("GET", "/ogc/collections/{collection_id}"): standard(_fixed("/ogc/collections/cells")),
    ("GET", "/ogc/collections/{collection_id}/schema"): standard(
        _fixed("/ogc/collections/cells/schema")
    ),
    ("GET", "/ogc/collections/{collection_id}/queryables"): standard(
        _fixed("/ogc/collections/cells/queryables")
    ),
    ("GET", "/ogc/collections/{collection_id}/items"): standard(
        _fixed("/ogc/collections/cells/items")
    ),
    ("GET", "/ogc/collections/{collection_id}/items/{feature_id}"): standard(
        lambda p, _: Call(f"/ogc/collections/cells/items/{p.cell}")
    ),
    **{
        (method, "/ogc/{rest:path}"): standard(_fixed("/ogc/no-such-thing"))
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    },
    # --- Open311 GeoReport v2 (public; api_key only widens what a client sees) ----------
    ("GET", "/open311/v2/discovery.{fmt}"): standard(_fixed("/open311/v2/discovery.json")),
    ("GET", "/open311/v2/services.{fmt}"): standard(_fixed("/open311/v2/services.json")),
    ("GET", "/open311/v2/services/{service_code}.{fmt}"): standard(
        _fixed("/open311/v2/services/fire.gas.json")
    ),
    ("POST", "/open311/v2/requests.{fmt}"): standard(
        lambda p, _: Call(
            "/open311/v2/requests.json",
            data={"service_code": "community.streetlight", "lat": p.lat, "long": p.lon},
        )
    ),
    ("GET", "/open311/v2/requests.{fmt}"): standard(_fixed("/open311/v2/requests.json")),
    ("GET", "/open311/v2/requests/{service_request_id}.{fmt}"): standard(
        lambda p, _: Call(f"/open311/v2/requests/{p.open_number}.json")
    ),
    ("GET", "/open311/v2/tokens/{token}.{fmt}"): standard(
        lambda p, _: Call(f"/open311/v2/tokens/{p.open_number}.json")
    ),
    **{
        (method, "/open311/v2/{path:path}"): standard(_fixed("/open311/v2/no-such-thing"))
        for method in ("GET", "POST")
    },
}
