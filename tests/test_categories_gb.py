"""Categories carry their class in 城市管理部件和事件 (GB/T 30428.2) and GB 35181's
major-fire-hazard flag, and Open311 service discovery names them in keywords."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from incidents.categories import StandardClass, bundled_categories, category_spec


def test_every_bundled_category_has_a_standard_class():
    for spec in bundled_categories():
        assert spec.standard is not None, spec.code
        assert spec.standard.major_name and spec.standard.minor_name


def test_classes_follow_the_standard_major_classes():
    assert category_spec("community.illegal_construction").standard.label() == (
        "GB/T 30428.2 事件 01 市容环境 / 私搭乱建"
    )
    manhole = category_spec("community.manhole").standard
    assert (manhole.kind, manhole.major, manhole.major_name) == ("component", "01", "公用设施")
    assert category_spec("fire.burning_now").standard.major_name == "突发事件"


def test_major_fire_hazards_are_flagged_and_nothing_else():
    flagged = {spec.code for spec in bundled_categories() if spec.major_fire_hazard}
    assert flagged == {
        "fire.blocked_exit",
        "fire.equipment",
        "fire.flammable_storage",
        "fire.blocked_lane",
    }


@pytest.mark.parametrize("bad", [{"major": "1"}, {"minor": "12"}, {"kind": "thing"}])
def test_malformed_codes_are_refused(bad):
    fields = {"kind": "event", "major": "01", "major_name": "市容环境", "minor_name": "私搭乱建"}
    with pytest.raises(ValidationError):
        StandardClass.model_validate(fields | bad)


async def test_open311_services_carry_the_classification_in_keywords(client):
    response = await client.get("/open311/v2/services.json")
    assert response.status_code == 200, response.text
    services = {s["service_code"]: s for s in response.json()}
    exit_ = services["fire.blocked_exit"]["keywords"]
    assert "GB/T 30428.2 事件 06 扩展事件 / 安全出口、疏散通道堵塞" in exit_
    assert "GB 35181-2025 重大火灾隐患判定" in exit_
    manhole = services["community.manhole"]["keywords"]
    assert "GB/T 30428.2 部件 01 公用设施" in manhole
    assert "GB 35181" not in manhole
