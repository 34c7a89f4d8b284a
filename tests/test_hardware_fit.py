"""Hardware probe and memory-fit estimate, checked against this machine, real files and llama.cpp's own numbers."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.models import hardware as hardware_module
from desktop_app.models.fit import (
    CPU_ONLY,
    FULL_GPU,
    PARTIAL_GPU,
    RUNTIME_BYTES,
    WILL_NOT_FIT,
    Fit,
    estimate_fit,
)
from desktop_app.models.gguf_meta import ModelInfo, read_metadata
from desktop_app.models.hardware import FEATURE_ORDER, Gpu, Hardware, probe
from desktop_app.units import format_bytes

GiB = 1024**3
MiB = 1024**2


def usable(free: int) -> int:
    """The safety margin, restated: keep max(10%, 512 MiB) of what is free."""
    return int(free - max(free * 0.10, 512 * MiB))


def compute_buffer(vocab: int, heads: int, embedding: int, context: int, batch: int = 512) -> int:
    """llama.cpp's compute buffer as fit.py documents it, restated independently."""
    return max(vocab * batch * 4, (heads + 1) * context * batch * 4) + 6 * batch * embedding * 4


def llama_70b(**changes: object) -> ModelInfo:
    """Llama-3-70B's real shape at a Q4_K_M-like 40 GiB file."""
    fields = dict(
        path="/models/llama-3-70b.Q4_K_M.gguf",
        file_size=40 * GiB,
        name="Llama 3 70B",
        architecture="llama",
        parameters=70_553_706_496,
        quantization="Q4_K_M",
        context_length=8192,
        layers=80,
        embedding_size=8192,
        attention_heads=64,
        kv_heads=8,
        head_size=128,
        vocab_size=128_256,
        has_chat_template=True,
        license="llama3",
        gguf_version=3,
        tensor_count=723,
    )
    fields.update(changes)
    return ModelInfo(**fields)


def machine(ram_available: int, *gpus: Gpu, ram_total: int | None = None) -> Hardware:
    return Hardware(
        system="Linux",
        machine="x86_64",
        cpu_name="Test CPU",
        physical_cores=8,
        logical_threads=16,
        ram_total=ram_total or ram_available + 2 * GiB,
        ram_available=ram_available,
        cpu_features=("sse3", "ssse3", "avx", "f16c", "fma", "avx2"),
        gpus=gpus,
    )


def nvidia(vram_free: int, vram_total: int = 8 * GiB) -> Gpu:
    return Gpu(backend="cuda", name="NVIDIA GeForce RTX 4060", vram_total=vram_total, vram_free=vram_free,
               driver_version="550.54.14")


# --- the probe --------------------------------------------------------------------------------


def test_probe_reports_sane_values_for_this_machine() -> None:
    hw = probe()
    assert hw.ram_total > hw.ram_available > 0
    assert 1 <= hw.physical_cores <= hw.logical_threads
    assert hw.system == platform.system() and hw.machine == platform.machine()
    assert hw.cpu_name
    assert set(hw.cpu_features) <= set(FEATURE_ORDER)
    for gpu in hw.gpus:
        assert gpu.vram_total >= gpu.vram_free >= 0 and gpu.name


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="needs Linux /proc/cpuinfo")
def test_probe_features_match_proc_cpuinfo() -> None:
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.lower().startswith(("flags", "features")):
            flags = set(line.split(":", 1)[1].split())
            break
    features = probe().cpu_features
    assert ("avx2" in features) == ("avx2" in flags)
    assert ("sse3" in features) == ("pni" in flags)
    assert ("neon" in features) == ("asimd" in flags)


def test_probe_twice_gives_the_same_machine() -> None:
    first, second = probe(), probe()
    assert (first.cpu_name, first.ram_total, first.gpus) == (second.cpu_name, second.ram_total, second.gpus)


