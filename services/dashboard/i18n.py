"""UI texts, zh-CN first. Terms follow 《零碳园区建设指南》 and its drafting notes."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

TEXTS: dict[str, dict[Lang, str]] = {
    "title": {"zh": "园区能碳管理平台", "en": "Park Energy–Carbon Management Platform"},
    "overview": {"zh": "运行总览", "en": "Operations overview"},
    "current_load": {"zh": "当前负荷", "en": "Current load"},
    "latest_factor": {"zh": "最新电碳因子", "en": "Latest carbon factor"},
    "energy_24h": {"zh": "近24小时用电量", "en": "Electricity, last 24 h"},
    "emissions_24h": {"zh": "近24小时碳排放", "en": "Emissions, last 24 h"},
    "coverage": {"zh": "平台企业覆盖率", "en": "Enterprise coverage"},
    "coverage_target": {"zh": "目标 > 95%", "en": "target > 95 %"},
    "factor_curve": {"zh": "园区逐时电碳因子（近7天）", "en": "Hourly park carbon factor (7 days)"},
    "factor_axis": {"zh": "电碳因子 kgCO₂/kWh", "en": "kgCO₂/kWh"},
    "emissions_chart": {"zh": "园区逐时碳排放（近7天）", "en": "Hourly park emissions (7 days)"},
    "emissions_axis": {"zh": "碳排放 kgCO₂", "en": "kgCO₂"},
    "scope1": {"zh": "直接排放（天然气）", "en": "Scope 1 (natural gas)"},
    "scope2": {"zh": "间接排放（电力、热力）", "en": "Scope 2 (electricity, heat)"},
    "energy_mix": {"zh": "近24小时电力来源结构", "en": "Electricity supply mix, last 24 h"},
    "grid_import": {"zh": "电网购电", "en": "Grid import"},
    "green_import": {"zh": "绿电直供", "en": "Direct green supply"},
    "pv": {"zh": "屋顶光伏", "en": "Rooftop PV"},
    "uncovered": {"zh": "未覆盖企业及原因", "en": "Enterprises not covered and why"},
    "enterprise": {"zh": "企业名称", "en": "Enterprise"},
    "uscc": {"zh": "统一社会信用代码", "en": "Unified social credit code"},
    "reason": {"zh": "原因", "en": "Reason"},
    "last_reading": {"zh": "最后数据时间", "en": "Last reading"},
    "reason_no_meter": {"zh": "未安装企业总表", "en": "no main meter installed"},
    "reason_no_recent_data": {"zh": "近1小时无数据（通讯中断）", "en": "no data in the last hour"},
    "all_covered": {"zh": "全部企业已接入", "en": "every enterprise is covered"},
    "enterprises": {"zh": "园区企业", "en": "Park enterprises"},
    "covered_of": {"zh": "已接入 {covered} / {total} 家", "en": "{covered} of {total} covered"},
    "login": {"zh": "登录", "en": "Sign in"},
    "username": {"zh": "用户名", "en": "Username"},
    "password": {"zh": "密码", "en": "Password"},
    "login_failed": {"zh": "用户名或密码错误", "en": "Wrong username or password"},
    "login_limited": {
        "zh": "登录失败次数过多，请稍后再试",
        "en": "Too many failed sign-ins; try again later",
    },
    "enterprise_portal": {"zh": "企业能碳看板", "en": "Enterprise energy and carbon"},
    "my_meters": {"zh": "本企业计量表", "en": "Our meters"},
    "meter_code": {"zh": "表号", "en": "Meter"},
    "meter_name": {"zh": "名称", "en": "Name"},
    "meter_role": {"zh": "类型", "en": "Role"},
    "energy_7d": {"zh": "近7天用电量", "en": "Electricity, last 7 days"},
    "emissions_7d": {"zh": "近7天碳排放", "en": "Emissions, last 7 days"},
    "ent_emissions_chart": {"zh": "本企业逐时碳排放（近7天）", "en": "Our hourly emissions (7 days)"},
    "signed_in_as": {"zh": "当前用户", "en": "Signed in as"},
    # meter roles (services/core/models/park.py MeterRole), as the register names them
    "role_grid_import": {"zh": "关口表", "en": "Grid connection"},
    "role_feeder": {"zh": "馈线表", "en": "Feeder"},
    "role_enterprise_main": {"zh": "企业总表", "en": "Enterprise main meter"},
    "role_submeter": {"zh": "分项表", "en": "Sub-meter"},
    "role_pv": {"zh": "光伏", "en": "PV"},
    "role_wind": {"zh": "风电", "en": "Wind"},
    "role_chp": {"zh": "热电联产", "en": "CHP"},
    "role_storage": {"zh": "储能", "en": "Storage"},
    "role_gas": {"zh": "天然气表", "en": "Gas meter"},
    "role_heat": {"zh": "热量表", "en": "Heat meter"},
    "logout": {"zh": "退出", "en": "Sign out"},
    "no_data": {"zh": "暂无数据", "en": "no data yet"},
    "grid_factor_note": {
        "zh": "电网排放因子：{source}，{value} kgCO₂/kWh",
        "en": "Grid factor: {source}, {value} kgCO₂/kWh",
    },
    "switch_lang": {"zh": "English", "en": "中文"},
}


def translator(lang: Lang) -> dict[str, str]:
    return {key: texts[lang] for key, texts in TEXTS.items()}


def pick_lang(value: str | None) -> Lang:
    return "en" if value == "en" else "zh"
