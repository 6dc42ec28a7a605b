"""The demo retailers' display labels in Chinese (`[labels.zh-CN]` of their node.toml)."""

from __future__ import annotations

ZH_CN: dict[str, str] = {
    "age_band": "年龄段",
    "age_band.18-24": "18-24 岁",
    "age_band.25-34": "25-34 岁",
    "age_band.35-44": "35-44 岁",
    "age_band.45-54": "45-54 岁",
    "age_band.55-64": "55-64 岁",
    "age_band.65+": "65 岁及以上",
    "gender": "性别",
    "gender.female": "女",
    "gender.male": "男",
    "gender.unknown": "未知",
    "city_tier": "城市等级",
    "city_tier.tier1": "一线城市",
    "city_tier.tier2": "二线城市",
    "city_tier.tier3": "三线城市",
    "city_tier.tier4": "四线及以下城市",
    "favourite_category": "偏好品类",
    "favourite_category.apparel": "服装",
    "favourite_category.beauty": "美妆",
    "favourite_category.food_beverage": "食品饮料",
    "favourite_category.home_living": "家居生活",
    "favourite_category.electronics": "数码电器",
    "favourite_category.mother_baby": "母婴",
    "favourite_category.sports_outdoor": "运动户外",
    "favourite_category.health": "健康",
    "favourite_category.other": "其他品类",
    "spend_12m": "近12个月消费金额",
    "visits_12m": "近12个月到店次数",
}
