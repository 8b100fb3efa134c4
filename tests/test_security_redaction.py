"""Redaction before publication catches the forms an outside test slipped past it
(issue 15, item 14): Chinese-numeral and dotted phone numbers, spaced bank cards, e-mail,
WeChat and QQ ids and licence plates; near-misses stay as written."""

from __future__ import annotations

import pytest

from incidents.publication.redaction import (
    EMAIL_MASK,
    IM_MASK,
    NUMBER_MASK,
    PHONE_MASK,
    PLATE_MASK,
    redact,
)


@pytest.mark.parametrize(
    ("written", "masked"),
    [
        ("电话一三八一二三四五六七八", f"电话{PHONE_MASK}"),
        ("幺三八 一二三四 五六七八", PHONE_MASK),  # 幺 for 1, grouped 3-4-4
        ("壹叁捌壹贰叁肆伍陆柒捌", PHONE_MASK),
        ("一三九〇〇〇〇零零零零", PHONE_MASK),
        ("138.1234.5678", PHONE_MASK),
        ("138·1234·5678", PHONE_MASK),
        ("020.1234.5678", PHONE_MASK),
        ("卡号6222 0212 3456 7890 123", f"卡号{NUMBER_MASK}"),
        ("6222-0212-3456-7890", NUMBER_MASK),
        ("6222 0212 3456 7890", NUMBER_MASK),
        ("邮箱 zhang.san+x@example.com.cn 谢谢", f"邮箱 {EMAIL_MASK} 谢谢"),
        ("13812345678@qq.com", EMAIL_MASK),  # one mask, not a phone mask and a tail
        ("zhangsan＠163.com", EMAIL_MASK),
        ("微信号：wxid_ab12cd", f"微信号：{IM_MASK}"),
        ("加我微信 zhangsan_88", f"加我微信 {IM_MASK}"),
        ("vx: zhang-san88", f"vx: {IM_MASK}"),
        ("VX号 abc12345", f"VX号 {IM_MASK}"),
        ("QQ 12345678", f"QQ {IM_MASK}"),
        ("QQ号：987654321", f"QQ号：{IM_MASK}"),
        ("扣扣12345678", f"扣扣{IM_MASK}"),
        ("车牌粤A12345", f"车牌{PLATE_MASK}"),
        ("粤A·D12345停在楼道", f"{PLATE_MASK}停在楼道"),
        ("粤AD12345", PLATE_MASK),  # a new-energy plate
        ("京a 12345", PLATE_MASK),
        ("沪B1234学", PLATE_MASK),
    ],
)
def test_new_forms_of_personal_data_are_masked(written, masked):
    assert redact(written) == masked


@pytest.mark.parametrize(
    "written",
    [
        # The existing no-false-positive cases.
        "2026-11-24",
        "20261124",
        "261124-7K3M9QXA",
        "261124-13812345",
        "3栋2单元1501室",
        "119",
        "12345",
        "400-800-1234",
        # Near-misses of the new forms.
        "2026.11.24",
        "二〇二六年十一月二十四日",
        "三栋二单元一五零一室",
        "一一九",
        "3.5米",
        "192.168.1.10",
        "1381.234.567",  # ten digits
        "6222 0212 3456",  # twelve digits in groups of four
        "加我微信",
        "微信支付",
        "QQ音乐",
        "QQ群",
        "vxlan 12345",  # vx inside a Latin word
        "粤A",
        "浙江A12345",  # a province's full name is no plate
        "京ABCDE",  # no digit
        "粤A1234",  # too short
        "新iPhone12345",
        "user@localhost",  # no domain
        "我@你",
    ],
)
def test_near_misses_are_left_as_written(written):
    assert redact(written) == written


def test_several_forms_in_one_text_each_get_their_mask_and_the_rest_stays():
    written = "房东电话138.1234.5678，微信号：fangdong_88，车粤A·D12345堵住消防通道，2026-11-24"
    assert redact(written) == (
        f"房东电话{PHONE_MASK}，微信号：{IM_MASK}，车{PLATE_MASK}堵住消防通道，2026-11-24"
    )
