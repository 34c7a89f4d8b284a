"""A GPU that the installed llama.cpp cannot use: Models and Settings say so and how to get a GPU build."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QScrollArea

from desktop_app.models import discovery
from desktop_app.models.hardware import Gpu, probe
from desktop_app.providers.llama_caps import gpu_build_command
from desktop_app.ui.pages.models import COL_FIT, ModelsPage, spec_for
from desktop_app.ui.pages.settings import SettingsPage

GiB = 1024**3
RTX = Gpu(backend="cuda", name="NVIDIA GeForce RTX 4070", vram_total=12 * GiB, vram_free=11 * GiB,
          driver_version="550.54.14")


@pytest.fixture(autouse=True)
def no_other_apps(monkeypatch):
    monkeypatch.setattr(discovery, "default_roots", lambda **_: [])


def with_gpu(ctx, gpu_offload: bool | None) -> None:
    """This machine, plus an NVIDIA card, and llama.cpp's answer on offload (set before any screen probes)."""
    ctx.__dict__["hardware"] = dataclasses.replace(probe(), gpus=(RTX,), gpu_offload=gpu_offload)


def models_page(open_page, qtbot, ctx, size=(1100, 720)) -> ModelsPage:
    page = open_page(ModelsPage, ctx, size)
    if page.is_scanning():
        with qtbot.waitSignal(page.scanned, timeout=20_000):
            pass
    return page


def test_models_says_the_gpu_is_unused_and_how_to_get_a_gpu_build(open_page, qtbot, ctx, demo_model):
    with_gpu(ctx, gpu_offload=False)
    ctx.settings = dataclasses.replace(ctx.settings, gpu_layers=-1)
    page = models_page(open_page, qtbot, ctx)

    banner = page.gpu_banner
    assert banner.isVisible()
    assert banner.title.text() == "NVIDIA GeForce RTX 4070 is not used: llama.cpp here is a CPU-only build"
    assert banner.text.text().startswith("To use the GPU, rebuild llama-cpp-python with CUDA")
    assert gpu_build_command("cuda") in banner.text.text() and "-DGGML_VULKAN=on" in banner.text.text()
    assert banner.text.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    qtbot.mouseClick(banner.action, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == gpu_build_command("cuda")

    row = page.model.row_of(demo_model)
    assert page.model.index(row, COL_FIT).data() == "CPU"  # not "GPU", though 11 GiB of VRAM is free
    page.select_path(demo_model)
    assert page.detail.fit.text().startswith("Runs on the CPU")
    assert "CPU-only build" in page.detail.fit.text()
    assert spec_for(ctx.settings, ctx.hardware, page.model.rows[row]).n_gpu_layers == 0  # Load asks for none


def test_no_note_when_llama_cpp_can_offload(open_page, qtbot, ctx, demo_model):
    with_gpu(ctx, gpu_offload=None)  # unknown (an old record): as before, the GPU is used
    page = models_page(open_page, qtbot, ctx)
    assert not page.gpu_banner.isVisible()
    assert page.model.index(page.model.row_of(demo_model), COL_FIT).data() == "GPU"


def test_settings_says_the_gpu_is_unused_next_to_gpu_layers(open_page, qtbot, ctx):
    with_gpu(ctx, gpu_offload=False)
    page = open_page(SettingsPage, ctx)
    note = page.gpu_note.text()
    assert note.startswith("Detected: NVIDIA GeForce RTX 4070 (12.0 GiB).\nThe installed llama-cpp-python was "
                           "built for the CPU only")
    assert gpu_build_command("cuda") in note
    assert page.gpu_note.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse

    with_gpu(ctx, gpu_offload=True)
    page = open_page(SettingsPage, ctx)
    assert page.gpu_note.text() == "Detected: NVIDIA GeForce RTX 4070 (12.0 GiB)."


@pytest.mark.parametrize("size", [(900, 600), (1400, 900)])
@pytest.mark.parametrize("gpu_offload", [False, None])
def test_screenshots_of_the_gpu_build_note(styled, open_page, qtbot, ctx, demo_model, size, gpu_offload, shots):
    with_gpu(ctx, gpu_offload=gpu_offload)
    models = models_page(open_page, qtbot, ctx, size)
    models.select_path(demo_model)
    settings = open_page(SettingsPage, ctx, size)
    qtbot.wait(50)  # let the layouts settle
    for area in settings.findChildren(QScrollArea):
        if area.isAncestorOf(settings.gpu_note):
            area.ensureWidgetVisible(settings.gpu_note, 0, 120)
    qtbot.wait(20)
    assert models.gpu_banner.isVisible() is (gpu_offload is False)
    name = "cpu-build" if gpu_offload is False else "gpu"
    assert models.grab().save(str(shots / f"models-{name}-{size[0]}.png"))
    assert settings.grab().save(str(shots / f"settings-{name}-{size[0]}.png"))
