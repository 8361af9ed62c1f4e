"""Fixtures shared by test files."""

import pytest


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
