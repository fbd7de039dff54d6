"""Network names: one module formats and parses ``a+b@half``."""

import pytest

from taskgroup.measure.candidates import Candidate, parse_candidate
from taskgroup.naming import is_full_size, network_name, network_variant, split_network_name


@pytest.mark.parametrize(
    "tasks, variant, name",
    [(("a",), "full", "a"), (("a", "b"), "full", "a+b"), (("b",), "half", "b@half"), (("a", "c"), "x2", "a+c@x2")],
)
def test_format_and_parse_are_inverse(tasks, variant, name):
    assert network_name(tasks, variant) == name
    assert split_network_name(name) == (tasks, variant)
    assert network_variant(name) == variant and is_full_size(name) == (variant == "full")
    assert Candidate(tasks, variant).name == name


def test_parsing_strips_spaces_and_candidates_use_suite_order():
    assert split_network_name(" b + a @half ") == (("b", "a"), "half")
    assert parse_candidate("b+a", ["a", "b"]) == Candidate(("a", "b"))
