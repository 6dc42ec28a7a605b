"""The demo's configs: retailers declare the profile attributes and their zh-CN display labels."""

from __future__ import annotations

from pathlib import Path

from gongying.demo_configs import write_configs
from gongying.demo_data import RETAILERS, generate_demo_data
from gongying.demo_labels import ZH_CN
from gongying.demo_profile import DEMO_ATTRIBUTES
from node.config import load_node_config


def test_retailers_declare_attributes_and_chinese_labels(tmp_path: Path) -> None:
    data = generate_demo_data(tmp_path / "data", members=50, seed=1)
    write_configs(tmp_path, dict(data.paths), paillier_bits=2048)
    for party in data.paths:
        config = load_node_config(tmp_path / "configs" / f"{party}.toml")
        if party in RETAILERS:
            assert tuple(config.attributes.values()) == DEMO_ATTRIBUTES
            assert dict(config.labels["zh-CN"]) == ZH_CN
        else:
            assert not config.attributes and not config.labels
