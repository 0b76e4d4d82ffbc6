"""The suite's xdist groups: the tests that share a service run in one process, and long work starts first.

``make test`` runs ``pytest -n N --dist loadgroup``. pytest-xdist learns a test's group from an ``@group`` suffix it
writes into the test's node id on each worker; with pytest 9.2 that write no longer takes effect
(pytest-dev/pytest-xdist#1386), and the groups silently disappear: two processes then start two Docker daemons,
two SLURM clusters and two browsers side by side. So the kit pins pytest 9.1, and :class:`GroupCheck` stops the run
with one failing test that says why when a test that has a group reaches a worker without it.
"""
from __future__ import annotations

import pytest

__all__ = ["GROUPS", "group_of"]

#: marker -> the xdist group its tests run in: the tests that share a server, a daemon or a browser session run on
#: one worker, which starts it once. The first marker listed wins.
GROUPS = {"docker": "docker", "postgres": "postgres", "slurm": "slurm", "hub": "hub", "browser": "browser"}


def group_of(item: pytest.Item) -> str | None:
    """The name of the item's xdist group, or None."""
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return None
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the tests of each shared service in its xdist group (before xdist reads the groups), and run the long
    work first: the groups (one process each; xdist sends them out first anyway, the largest first), then the files
    with slow tests, then the rest -- so that no process is left with a long test at the end while the others idle.
    The order within a file is kept."""
    rank = {group: i for i, group in enumerate(GROUPS.values())}
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    for item in items:
        for marker, group in GROUPS.items():
            if item.get_closest_marker(marker) and not item.get_closest_marker("xdist_group"):
                item.add_marker(pytest.mark.xdist_group(group))
                break
    items.sort(key=lambda item: (rank.get(group_of(item) or "", len(rank)), 0 if item.path in slow_files else 1))


LOST = pytest.StashKey[str]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail the one test left when the groups were lost, with the reason."""
    if LOST in item.stash:
        pytest.fail(item.stash[LOST], pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    """Register the check that runs after xdist has tagged the node ids."""
    config.pluginmanager.register(GroupCheck(), "unet-kit-xdist-group-check")


class GroupCheck:
    """On a ``--dist loadgroup`` worker, after every other collection hook: each grouped test carries its group."""

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]):  # type: ignore[no-untyped-def]
        """Let the other hooks (xdist's among them) run, then look at the node ids they leave."""
        result = yield
        if not config.getoption("loadgroup", default=False):  # set on xdist workers only, for --dist loadgroup
            return result
        lost = [item.nodeid for item in items if group_of(item) and not item.nodeid.endswith(f"@{group_of(item)}")]
        if lost:
            # A worker cannot stop collection with a readable message (xdist shows an INTERNALERROR trace), so the
            # run is cut to one test that fails with it; the same on every worker, as xdist requires.
            message = (f"pytest-xdist did not put {len(lost)} tests in their --dist loadgroup group (e.g. {lost[0]}), "
                       f"so tests that share a service would run side by side: use the pytest that requirements.lock "
                       f"pins (make setup); see pytest-dev/pytest-xdist#1386")
            first = next(item for item in items if group_of(item))
            config.hook.pytest_deselected(items=[item for item in items if item is not first])
            first.stash[LOST] = message
            items[:] = [first]
        return result
