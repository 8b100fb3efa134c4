"""Server-rendered page shells (Jinja2). The pages fetch their data over the JSON APIs in
the browser, so this module needs neither the register nor the incidents packages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

from branca.colormap import StepColormap
from jinja2 import Environment, FileSystemLoader, select_autoescape

from maps.assets import assets_version, missing_vendor_files

Language = Literal["zh-Hans", "en"]
TEMPLATES = Path(__file__).parent / "templates"

# Every label a page or its script shows, in both languages.
STRINGS: dict[str, dict[str, str]] = {
    "zh-Hans": {
        "site": "网格化社会治理",
        "map_title": "隐患地图",
        "report_title": "隐患上报",
        "track_title": "进度查询",
        "other_language": "English",
        "assets_missing": "页面资源未安装（请运行 scripts/setup）：",
        "category": "隐患类别",
        "all_categories": "全部类别",
        "choose_category": "请选择类别",
        "location": "位置",
        "location_hint": "在地图上点击以标记隐患位置",
        "use_centre": "使用地图中心位置",
        "no_pin": "请在地图上标记位置",
        "pin_at": "已标记：",
        "description": "情况描述",
        "phone": "联系电话（可选）",
        "submit": "提交",
        "submitting": "正在提交…",
        "submitted": "上报成功，查询编号：",
        "track_link": "查看处理进度",
        "failed": "提交失败：",
        "network": "网络错误，请重试",
        "legend": "图例",
        "heat": "热力图",
        "loading": "加载中…",
        "not_found": "未找到该编号的上报",
        "status": "状态",
        "timeline": "处理经过",
        "created_at": "上报时间",
        "resolve_due_at": "办结时限",
        "cell": "网格",
        "s_submitted": "已上报",
        "s_assigned": "已派发",
        "s_accepted": "已受理",
        "s_in_progress": "处理中",
        "s_transferred": "已转办",
        "s_reopened": "已重新办理",
        "s_resolved": "已办结",
        "s_closed": "已关闭",
        "s_rejected": "不予受理",
        "s_duplicate": "重复上报",
        "s_emergency_referral": "已转 119",
        "dashboard_title": "网格覆盖图",
        "login_title": "管理人员登录",
        "username": "用户名",
        "password": "密码",
        "login": "登录",
        "logout": "退出登录",
        "login_failed": "登录失败：",
        "not_manager": "仅限社区、街道、区级管理人员和管理员",
        "layer": "图层",
        "layer_staffed": "网格员配备",
        "layer_open": "未办结上报",
        "layer_overdue": "超期上报",
        "layer_satisfaction": "满意度（近 30 天）",
        "staffed": "已配备网格员",
        "unstaffed": "未配备网格员",
        "no_data": "无数据",
        "open": "未办结",
        "overdue": "超期",
        "satisfaction": "满意度",
        "ratings": "有效评价",
        "truncated": "范围内网格过多，仅显示前 1000 个，请放大地图",
        "worker_title": "我的工作地图",
        "worker_login_title": "网格员登录",
        "not_worker": "此页面仅限网格员使用",
        "my_incidents": "我的待办",
        "no_incidents": "暂无待办",
        "patrol_title": "巡查清单（按风险排序）",
        "no_buildings": "暂无巡查楼栋",
        "due": "时限",
        "no_due": "无时限",
        "details": "详情",
        "score": "风险分",
        "p_open_fire_hazards": "未办结火灾隐患",
        "p_past_fire_hazards": "一年内火灾隐患",
        "p_rental_density": "出租比例",
        "p_building_age": "楼龄",
        "p_vulnerable_residents": "需关照人员",
        "p_days_since_visit": "距上次巡查",
    },
    "en": {
        "site": "Grid governance",
        "map_title": "Hazard map",
        "report_title": "Report a hazard",
        "track_title": "Track a report",
        "other_language": "中文",
        "assets_missing": "Page assets are not installed (run scripts/setup): ",
        "category": "Category",
        "all_categories": "All categories",
        "choose_category": "Choose a category",
        "location": "Location",
        "location_hint": "Click the map where the hazard is",
        "use_centre": "Use the map centre",
        "no_pin": "Mark the place on the map",
        "pin_at": "Marked: ",
        "description": "Description",
        "phone": "Contact phone (optional)",
        "submit": "Submit",
        "submitting": "Submitting…",
        "submitted": "Report received. Tracking number: ",
        "track_link": "Follow its progress",
        "failed": "Not submitted: ",
        "network": "Network error, please retry",
        "legend": "Legend",
        "heat": "Heat map",
        "loading": "Loading…",
        "not_found": "No report with this number",
        "status": "Status",
        "timeline": "Timeline",
        "created_at": "Reported",
        "resolve_due_at": "Due",
        "cell": "Grid cell",
        "s_submitted": "Submitted",
        "s_assigned": "Assigned",
        "s_accepted": "Accepted",
        "s_in_progress": "In progress",
        "s_transferred": "Transferred",
        "s_reopened": "Reopened",
        "s_resolved": "Resolved",
        "s_closed": "Closed",
        "s_rejected": "Rejected",
        "s_duplicate": "Duplicate",
        "s_emergency_referral": "Referred to 119",
        "dashboard_title": "Coverage map",
        "login_title": "Manager sign-in",
        "username": "User name",
        "password": "Password",
        "login": "Sign in",
        "logout": "Sign out",
        "login_failed": "Not signed in: ",
        "not_manager": "For community, street and district managers and administrators only",
        "layer": "Layer",
        "layer_staffed": "Grid worker assigned",
        "layer_open": "Open reports",
        "layer_overdue": "Overdue reports",
        "layer_satisfaction": "Satisfaction (last 30 days)",
        "staffed": "Worker assigned",
        "unstaffed": "No worker",
        "no_data": "No data",
        "open": "Open",
        "overdue": "Overdue",
        "satisfaction": "Satisfaction",
        "ratings": "Valid ratings",
        "truncated": "Too many cells here: the first 1,000 are shown; zoom in",
        "worker_title": "My work map",
        "worker_login_title": "Grid worker sign-in",
        "not_worker": "This page is for grid workers only",
        "my_incidents": "My reports",
        "no_incidents": "Nothing assigned to you",
        "patrol_title": "Patrol list (riskiest first)",
        "no_buildings": "No buildings to patrol",
        "due": "Due",
        "no_due": "No deadline",
        "details": "Details",
        "score": "Risk score",
        "p_open_fire_hazards": "Open fire hazards",
        "p_past_fire_hazards": "Fire hazards this year",
        "p_rental_density": "Rented share",
        "p_building_age": "Building age",
        "p_vulnerable_residents": "Residents needing care",
        "p_days_since_visit": "Days since last visit",
    },
}

# Marker colours per status (open ones warm, handled ones cool); readable on white.
STATUS_COLOURS = {
    "submitted": "#c0392b",
    "assigned": "#d35400",
    "accepted": "#b7791f",
    "in_progress": "#8e44ad",
    "transferred": "#6d4c41",
    "reopened": "#c2185b",
    "resolved": "#2e7d32",
    "closed": "#546e7a",
}


# The coverage map's layers. folium's own HTML loads Leaflet from a CDN and runs inline
# scripts, which the offline rule and our CSP (script-src 'self') forbid; so the map is
# drawn by our Leaflet script (static/js/dashboard.js) and only the colour scales come
# from branca, folium's colour-map library: each layer is a property of the cell
# features, its class breaks and a colour per class (the legend shows the same).
NO_DATA_COLOUR = "#d9d9d9"
_REDS = ["#fee5d9", "#fcae91", "#fb6a4a", "#cb181d"]
_COUNT_BREAKS = [0, 1, 3, 6, 10]  # classes [0,1) [1,3) [3,6) [6,∞)
_SATISFACTION_COLOURS = ["#d7301f", "#fc8d59", "#91cf60", "#1a9850"]
_SATISFACTION_BREAKS = [0.0, 0.6, 0.8, 0.9, 1.0]


def _classes(colours: list[str], breaks: list[float]) -> list[dict[str, Any]]:
    """One class per colour, [min, max), its colour read from a branca step colour map."""
    scale = StepColormap(colours, index=breaks, vmin=breaks[0], vmax=breaks[-1])
    return [
        {"min": low, "max": high, "colour": scale.rgb_hex_str(low)}
        for low, high in pairwise(breaks)
    ]


def dashboard_config() -> dict[str, Any]:
    """The coverage map's layers for its script: property, label key and classes."""
    return {
        "noDataColour": NO_DATA_COLOUR,
        "layers": [
            {
                "id": "staffed",
                "property": "staffed",
                "kind": "boolean",
                "classes": [
                    {"value": True, "colour": "#2b8cbe", "label": "staffed"},
                    {"value": False, "colour": "#e34a33", "label": "unstaffed"},
                ],
            },
            {
                "id": "open",
                "property": "open",
                "kind": "count",
                "classes": _classes(_REDS, _COUNT_BREAKS),
            },
            {
                "id": "overdue",
                "property": "overdue",
                "kind": "count",
                "classes": _classes(_REDS, _COUNT_BREAKS),
            },
            {
                "id": "satisfaction",
                "property": "satisfaction",
                "kind": "rate",
                "classes": _classes(_SATISFACTION_COLOURS, _SATISFACTION_BREAKS),
            },
        ],
    }