def test_nvml_without_a_driver_gives_an_empty_list() -> None:
    import ctypes.util

    if ctypes.util.find_library("nvidia-ml") or Path("/proc/driver/nvidia").exists():
        pytest.skip("this machine has an NVIDIA driver, so NVML lists its GPUs: run on a machine without one to "
                    "check the empty answer (test_probe_reports_sane_values_for_this_machine checks the GPUs)")
    assert hardware_module._nvidia_gpus() == []
    assert probe().gpus == ()


def test_linux_arm_cpuinfo_features() -> None:
    # Text of a real AWS Graviton3 /proc/cpuinfo (first processor).
    cpuinfo = (
        "processor\t: 0\nBogoMIPS\t: 2100.00\n"
        "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt "
        "fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs paca pacg "
        "dcpodp svei8mm svebf16 i8mm bf16 dgh rng\n"
        "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: 0xd40\n"
    )
    _, features = hardware_module._linux_cpu(cpuinfo)
    assert features == ("neon", "dotprod", "i8mm", "sve")


def test_macos_sysctl_features() -> None:
    apple = (
        "machdep.cpu.brand_string: Apple M2\nhw.optional.arm.FEAT_DotProd: 1\nhw.optional.arm.FEAT_I8MM: 1\n"
        "hw.optional.arm.FEAT_SME: 0\nhw.optional.neon: 1\nhw.optional.floatingpoint: 1\n"
    )
    assert hardware_module._parse_sysctl(apple) == ("Apple M2", ("neon", "dotprod", "i8mm"))
    intel = (
        "machdep.cpu.brand_string: Intel(R) Core(TM) i9-9880H CPU @ 2.30GHz\n"
        "machdep.cpu.features: FPU VME SSE3 PCLMULQDQ SSSE3 FMA CX16 SSE4.1 SSE4.2 POPCNT AVX1.0 RDRAND F16C\n"
        "machdep.cpu.leaf7_features: RDWRFSGS TSC_THREAD_OFFSET SGX BMI1 AVX2 SMEP BMI2 ERMS INVPCID\n"
        "hw.optional.avx512f: 0\n"
    )
    name, features = hardware_module._parse_sysctl(intel)
    assert name.startswith("Intel(R) Core(TM) i9")
    assert features == ("sse3", "ssse3", "avx", "f16c", "fma", "avx2")


def test_hardware_round_trips_through_json() -> None:
    metal = Gpu(backend="metal", name="Apple M2", vram_total=16 * GiB, vram_free=9 * GiB, shares_ram=True)
    for hw in (probe(), machine(12 * GiB, nvidia(7 * GiB), metal)):
        assert Hardware.from_dict(json.loads(json.dumps(hw.to_dict()))) == hw


def test_hardware_from_an_older_record_with_missing_keys() -> None:
    hw = Hardware.from_dict({"cpu_name": "Old CPU", "ram_total": 8 * GiB, "ram_available": 4 * GiB})
    assert hw.gpus == () and hw.cpu_features == () and hw.physical_cores == 1


def test_summary() -> None:
    summary = probe().summary()
    assert re.match(r"^\d+ cores / \d+ threads, [\d.]+ GiB RAM \([\d.]+ GiB free\)", summary), summary
    hw = machine(22 * GiB + 900 * MiB, ram_total=23 * GiB + 400 * MiB)
    assert hw.summary() == "8 cores / 16 threads, 23.4 GiB RAM (22.9 GiB free), AVX2, no GPU"
    assert dataclasses.replace(hw, gpus=(nvidia(6 * GiB),)).summary().endswith(
        "AVX2, NVIDIA GeForce RTX 4060 (6.0 GiB of 8.0 GiB free)"
    )


def test_format_bytes() -> None:
    assert format_bytes(512) == "512 B"
    assert format_bytes(1024) == "1.0 KiB"
    assert format_bytes(98_362_432) == "93.8 MiB"
    assert format_bytes(int(21.9 * GiB)) == "21.9 GiB"
    assert format_bytes(3 * 1024**4) == "3.0 TiB"


