"""Tests for finding the GGUF models a user already has, on fake app folders under a fake home."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from desktop_app.models.discovery import (
    SOURCES,
    DiscoveredModel,
    SearchRoot,
    default_roots,
    discover,
)

GGUF_BYTES = b"GGUF" + (3).to_bytes(4, "little") + bytes(16)
MAIN_COMMIT = "a" * 40
OLD_COMMIT = "b" * 40


def write_gguf(path: Path, extra: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(GGUF_BYTES + extra)
    return path


def write_ollama_model(
    models_dir: Path,
    manifest_parts: tuple[str, str, str, str],
    blob_bytes: bytes = GGUF_BYTES,
    media_type: str = "application/vnd.ollama.image.model",
) -> Path:
    """A manifest plus its blob, laid out as Ollama stores them; returns the model blob."""
    blob_hex = f"{abs(hash((manifest_parts, blob_bytes))):064x}"[-64:]
    blob = models_dir / "blobs" / f"sha256-{blob_hex}"
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(blob_bytes)
    projector = models_dir / "blobs" / f"sha256-{'e' * 64}"
    projector.write_bytes(GGUF_BYTES)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:" + "c" * 64},
        "layers": [
            {"mediaType": "application/vnd.ollama.image.projector", "digest": "sha256:" + "e" * 64, "size": 24},
            {"mediaType": media_type, "digest": f"sha256:{blob_hex}", "size": len(blob_bytes)},
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "d" * 64, "size": 10},
        ],
    }
    manifest_path = models_dir.joinpath("manifests", *manifest_parts)
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest))
    return blob


def write_hf_file(hub: Path, repo_id: str, commit: str, relative: str, content: bytes = GGUF_BYTES) -> Path:
    """A snapshot file as huggingface_hub writes it: a relative symlink into blobs/."""
    repo_dir = hub / ("models--" + repo_id.replace("/", "--"))
    blob = repo_dir / "blobs" / f"{abs(hash((commit, relative))):064x}"[-64:]
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(content)
    link = repo_dir / "snapshots" / commit / relative
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
    return link


def set_hf_ref(hub: Path, repo_id: str, branch: str, commit: str) -> None:
    ref = hub / ("models--" + repo_id.replace("/", "--")) / "refs" / branch
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit)


def run_discover(home: Path, extra_folders: tuple[Path, ...] = ()) -> list[DiscoveredModel]:
    return discover(
        extra_folders,
        roots=default_roots(home=home, env={}, system="Linux"),
        project_dir=home / "project" / "local_models",
        user_dir=home / "modelscout" / "models",
    )


def summary(models: list[DiscoveredModel]) -> list[tuple[str, str]]:
    return [(m.source, m.label) for m in models]


# --- where each app keeps its models ---------------------------------------------------------


def test_default_roots_on_linux_stay_inside_the_given_home(tmp_path: Path) -> None:
    roots = default_roots(home=tmp_path, env={}, system="Linux")
    by_source = {(r.source, r.path) for r in roots}
    assert ("lmstudio", tmp_path / ".lmstudio" / "models") in by_source
    assert ("lmstudio", tmp_path / ".cache" / "lm-studio" / "models") in by_source
    assert ("ollama", tmp_path / ".ollama" / "models") in by_source
    assert ("gpt4all", tmp_path / ".local" / "share" / "nomic.ai" / "GPT4All") in by_source
    assert ("gpt4all", tmp_path / ".cache" / "gpt4all") in by_source
    assert ("huggingface", tmp_path / ".cache" / "huggingface" / "hub") in by_source
    assert ("llama.cpp", tmp_path / ".cache" / "llama.cpp") in by_source
    # A sandboxed home leaves out system-wide folders such as Ollama's service install.
    assert all(r.path.is_relative_to(tmp_path) for r in roots)
    assert {r.source for r in roots} <= set(SOURCES)


def test_default_roots_can_include_the_ollama_service_folder(tmp_path: Path) -> None:
    service_store = SearchRoot("ollama", Path("/usr/share/ollama/.ollama/models"))
    assert service_store in default_roots(home=tmp_path, env={}, system="Linux", include_system_dirs=True)
    assert service_store not in default_roots(home=tmp_path, env={}, system="Darwin", include_system_dirs=True)
    # OLLAMA_MODELS replaces every default, the service's included.
    only = default_roots(home=tmp_path, env={"OLLAMA_MODELS": "/srv/ollama"}, system="Linux", include_system_dirs=True)
    assert [r.path for r in only if r.source == "ollama"] == [Path("/srv/ollama")]


def test_default_roots_on_macos_and_windows(tmp_path: Path) -> None:
    mac = default_roots(home=tmp_path, env={}, system="Darwin")
    assert SearchRoot("llama.cpp", tmp_path / "Library" / "Caches" / "llama.cpp") in mac
    assert SearchRoot("gpt4all", tmp_path / "Library" / "Application Support" / "nomic.ai" / "GPT4All") in mac
    assert SearchRoot("huggingface", tmp_path / ".cache" / "huggingface" / "hub") in mac

    local = tmp_path / "AppData" / "Local"
    windows = default_roots(home=tmp_path, env={"LOCALAPPDATA": str(local)}, system="Windows")
    assert SearchRoot("llama.cpp", local / "llama.cpp") in windows
    assert SearchRoot("gpt4all", local / "nomic.ai" / "GPT4All") in windows
    assert SearchRoot("ollama", tmp_path / ".ollama" / "models") in windows


def test_environment_variables_override_default_folders(tmp_path: Path) -> None:
    env = {
        "OLLAMA_MODELS": str(tmp_path / "ollama-store"),
        "HF_HOME": str(tmp_path / "hf-home"),
        "LLAMA_CACHE": str(tmp_path / "llama-cache"),
    }
    roots = default_roots(home=tmp_path, env=env, system="Linux")
    assert [r.path for r in roots if r.source == "ollama"] == [tmp_path / "ollama-store"]
    assert [r.path for r in roots if r.source == "huggingface"] == [tmp_path / "hf-home" / "hub"]
    assert [r.path for r in roots if r.source == "llama.cpp"] == [tmp_path / "llama-cache"]

    env["HF_HUB_CACHE"] = str(tmp_path / "hub-cache")  # wins over HF_HOME, as in huggingface_hub
    roots = default_roots(home=tmp_path, env=env, system="Linux")
    assert [r.path for r in roots if r.source == "huggingface"] == [tmp_path / "hub-cache"]

    roots = default_roots(home=tmp_path, env={"XDG_CACHE_HOME": str(tmp_path / "xdg")}, system="Linux")
    assert SearchRoot("huggingface", tmp_path / "xdg" / "huggingface" / "hub") in roots
    assert SearchRoot("llama.cpp", tmp_path / "xdg" / "llama.cpp") in roots


def test_lmstudio_models_directory_setting_and_home_pointer_are_honoured(tmp_path: Path) -> None:
    lmstudio_home = tmp_path / "elsewhere" / ".lmstudio"
    lmstudio_home.mkdir(parents=True)
    (tmp_path / ".lmstudio-home-pointer").write_text(str(lmstudio_home) + "\n")
    (lmstudio_home / "settings.json").write_text(json.dumps({"downloadsFolder": str(tmp_path / "big-disk" / "models")}))
    write_gguf(tmp_path / "big-disk" / "models" / "lmstudio-community" / "Qwen-GGUF" / "qwen-q4.gguf")

    roots = default_roots(home=tmp_path, env={}, system="Linux")
    lmstudio = [r.path for r in roots if r.source == "lmstudio"]
    assert lmstudio[:2] == [tmp_path / "big-disk" / "models", lmstudio_home / "models"]
    assert summary(run_discover(tmp_path)) == [("lmstudio", "qwen-q4.gguf")]


def test_gpt4all_model_path_setting_is_honoured_on_linux(tmp_path: Path) -> None:
    ini = tmp_path / ".config" / "nomic.ai" / "GPT4All.ini"
    ini.parent.mkdir(parents=True)
    ini.write_text(f"[General]\nmodelPath={tmp_path / 'gpt-models'}/\nthreadCount=4\n")
    roots = default_roots(home=tmp_path, env={}, system="Linux")
    assert [r.path for r in roots if r.source == "gpt4all"][0] == tmp_path / "gpt-models"


# --- one realistic home with every source ----------------------------------------------------


def build_fake_home(home: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    files["project"] = write_gguf(home / "project" / "local_models" / "SmolLM2-135M-Instruct.Q4_1.gguf")
    files["user"] = write_gguf(home / "modelscout" / "models" / "SmolLM2-135M-Instruct.Q8_0.gguf")
    files["folder"] = write_gguf(home / "Downloads" / "gguf" / "phi-3-mini-Q4_K_M.gguf")

    lms = home / ".lmstudio" / "models"
    files["lmstudio"] = write_gguf(lms / "lmstudio-community" / "gemma-2-2b-it-GGUF" / "gemma-2-2b-it-Q4_K_M.gguf")
    write_gguf(lms / "lmstudio-community" / "gemma-2-2b-it-GGUF" / "mmproj-model-f16.gguf")
    (lms / "lmstudio-community" / "gemma-2-2b-it-GGUF" / "gemma-2-2b-it-Q8_0.gguf.part").write_bytes(GGUF_BYTES)
    write_gguf(home / ".cache" / "lm-studio" / "models" / "TheBloke" / "Mistral-GGUF" / "mistral-7b.Q4_0.gguf")

    ollama = home / ".ollama" / "models"
    files["ollama"] = write_ollama_model(ollama, ("registry.ollama.ai", "library", "llama3.2", "3b"))
    write_ollama_model(ollama, ("registry.ollama.ai", "mannix", "qwen2", "7b"), blob_bytes=GGUF_BYTES + b"q")
    write_ollama_model(ollama, ("hf.co", "bartowski", "Llama-3.2-1B-Instruct-GGUF", "Q4_K_M"), GGUF_BYTES + b"h")

    gpt4all = home / ".local" / "share" / "nomic.ai" / "GPT4All"
    files["gpt4all"] = write_gguf(gpt4all / "Meta-Llama-3-8B-Instruct.Q4_0.gguf")
    write_gguf(gpt4all / "incomplete-Nous-Hermes-2-Mistral-7B-DPO.Q4_0.gguf")

    hub = home / ".cache" / "huggingface" / "hub"
    write_hf_file(hub, "bartowski/Qwen2.5-0.5B-Instruct-GGUF", OLD_COMMIT, "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf")
    files["huggingface"] = write_hf_file(
        hub, "bartowski/Qwen2.5-0.5B-Instruct-GGUF", MAIN_COMMIT, "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf", GGUF_BYTES + b"2"
    )
    set_hf_ref(hub, "bartowski/Qwen2.5-0.5B-Instruct-GGUF", "main", MAIN_COMMIT)
    for index in (1, 2, 3):
        write_hf_file(hub, "unsloth/big-GGUF", MAIN_COMMIT, f"Q8_0/big-Q8_0-{index:05d}-of-00003.gguf")
    set_hf_ref(hub, "unsloth/big-GGUF", "main", MAIN_COMMIT)
    write_hf_file(hub, "unsloth/big-GGUF", MAIN_COMMIT, "README.md", b"# readme")

    llama_cache = home / ".cache" / "llama.cpp"
    files["llama.cpp"] = write_gguf(llama_cache / "ggml-org_gemma-3-1b-it-GGUF_gemma-3-1b-it-Q4_K_M.gguf")
    (llama_cache / "ggml-org_gemma-3-1b-it-GGUF_gemma-3-1b-it-Q4_K_M.gguf.json").write_text("{}")
    write_gguf(llama_cache / "ggml-org_tiny-GGUF_tiny-Q8_0.gguf.downloadInProgress")
    return files


def test_every_source_is_found_labelled_and_sorted(tmp_path: Path) -> None:
    files = build_fake_home(tmp_path)
    models = run_discover(tmp_path, extra_folders=(tmp_path / "Downloads",))
    assert summary(models) == [
        ("project", "SmolLM2-135M-Instruct.Q4_1.gguf"),
        ("user", "SmolLM2-135M-Instruct.Q8_0.gguf"),
        ("folder", "phi-3-mini-Q4_K_M.gguf"),
        ("lmstudio", "gemma-2-2b-it-Q4_K_M.gguf"),
        ("lmstudio", "mistral-7b.Q4_0.gguf"),
        ("ollama", "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"),
        ("ollama", "llama3.2:3b"),
        ("ollama", "mannix/qwen2:7b"),
        ("gpt4all", "Meta-Llama-3-8B-Instruct.Q4_0.gguf"),
        ("huggingface", "bartowski/Qwen2.5-0.5B-Instruct-GGUF/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf"),
        ("huggingface", "unsloth/big-GGUF/Q8_0/big-Q8_0.gguf"),
        ("llama.cpp", "ggml-org_gemma-3-1b-it-GGUF_gemma-3-1b-it-Q4_K_M.gguf"),
    ]
    by_label = {m.label: m for m in models}
    for source, path in files.items():
        match = [m for m in models if m.source == source and m.path == path]
        assert len(match) == 1, source
    assert all(m.path.is_absolute() for m in models)
    assert by_label["llama3.2:3b"].size_bytes == len(GGUF_BYTES)
    # The split model is offered as its first shard, beside its siblings.
    big = by_label["unsloth/big-GGUF/Q8_0/big-Q8_0.gguf"]
    assert big.path.name == "big-Q8_0-00001-of-00003.gguf"


def test_missing_folders_give_no_entries_and_no_error(tmp_path: Path) -> None:
    nowhere = tmp_path / "does-not-exist"
    models = discover(
        (nowhere / "added", tmp_path / "a-file-not-a-folder.txt"),
        roots=[SearchRoot(source, nowhere / source) for source in SOURCES],
        project_dir=nowhere / "project",
        user_dir=nowhere / "user",
    )
    assert models == []


def test_unknown_source_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown model source 'koboldcpp'"):
        discover(roots=[SearchRoot("koboldcpp", tmp_path)], project_dir=tmp_path, user_dir=tmp_path)


# --- Ollama ------------------------------------------------------------------------------------


def test_ollama_skips_missing_blobs_and_broken_manifests_and_lists_non_gguf_blobs(tmp_path: Path) -> None:
    store = tmp_path / "store"
    good = write_ollama_model(store, ("registry.ollama.ai", "library", "smollm2", "135m"))
    # Listed, so the library can say why it cannot be used (its metadata read fails).
    other = write_ollama_model(store, ("registry.ollama.ai", "library", "safetensors-thing", "latest"),
                               b"PK\x03\x04zip")
    missing = write_ollama_model(store, ("registry.ollama.ai", "library", "gone", "latest"), GGUF_BYTES + b"g")
    missing.unlink()
    write_ollama_model(store, ("registry.ollama.ai", "library", "adapter-only", "latest"),
                       GGUF_BYTES + b"a", media_type="application/vnd.ollama.image.adapter")
    broken = store / "manifests" / "registry.ollama.ai" / "library" / "broken" / "latest"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")

    models = discover(roots=[SearchRoot("ollama", store)], project_dir=tmp_path / "p", user_dir=tmp_path / "u")
    assert [(m.label, m.path) for m in models] == [("safetensors-thing:latest", other), ("smollm2:135m", good)]


def test_ollama_tags_sharing_one_blob_are_listed_once(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_ollama_model(store, ("registry.ollama.ai", "library", "llama3.2", "3b"))
    shared = store / "manifests" / "registry.ollama.ai" / "library" / "llama3.2" / "latest"
    shared.write_text((shared.parent / "3b").read_text())
    models = discover(roots=[SearchRoot("ollama", store)], project_dir=tmp_path / "p", user_dir=tmp_path / "u")
    assert summary(models) == [("ollama", "llama3.2:3b")]


def test_an_added_folder_that_is_an_ollama_store_is_read_through_its_manifests(tmp_path: Path) -> None:
    store = tmp_path / "external-ollama"
    write_ollama_model(store, ("registry.ollama.ai", "library", "qwen3", "0.6b"))
    models = discover((store,), roots=[], project_dir=tmp_path / "p", user_dir=tmp_path / "u")
    assert summary(models) == [("folder", "qwen3:0.6b")]


# --- Hugging Face cache --------------------------------------------------------------------------


def test_hf_without_main_ref_keeps_the_newest_revision(tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    old = write_hf_file(hub, "org/repo-GGUF", OLD_COMMIT, "m.gguf")
    new = write_hf_file(hub, "org/repo-GGUF", MAIN_COMMIT, "m.gguf", GGUF_BYTES + b"new")
    os.utime(old, (time.time() - 3600,) * 2, follow_symlinks=False)
    models = discover(roots=[SearchRoot("huggingface", hub)], project_dir=tmp_path / "p", user_dir=tmp_path / "u")
    assert [(m.label, m.path) for m in models] == [("org/repo-GGUF/m.gguf", new)]

    # Once refs/main names the older revision, that one wins despite its age.
    set_hf_ref(hub, "org/repo-GGUF", "main", OLD_COMMIT)
    models = discover(roots=[SearchRoot("huggingface", hub)], project_dir=tmp_path / "p", user_dir=tmp_path / "u")
    assert [m.path for m in models] == [old]


def test_hf_dangling_snapshot_links_are_skipped_and_lfs_pointers_listed(tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    dangling = write_hf_file(hub, "org/a-GGUF", MAIN_COMMIT, "deleted.gguf")
    dangling.resolve().unlink()
    pointer = write_hf_file(hub, "org/a-GGUF", MAIN_COMMIT, "pointer.gguf",
                            b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n")
    kept = write_hf_file(hub, "org/a-GGUF", MAIN_COMMIT, "real.gguf")
    models = discover(roots=[SearchRoot("huggingface", hub)], project_dir=tmp_path / "p", user_dir=tmp_path / "u")
    assert [m.path for m in models] == [pointer, kept]  # the pointer is listed; reading it says what it is


def test_llama_cpp_cache_in_the_new_hf_layout_is_read(tmp_path: Path) -> None:
    cache = tmp_path / "llama-cache"
    write_gguf(cache / "old_flat_file-Q4_0.gguf")
    write_hf_file(cache, "ggml-org/gemma-3-1b-it-GGUF", MAIN_COMMIT, "gemma-3-1b-it-Q4_K_M.gguf")
    set_hf_ref(cache, "ggml-org/gemma-3-1b-it-GGUF", "main", MAIN_COMMIT)
    models = discover(roots=[SearchRoot("llama.cpp", cache)], project_dir=tmp_path / "p", user_dir=tmp_path / "u")
    assert summary(models) == [
        ("llama.cpp", "ggml-org/gemma-3-1b-it-GGUF/gemma-3-1b-it-Q4_K_M.gguf"),
        ("llama.cpp", "old_flat_file-Q4_0.gguf"),
    ]


# --- file rules ----------------------------------------------------------------------------------


def test_split_projector_partial_and_hidden_files_are_filtered_and_fake_ones_listed(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    for index in (1, 2, 3):
        write_gguf(folder / f"Llama-70B-Q4_K_M-{index:05d}-of-00003.gguf")
    write_gguf(folder / "Half-Downloaded-Q4_K_M-00001-of-00002.gguf")  # its second shard is missing
    write_gguf(folder / "mmproj-Qwen2-VL-f16.gguf")
    write_gguf(folder / "Qwen2-VL-7B-mmproj-f16.gguf")
    write_gguf(folder / "qwen.gguf.part")
    write_gguf(folder / "qwen.gguf.download")
    write_gguf(folder / "qwen.gguf.incomplete")
    write_gguf(folder / ".hidden.gguf")
    write_gguf(folder / ".cache" / "inside-hidden-folder.gguf")
    (folder / "not-really.gguf").write_bytes(b"\x00\x00\x00\x00junk")
    (folder / "empty.gguf").write_bytes(b"")
    write_gguf(folder / "UPPER.GGUF")
    write_gguf(folder / "nested" / "deeper" / "kept.gguf")

    models = discover((folder,), roots=[], project_dir=tmp_path / "p", user_dir=tmp_path / "u")
    assert summary(models) == [
        ("folder", "empty.gguf"),
        ("folder", "kept.gguf"),
        ("folder", "Llama-70B-Q4_K_M.gguf"),
        ("folder", "not-really.gguf"),
        ("folder", "UPPER.GGUF"),
    ]
    assert models[2].path == folder / "Llama-70B-Q4_K_M-00001-of-00003.gguf"


def test_a_single_file_can_be_added_as_a_folder(tmp_path: Path) -> None:
    model = write_gguf(tmp_path / "one.gguf")
    assert summary(discover((model,), roots=[], project_dir=tmp_path / "p", user_dir=tmp_path / "u")) == [
        ("folder", "one.gguf")
    ]


def test_same_file_through_two_sources_is_listed_once_under_the_first(tmp_path: Path) -> None:
    user_dir = tmp_path / "user"
    original = write_gguf(user_dir / "shared-Q4_0.gguf")
    lms = tmp_path / "lms"
    (lms / "me" / "repo").mkdir(parents=True)
    (lms / "me" / "repo" / "shared-Q4_0.gguf").symlink_to(original)
    os.link(original, lms / "me" / "repo" / "hardlinked-Q4_0.gguf")  # `lms import --hard-link`
    only_in_lms = write_gguf(lms / "me" / "repo" / "other.gguf")

    models = discover(
        (user_dir, lms),  # added again as folders: still the "user" entry wins
        roots=[SearchRoot("lmstudio", lms)],
        project_dir=tmp_path / "p",
        user_dir=user_dir,
    )
    assert [(m.source, m.path) for m in models] == [("user", original), ("folder", only_in_lms)]


@pytest.mark.timeout(20)  # a walker that follows links blindly would not finish
def test_symlink_loops_are_walked_once(tmp_path: Path) -> None:
    folder = tmp_path / "loop"
    write_gguf(folder / "a" / "model.gguf")
    # Eight links back to the top: a walker that followed them blindly would visit 8**depth folders.
    for index in range(8):
        (folder / f"back-{index}").symlink_to(folder)
    (folder / "a" / "self").symlink_to(folder / "a")
    (folder / "dangling").symlink_to(tmp_path / "nowhere")
    (folder / "ping").symlink_to(folder / "pong")
    (folder / "pong").symlink_to(folder / "ping")
    models = discover((folder,), roots=[], project_dir=tmp_path / "p", user_dir=tmp_path / "u")
    assert summary(models) == [("folder", "model.gguf")]


def discover_as_unprivileged_user(folders: tuple[Path, ...], scratch: Path) -> list[Path]:
    """Run discovery in a forked child that has dropped root, so chmod 000 really locks it out."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            found = discover(folders, roots=[], project_dir=scratch / "p", user_dir=scratch / "u")
            os.write(write_end, json.dumps([str(m.path) for m in found]).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        output = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "discovery crashed in the unprivileged child"
    return [Path(p) for p in json.loads(output)]


def test_unreadable_folders_are_skipped_and_unreadable_files_listed(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # pytest's tmp_path sits in a folder only root may enter; the child needs its own.
        scratch = Path(tempfile.mkdtemp(prefix="discovery-"))
        scratch.chmod(0o755)
    else:
        scratch = tmp_path
    folder = scratch / "models"
    kept = write_gguf(folder / "readable" / "ok.gguf")
    locked = folder / "locked"
    write_gguf(locked / "secret.gguf")
    locked_file = write_gguf(folder / "readable" / "locked-file.gguf")
    locked.chmod(0)
    locked_file.chmod(0)
    try:
        if os.geteuid() == 0:
            found = discover_as_unprivileged_user((folder, locked), scratch)
        else:
            models = discover((folder, locked), roots=[], project_dir=scratch / "p", user_dir=scratch / "u")
            found = [m.path for m in models]
        assert found == [locked_file, kept]  # the file is listed: reading it then says "permission denied"
    finally:
        locked.chmod(0o755)
        if scratch != tmp_path:
            shutil.rmtree(scratch)


def test_discovery_of_a_large_tree_finds_every_model(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for publisher in range(10):
        for repo in range(10):
            repo_dir = folder / f"pub{publisher}" / f"repo{repo}"
            write_gguf(repo_dir / "model-Q4_K_M.gguf")
            for index in range(5):
                (repo_dir / f"notes-{index}.txt").write_text("x")
    models = discover((folder,), roots=[], project_dir=tmp_path / "p", user_dir=tmp_path / "u")
    assert len(models) == 100
