"""Fixtures shared by test files."""

import pytest


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