# --- the estimate on the real demo model ------------------------------------------------------


def test_demo_model_fits_this_machine(demo_model: Path) -> None:
    """On the CPU, or wholly on the GPU where llama.cpp can offload to one: either way, said in numbers."""
    info = read_metadata(demo_model)
    hw = probe()
    fit = estimate_fit(info, hw)
    # SmolLM2-135M: 30 layers, 3 KV heads of 64, trained context 8192 -> default capped at 4096.
    assert fit.context == 4096
    assert fit.weights_bytes == demo_model.stat().st_size
    assert fit.kv_cache_bytes == 30 * 3 * 64 * 4096 * 2 * 2 == 90 * MiB
    assert fit.overhead_bytes == compute_buffer(49_152, 9, 576, 4096) + RUNTIME_BYTES
    assert fit.estimated_bytes == fit.weights_bytes + fit.kv_cache_bytes + fit.overhead_bytes
    assert "90.0 MiB" in fit.reason and "4096 tokens" in fit.reason
    if hw.can_offload:  # any GPU holds 300 MiB
        gpu = max(hw.gpus, key=lambda g: usable(g.vram_free))
        assert fit.verdict == FULL_GPU and fit.gpu_layers == 30
        assert "fits entirely in" in fit.reason and gpu.name in fit.reason
    else:
        assert fit.verdict == CPU_ONLY and fit.gpu_layers == 0
        assert fit.available_bytes == pytest.approx(usable(hw.ram_available), rel=0.01)
        assert "RAM available" in fit.reason
    assert Fit(**json.loads(json.dumps(fit.to_dict()))) == fit


def llama_cpu_log(model: Path, context: int) -> str:
    """llama.cpp's load log for `model` on its CPU backend, in a child process that sees no GPU (a GPU build
    would otherwise put the compute buffer on the GPU and log it under the GPU's name)."""
    program = ("import sys, llama_cpp; "
               "llama_cpp.Llama(sys.argv[1], n_ctx=int(sys.argv[2]), n_batch=512, n_gpu_layers=0, verbose=True)")
    no_gpu = {"CUDA_VISIBLE_DEVICES": "", "HIP_VISIBLE_DEVICES": "", "ROCR_VISIBLE_DEVICES": "",
              "GGML_VK_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", program, str(model), str(context)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **no_gpu})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


@pytest.mark.model
@pytest.mark.parametrize("context", [512, 8192])
def test_compute_buffer_estimate_matches_llama_cpp(context: int, demo_model: Path) -> None:
    log = llama_cpu_log(demo_model, context)
    reported = re.findall(r"CPU compute buffer size =\s*([\d.]+) MiB", log)
    kv_reported = re.findall(r"CPU KV buffer size =\s*([\d.]+) MiB", log)
    assert reported and kv_reported, "llama.cpp's log format changed"
    fit = estimate_fit(read_metadata(demo_model), probe(), context=context)
    assert fit.kv_cache_bytes / MiB == pytest.approx(float(kv_reported[0]), rel=0.01)
    compute = fit.overhead_bytes - RUNTIME_BYTES
    assert compute / MiB == pytest.approx(float(reported[0]), rel=0.06)
    assert compute >= float(reported[0]) * MiB  # an estimate that errs on the safe side


