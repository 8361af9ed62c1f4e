"""Fixtures shared by test files, and the check that Qt can start before any viewer test does."""

from fnmatch import fnmatch
from pathlib import Path

import pytest

VIEWER_TEST_FILES = "test_napari_*.py"
QT_FIXTURES = {"qapp", "qtbot", "make_napari_viewer"}
_QT_PROBLEM = pytest.StashKey[object]()


def qt_problem(config) -> str | None:
    """Why Qt cannot open a window in this run (None when it can); asked once, in a child process.

    A Qt platform plugin that cannot load aborts the process that loads it, so pytest-qt's ``qapp``
    would end the whole run without a summary; asking a child first lets only the viewer tests fail.
    """
    if _QT_PROBLEM not in config.stash:
        from napari_dynmri._napari._qt_check import qt_window_problem

        config.stash[_QT_PROBLEM] = qt_window_problem()
    return config.stash[_QT_PROBLEM]


class ViewerTestsUnavailable(pytest.File):
    """Stands in for a viewer test file when Qt cannot start: one failing test saying why."""

    def collect(self):
        yield ViewerTestUnavailable.from_parent(self, name="viewer tests")


class ViewerTestUnavailable(pytest.Item):
    """A test that fails with the reason Qt cannot start."""

    def runtest(self):
        pytest.fail(f"the viewer tests in {self.path.name} did not run: {qt_problem(self.config)}", pytrace=False)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}: viewer tests"


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    """Viewer test files are not imported (their widgets import Qt) when Qt cannot start."""
    if fnmatch(module_path.name, VIEWER_TEST_FILES) and qt_problem(parent.config) is not None:
        return ViewerTestsUnavailable.from_parent(parent, path=module_path)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """A test elsewhere that needs a Qt application fails, rather than aborting the run, when Qt cannot start."""
    if QT_FIXTURES & set(getattr(item, "fixturenames", ())) and (problem := qt_problem(item.config)) is not None:
        pytest.fail(f"needs a Qt window: {problem}", pytrace=False)


@pytest.fixture(scope="module")
def cs_acquisition():
    """``(target, mask, kspace, zero_filled)`` of an 8 x 48 x 48 phantom cine, R = 4 vd-random, 6 centre lines."""
    from napari_dynmri.data.phantom import cardiac_phantom
    from napari_dynmri.physics import make_mask, undersample

    target = cardiac_phantom(8, 48, 48, seed=1)
    mask = make_mask("vd-random", target.shape, 4, center_lines=6, seed=1)
    kspace, zero_filled = undersample(target, mask)
    return target, mask, kspace, zero_filled


@pytest.fixture
def napari_notifications():
    """napari notifications shown during the test, as a list of ``(severity, message)`` pairs."""
    from napari.utils.notifications import notification_manager

    seen = []

    def record(notification):
        seen.append((str(notification.severity), notification.message))

    notification_manager.notification_ready.connect(record)
    yield seen
    notification_manager.notification_ready.disconnect(record)


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one torch thread: for tiny tensors thread synchronisation costs more
    than it saves on a shared machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ../shared beside the repository (data and weights too large for it); tests that need it skip without it.
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
