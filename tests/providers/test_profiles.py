"""The shipped provider profiles (profiles.toml): one profile read alone reads as in the whole file."""

from __future__ import annotations

from credenza.providers.profiles import shipped_profile, shipped_profiles


def test_each_shipped_profile_parsed_alone_is_the_same_as_in_the_whole_file() -> None:
    everything = shipped_profiles()
    assert everything  # the file ships profiles
    for key, profile in everything.items():
        assert shipped_profile(key) == profile


def test_a_profile_that_is_not_shipped_is_empty() -> None:
    assert shipped_profile("sandbox") == {}
    assert shipped_profile("") == {}
    assert shipped_profile("telenor.reset") == {}