def test_a_million_tokens_will_not_fit_16_gib(demo_model: Path) -> None:
    """About 43 GB: more than 16 GiB of RAM and than 7 GiB of VRAM (not one layer fits beside its buffers).
    Described machines, so the verdict is the same on any machine the test runs on."""
    info = read_metadata(demo_model)
    kv = 30 * 3 * 64 * 1_000_000 * 2 * 2
    overhead = compute_buffer(49_152, 9, 576, 1_000_000) + RUNTIME_BYTES
    for hw in (machine(16 * GiB), machine(16 * GiB, nvidia(7 * GiB))):
        fit = estimate_fit(info, hw, context=1_000_000)
        assert fit.context == 1_000_000  # an explicit context is never capped
        assert fit.kv_cache_bytes == kv == 23_040_000_000
        assert fit.overhead_bytes == overhead
        assert fit.estimated_bytes == info.file_size + kv + overhead
        assert fit.verdict == WILL_NOT_FIT and not fit.fits and fit.gpu_layers == 0
        assert "more than" in fit.reason and "1000000 tokens" in fit.reason
    assert "not even one layer fits" in fit.reason
    # This machine's own verdict rests on the same figures.
    assert estimate_fit(info, probe(), context=1_000_000).estimated_bytes == fit.estimated_bytes


def test_small_model_on_a_gpu_goes_fully_on_it_unless_offload_is_off(demo_model: Path) -> None:
    info = read_metadata(demo_model)
    hw = machine(16 * GiB, nvidia(7 * GiB))
    fit = estimate_fit(info, hw)
    assert fit.verdict == FULL_GPU and fit.gpu_layers == 30
    assert fit.available_bytes == usable(7 * GiB)
    off = estimate_fit(info, hw, gpu_layers=0)
    assert off.verdict == CPU_ONLY and off.gpu_layers == 0 and "offload off" in off.reason
    some = estimate_fit(info, hw, gpu_layers=10)
    assert some.verdict == PARTIAL_GPU and some.gpu_layers == 10


def test_apple_unified_memory_counts_as_a_gpu_within_its_working_set(demo_model: Path) -> None:
    info = read_metadata(demo_model)
    metal = Gpu(backend="metal", name="Apple M2", vram_total=16 * GiB, vram_free=8 * GiB, shares_ram=True)
    hw = machine(8 * GiB, metal, ram_total=16 * GiB)
    fit = estimate_fit(info, hw)
    assert fit.verdict == FULL_GPU
    assert fit.available_bytes == min(usable(8 * GiB), int(16 * GiB * 2 / 3))


# --- the estimate on synthetic shapes ----------------------------------------------------------