@dataclass(frozen=True)
class PageContext:
    """What every page shell needs besides its own data."""

    lang: Language
    basemap_url: str | None
    # The place to show first: [min lon, min lat, max lon, max lat].
    extent: tuple[float, float, float, float]


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def pick_language(requested: str | None, default: Language) -> Language:
    """`?lang=en` or `?lang=zh-Hans`; anything else is the default."""
    return requested if requested in STRINGS else default  # type: ignore[return-value]


def render_page(template: str, ctx: PageContext, path: str, **data: Any) -> str:
    """A page shell with its strings and a JSON config for its script."""
    strings = STRINGS[ctx.lang]
    other: Language = "en" if ctx.lang == "zh-Hans" else "zh-Hans"
    config = {
        "lang": ctx.lang,
        "strings": strings,
        "basemapUrl": ctx.basemap_url,
        "extent": ctx.extent,
        "statusColours": STATUS_COLOURS,
        **data,
    }
    return (
        _environment()
        .get_template(template)
        .render(
            t=strings,
            lang=ctx.lang,
            other_lang=other,
            path=path,
            missing=missing_vendor_files(),
            v=assets_version(),
            # Safe inside <script type="application/json">: no "</" can end the element.
            config=json.dumps(config, ensure_ascii=False).replace("</", "<\\/"),
            status_colours=STATUS_COLOURS,
            **data,
        )
    )
