"""`[labels.<lang>]` in node.toml: a correct table is ready to serve; each mistake (unknown
language, attribute or bin, a numeric attribute's bin, an empty label) is one line naming the
file, the table and the key, with the fix (`gongying node check` prints it as one `error:` line,
no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.config import load_node_config
from runtime.config_file import ConfigError
from tests.usability.conftest import Shared, assert_refused, gongying, write_node

GOOD = """
[labels.zh-CN]
age_band = "年龄段"
"age_band.18-24" = "18-24岁"
"age_band.other" = "其他"

[labels.en]
"age_band.45+" = "45 and over"
"""


def test_labels_are_read_per_language(shared: Shared, tmp_path: Path) -> None:
    path = write_node(tmp_path, shared.node_text() + GOOD, shared.policy_text())
    assert load_node_config(path).labels == {
        "zh-CN": {"age_band": "年龄段", "age_band.18-24": "18-24岁", "age_band.other": "其他"},
        "en": {"age_band.45+": "45 and over"},
    }
    outcome = gongying("node", "check", "--config", str(path))
    assert outcome.code == 0, outcome.stderr


MISTAKES = [
    # (the [labels] text, fragments of the one error line)
    ('[labels.zh_CN]\nage_band = "年龄段"', ("[labels.zh_CN]", "did you mean [labels.zh-CN]?")),
    ('[labels.fr]\nage_band = "âge"', ("unknown language 'fr'", "supported: en, zh-CN")),
    (
        '[labels.zh-CN]\nage_bnad = "年龄段"',
        ("[labels.zh-CN].age_bnad", "no attribute 'age_bnad'", "did you mean 'age_band'?"),
    ),
    (
        '[labels.zh-CN]\n"age_band.18-25" = "青年"',
        ("[labels.zh-CN].age_band.18-25", "not a bin of 'age_band'", "18-24"),
    ),
    ('[labels.zh-CN]\nage_band = ""', ("[labels.zh-CN].age_band", "non-empty string")),
    ("[labels.zh-CN]\nage_band = 3", ("[labels.zh-CN].age_band", "non-empty string")),
    ('[labels]\nzh-CN = "年龄段"', ("[labels.zh-CN]", "a table of labels")),
]


NUMERIC = '\n[attributes.spend]\nkind = "numeric"\nlower = 0.0\nupper = 10.0\n'
MISTAKES.append(
    (NUMERIC + '[labels.zh-CN]\n"spend.high" = "高"', ("'spend' is numeric", "spend = ..."))
)


@pytest.mark.parametrize(("text", "expected"), MISTAKES)
def test_a_label_mistake_is_one_line(
    shared: Shared, tmp_path: Path, text: str, expected: tuple[str, ...]
) -> None:
    path = write_node(tmp_path, shared.node_text() + "\n" + text + "\n", shared.policy_text())
    with pytest.raises(ConfigError) as refused:
        load_node_config(path)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message, message
    for fragment in expected:
        assert fragment in message, message


def test_node_check_says_it_in_one_error_line(shared: Shared, tmp_path: Path) -> None:
    text = shared.node_text() + '\n[labels.zh-CN]\nage_bnad = "年龄段"\n'
    path = write_node(tmp_path, text, shared.policy_text())
    outcome = gongying("node", "check", "--config", str(path))
    assert_refused(outcome, str(path), "no attribute 'age_bnad'", "did you mean 'age_band'?")