def test_70b_on_an_8_gib_gpu_splits_layers_when_ram_holds_the_rest() -> None:
    info = llama_70b()
    fit = estimate_fit(info, machine(64 * GiB, nvidia(7 * GiB)))
    weights = 40 * GiB
    kv = 80 * 8 * 128 * 4096 * 2 * 2
    compute = compute_buffer(128_256, 64, 8192, 4096)
    per_layer = (weights + kv) / 80
    on_gpu = int((usable(7 * GiB) - compute) // per_layer)
    assert fit.kv_cache_bytes == kv == 1280 * MiB
    assert fit.estimated_bytes == weights + kv + compute + RUNTIME_BYTES
    assert fit.verdict == PARTIAL_GPU
    assert fit.gpu_layers == on_gpu == 11
    assert f"{on_gpu} of 80 layers" in fit.reason


def test_70b_will_not_fit_when_ram_cannot_hold_the_rest() -> None:
    fit = estimate_fit(llama_70b(), machine(16 * GiB, nvidia(7 * GiB)))
    assert fit.verdict == WILL_NOT_FIT and not fit.fits and fit.gpu_layers == 0
    assert "11 layers" in fit.reason  # says how far the GPU would have gone


def test_gpu_layers_zero_never_gives_a_gpu_verdict() -> None:
    big_gpu = nvidia(78 * GiB, vram_total=80 * GiB)
    for ram in (8 * GiB, 128 * GiB):
        fit = estimate_fit(llama_70b(), machine(ram, big_gpu), gpu_layers=0)
        assert fit.verdict in (CPU_ONLY, WILL_NOT_FIT) and fit.gpu_layers == 0
        assert fit.verdict == (CPU_ONLY if ram == 128 * GiB else WILL_NOT_FIT)
    assert estimate_fit(llama_70b(), machine(8 * GiB, big_gpu)).verdict == FULL_GPU


def test_default_context_is_capped_but_explicit_context_is_not() -> None:
    long_model = llama_70b(context_length=131_072)
    assert estimate_fit(long_model, machine(64 * GiB)).context == 4096
    assert estimate_fit(long_model, machine(64 * GiB), context=32_768).context == 32_768
    assert estimate_fit(llama_70b(context_length=2048), machine(64 * GiB)).context == 2048
    assert estimate_fit(llama_70b(context_length=None), machine(64 * GiB)).context == 4096


def test_a_zero_context_is_a_user_error() -> None:
    from desktop_app.errors import UserError

    with pytest.raises(UserError, match="at least 1 token"):
        estimate_fit(llama_70b(), machine(64 * GiB), context=0)


def test_cache_type_scales_the_kv_cache() -> None:
    f16 = estimate_fit(llama_70b(), machine(64 * GiB))
    q8 = estimate_fit(llama_70b(), machine(64 * GiB), cache_type_bytes=34 / 32)
    assert q8.kv_cache_bytes == int(f16.kv_cache_bytes * 34 / 32 / 2)


def test_missing_fields_fall_back_and_say_so() -> None:
    # No head size and no KV head count: head size = embedding / heads, KV heads = all heads.
    fit = estimate_fit(llama_70b(head_size=None, kv_heads=None), machine(512 * GiB))
    assert fit.kv_cache_bytes == 80 * 64 * (8192 // 64) * 4096 * 2 * 2
    assert "head size missing" in fit.reason and "no grouped-query attention" in fit.reason

    # No layer count: estimated from parameters ~ 12 x layers x embedding^2.
    no_layers = estimate_fit(llama_70b(layers=None), machine(512 * GiB))
    layers = round(70_553_706_496 / (12 * 8192**2))
    assert no_layers.kv_cache_bytes == layers * 8 * 128 * 4096 * 2 * 2
    assert f"estimated as {layers}" in no_layers.reason

    # No vocabulary size: 32000 is assumed for the logits buffer.
    no_vocab = estimate_fit(llama_70b(vocab_size=None), machine(512 * GiB), context=512)
    assert no_vocab.overhead_bytes == compute_buffer(32_000, 64, 8192, 512) + RUNTIME_BYTES
    assert "vocabulary size missing" in no_vocab.reason


def test_fit_to_dict_is_json_ready() -> None:
    fit = estimate_fit(llama_70b(), machine(64 * GiB, nvidia(7 * GiB)))
    data = json.loads(json.dumps(fit.to_dict()))
    assert Fit(**data) == fit
    assert fit.fits and data["verdict"] == PARTIAL_GPU


# --- a GPU that the installed llama.cpp cannot use -------------------------------------------------

def _llama_has_gpu_libraries() -> bool:
    """Whether the installed llama-cpp-python ships a GPU backend library (libggml-cuda, -metal, -vulkan...)."""
    from desktop_app.providers import llama_caps

    package = llama_caps._llama_package()
    names = [p.name for folder in (package / "lib", package) if folder.is_dir() for p in folder.iterdir()] \
        if package else []
    return any(re.match(r"(lib)?ggml-(cuda|metal|vulkan|hip|sycl|opencl|musa|cann)", name) for name in names)


GPU_BUILD_INSTALLED = _llama_has_gpu_libraries()  # False here: `make setup` builds for the CPU


def test_a_cpu_only_llama_build_puts_nothing_on_the_gpu() -> None:
    gpu = nvidia(7 * GiB)
    cpu_build = dataclasses.replace(machine(64 * GiB, gpu), gpu_offload=False)
    fit = estimate_fit(llama_70b(), cpu_build)
    assert fit.verdict == CPU_ONLY and fit.gpu_layers == 0
    assert fit.available_bytes == usable(64 * GiB)  # compared against RAM, not VRAM
    assert "CPU-only build" in fit.reason and 'CMAKE_ARGS="-DGGML_CUDA=on"' in fit.reason
    assert "NVIDIA GeForce RTX 4060 unused" in fit.reason and "layers" not in fit.reason
    # Even a model the GPU alone would hold runs from RAM, or does not fit when RAM is short.
    big_gpu = nvidia(78 * GiB, vram_total=80 * GiB)
    small_ram = dataclasses.replace(machine(8 * GiB, big_gpu), gpu_offload=False)
    short = estimate_fit(llama_70b(), small_ram)
    assert short.verdict == WILL_NOT_FIT and short.gpu_layers == 0 and "CPU-only build" in short.reason
    # An Apple GPU with a CPU-only build: the Metal switch.
    metal = Gpu(backend="metal", name="Apple M2", vram_total=64 * GiB, vram_free=60 * GiB, shares_ram=True)
    apple = estimate_fit(llama_70b(), dataclasses.replace(machine(60 * GiB, metal), gpu_offload=False))
    assert apple.verdict == CPU_ONLY and '"-DGGML_METAL=on"' in apple.reason


def test_an_unknown_or_gpu_build_keeps_offloading() -> None:
    for offload in (None, True):
        hw = dataclasses.replace(machine(64 * GiB, nvidia(7 * GiB)), gpu_offload=offload)
        fit = estimate_fit(llama_70b(), hw)
        assert fit.verdict == PARTIAL_GPU and fit.gpu_layers == 11 and "CPU-only" not in fit.reason
        assert hw.can_offload and not hw.cpu_only_build
    no_gpu = dataclasses.replace(machine(64 * GiB), gpu_offload=False)
    assert not no_gpu.can_offload and not no_gpu.cpu_only_build  # nothing to leave unused
    assert "CPU-only" not in estimate_fit(llama_70b(), no_gpu).reason


def test_gpu_offload_round_trips_and_older_records_read_as_unknown() -> None:
    hw = dataclasses.replace(machine(12 * GiB, nvidia(7 * GiB)), gpu_offload=False)
    assert Hardware.from_dict(json.loads(json.dumps(hw.to_dict()))) == hw
    old = hw.to_dict()
    del old["gpu_offload"]
    assert Hardware.from_dict(old).gpu_offload is None
    assert hw.summary().endswith("AVX2, NVIDIA GeForce RTX 4060 (unused: CPU-only llama.cpp build)")


def test_the_runner_offloads_no_layers_with_a_cpu_only_build(demo_model: Path) -> None:
    from desktop_app.runner.runner import Runner
    from desktop_app.settings import Settings

    def layers(offload: bool | None, **override: int) -> int:
        hw = dataclasses.replace(machine(16 * GiB, nvidia(7 * GiB)), gpu_offload=offload)
        return Runner(None, Settings(gpu_layers=-1), hardware=hw).spec_for(demo_model, **override).n_gpu_layers

    assert layers(False) == 0 and layers(False, gpu_layers=12) == 0
    assert layers(None) == -1 and layers(True, gpu_layers=12) == 12


def test_models_inspect_gives_the_cpu_verdict_and_the_way_to_a_gpu_build(demo_model, monkeypatch, capsys) -> None:
    from desktop_app import cli

    hw = dataclasses.replace(machine(16 * GiB, nvidia(7 * GiB)), gpu_offload=False)
    monkeypatch.setattr(hardware_module, "probe", lambda: hw)
    assert cli.main(["models", "inspect", str(demo_model)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^fit +CPU: .*CPU-only build", out, re.M), out
    assert "The installed llama-cpp-python was built for the CPU only" in out
    assert 'CMAKE_ARGS="-DGGML_CUDA=on"' in out and "--no-deps" in out and "llama-cpp-python==" in out
    assert cli.main(["models", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed and all(e["fit"]["gpu_layers"] == 0 for e in listed if "fit" in e)


def test_llama_capabilities_are_asked_once_then_read_from_the_cache(monkeypatch) -> None:
    from desktop_app import paths
    from desktop_app.providers import llama_caps

    monkeypatch.setattr(llama_caps, "_cached", None)
    caps = llama_caps.capabilities()  # a real llama.cpp, in a throwaway process
    assert not caps.error
    assert caps.gpu_offload is GPU_BUILD_INSTALLED
    assert "chatml" in caps.chat_templates and "llama3" in caps.chat_templates
    assert caps.version == llama_caps.installed_version("llama-cpp-python")
    cached = list(paths.cache_dir().glob("llama-capabilities-*.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text())["gpu_offload"] is GPU_BUILD_INSTALLED

    def no_process(version: str):
        raise AssertionError("asked llama.cpp again")

    monkeypatch.setattr(llama_caps, "_ask", no_process)
    assert llama_caps.capabilities() == caps  # from memory
    monkeypatch.setattr(llama_caps, "_cached", None)
    assert llama_caps.capabilities() == caps  # from the file, as a new app start would


def test_a_rebuilt_llama_cpp_is_asked_again(tmp_path, monkeypatch) -> None:
    """Reinstalling the same version with CMAKE_ARGS changes its libraries, so the cached answer is stale."""
    from desktop_app.providers import llama_caps

    package = tmp_path / "llama_cpp"
    (package / "lib").mkdir(parents=True)
    (package / "lib" / "libggml-cpu.so").write_bytes(b"cpu")
    monkeypatch.setattr(llama_caps, "_llama_package", lambda: package)
    monkeypatch.setattr(llama_caps, "_cached", None)
    asked: list[bool] = []

    def ask(version: str) -> llama_caps.LlamaCapabilities:
        asked.append(len(asked) > 0)
        return llama_caps.LlamaCapabilities(version, asked[-1], ("chatml",))

    monkeypatch.setattr(llama_caps, "_ask", ask)
    assert llama_caps.capabilities().gpu_offload is False
    assert llama_caps.capabilities().gpu_offload is False and len(asked) == 1
    (package / "lib" / "libggml-cuda.so").write_bytes(b"cuda")
    assert llama_caps.capabilities().gpu_offload is True and len(asked) == 2


def test_a_failed_question_is_not_cached_and_reads_as_unknown(monkeypatch) -> None:
    from desktop_app import paths
    from desktop_app.providers import llama_caps

    monkeypatch.setattr(llama_caps, "_cached", None)
    monkeypatch.setattr(llama_caps, "build_id", lambda version: "broken-build")
    monkeypatch.setattr(llama_caps, "_ask", lambda version: llama_caps.LlamaCapabilities(
        version, False, (), error="llama.cpp could not be asked: its process exited with code 1"))
    monkeypatch.setattr(hardware_module, "_nvidia_gpus", lambda: [nvidia(7 * GiB)])
    hw = probe()
    assert hw.gpu_offload is None and hw.can_offload  # unknown: today's behaviour, not a false "CPU only"
    assert not list(paths.cache_dir().glob("llama-capabilities-*.json"))


def test_probe_asks_llama_cpp_when_it_finds_a_gpu(monkeypatch) -> None:
    here = probe()
    # No GPU: nothing to ask llama.cpp. A GPU: llama.cpp's own answer for this build.
    assert here.gpu_offload is (GPU_BUILD_INSTALLED if here.gpus else None)
    monkeypatch.setattr(hardware_module, "_nvidia_gpus", lambda: [nvidia(7 * GiB)])
    hw = probe()  # llama_caps' real answer for this machine's llama.cpp
    assert hw.gpu_offload is GPU_BUILD_INSTALLED
    assert hw.cpu_only_build is not GPU_BUILD_INSTALLED
    assert ("(unused: CPU-only llama.cpp build)" in hw.summary()) is not GPU_BUILD_INSTALLED
